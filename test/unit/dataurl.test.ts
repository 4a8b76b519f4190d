import { describe, expect, it } from 'vitest';
import { decodeBase64, IMAGE_URL_TYPE, parseImageInput, sniffImageType, toUpstreamImage } from '../../shared/dataurl.js';
const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const png = Buffer.from(PNG.split(',')[1]!, 'base64');
// A PNG whose base64 holds `+` and `/` (so its URL-safe form differs) and needs padding.
const odd = Buffer.concat([png, Buffer.from([0xfb, 0xff, 0xbf, 0xfe])]);
const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01]);

const ok = (input: string) => {
  const r = parseImageInput(input);
  if (!r.ok) throw new Error(`refused: ${r.reason}`);
  return r.blob;
};
const reason = (input: string) => {
  const r = parseImageInput(input);
  if (r.ok) throw new Error(`accepted as ${r.blob.type}`);
  return r.reason;
};

describe('image inputs (midjourney-proxy forms)', () => {
  it('reads the canonical data URL', () => {
    expect(ok(PNG)).toEqual({ type: 'image/png', data: png });
    expect(toUpstreamImage(ok(PNG))).toBe(PNG);
  });

  it('reads parameters before ;base64 and drops them upstream', () => {
    const b = ok(`data:image/jpeg;charset=utf-8;base64,${jpeg.toString('base64')}`);
    expect(b).toEqual({ type: 'image/jpeg', data: jpeg });
    expect(toUpstreamImage(b)).toBe(`data:image/jpeg;base64,${jpeg.toString('base64')}`);
    expect(ok(`data:image/png;name=cat.png;base64,${png.toString('base64')}`).data).toEqual(png);
  });

  it('reads an upper-case scheme and type', () => {
    expect(ok(`DATA:IMAGE/PNG;BASE64,${png.toString('base64')}`)).toEqual({ type: 'image/png', data: png });
  });

  it('types bare base64 by its bytes', () => {
    expect(ok(png.toString('base64'))).toEqual({ type: 'image/png', data: png });
    expect(ok(jpeg.toString('base64'))).toEqual({ type: 'image/jpeg', data: jpeg });
  });

  it('removes line wrapping (CR, LF, TAB) from the base64', () => {
    const wrapped = odd.toString('base64').replace(/(.{16})/g, '$1\r\n');
    expect(ok(`data:image/png;base64,${wrapped}`).data).toEqual(odd);
    expect(ok(`data:image/png;base64,${odd.toString('base64').replace(/(.{8})/g, '$1\n\t')}`).data).toEqual(odd);
    expect(ok(`  ${odd.toString('base64').replace(/(.{76})/g, '$1\n')}\n`).data).toEqual(odd);
  });

  it('reads spaces inside the base64 as the + a form decode turned them into', () => {
    const b64 = odd.toString('base64');
    expect(b64).toContain('+');
    const mangled = b64.replaceAll('+', ' ');
    expect(ok(`data:image/png;base64,${mangled}`).data).toEqual(odd);
    expect(ok(mangled).data).toEqual(odd);
    // A + at the very end, the last character of the input, is no exception.
    const tail = Buffer.concat([png, Buffer.from([0xff, 0xfe])]);
    expect(tail.toString('base64')).toMatch(/\+$/);
    expect(ok(`data:image/png;base64,${tail.toString('base64').replaceAll('+', ' ')}`).data).toEqual(tail);
  });

  it('takes a space before the data or after the padding as layout', () => {
    expect(ok(`data:image/png;base64, ${odd.toString('base64')}`).data).toEqual(odd);
    expect(ok(`data:image/png;base64,${odd.toString('base64')}  \n`).data).toEqual(odd);
  });

  it('reads percent-encoded +, / and = of an URL-encoded data URL', () => {
    const encoded = encodeURIComponent(odd.toString('base64'));
    expect(encoded).toMatch(/%2B/);
    expect(ok(`data:image/png;base64,${encoded}`).data).toEqual(odd);
    expect(ok(`data:image/png;base64,${encoded.replace(/%2B/g, '%2b').replace(/%2F/g, '%2f')}`).data).toEqual(odd);
  });

  it('reads the URL-safe alphabet and missing padding', () => {
    const urlSafe = odd.toString('base64url');
    expect(urlSafe).toMatch(/[-_]/);
    expect(ok(`data:image/png;base64,${urlSafe}`).data).toEqual(odd);
    const unpadded = odd.toString('base64').replace(/=+$/, '');
    expect(unpadded.length % 4).not.toBe(0);
    expect(ok(`data:image/png;base64,${unpadded}`).data).toEqual(odd);
    expect(toUpstreamImage(ok(urlSafe))).toBe(`data:image/png;base64,${odd.toString('base64')}`);
  });

  it('types a generic or missing declared type by the bytes', () => {
    expect(ok(`data:application/octet-stream;base64,${png.toString('base64')}`).type).toBe('image/png');
    expect(ok(`data:;base64,${jpeg.toString('base64')}`).type).toBe('image/jpeg');
  });

  it('keeps an http(s) URL as a URL, relayed unchanged', () => {
    const url = 'https://cdn.example.com/a%20cat.png?x=1&y=2';
    const b = ok(url);
    expect(b.type).toBe(IMAGE_URL_TYPE);
    expect(toUpstreamImage(b)).toBe(url);
    expect(toUpstreamImage(ok('HTTP://example.com/cat.webp'))).toBe('HTTP://example.com/cat.webp');
  });

  it.each([
    ['garbage', '@@@ not base64 @@@', /not valid base64/],
    ['a data URL with broken base64', 'data:image/png;base64,@@@', /not valid base64/],
    ['an empty data URL', 'data:image/png;base64,', /empty/],
    ['base64 that is not an image', Buffer.from('hello').toString('base64'), /not an image/],
    ['a text data URL', `data:text/plain;base64,${Buffer.from('hello').toString('base64')}`, /not an image \(its type is text\/plain\)/],
    ['a data URL that is not base64', 'data:image/svg+xml,%3Csvg%3E', /must be a base64 data URL/],
    ['a broken URL', 'https://', /not a valid http\(s\) URL/],
    ['a browser blob: URL', 'blob:https://example.com/4f1c', /blob: URL/],
    ['white space only', '   ', /empty/],
    ['base64 whose spaces cannot have been + (no base64 has that length)', `${png.toString('base64').slice(0, 8)} ${png.toString('base64').slice(8, 16)}`, /not valid base64/],
    ['other white space inside the base64', `data:image/png;base64,${png.toString('base64').slice(0, 8)}\u00a0${png.toString('base64').slice(8)}`, /not valid base64/],
  ])('refuses %s', (_what, input, why) => {
    expect(reason(input)).toMatch(why);
  });

  it('recognises the common image signatures', () => {
    const riff = (tag: string) => Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from(tag)]);
    const ftyp = (brand: string) => Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from(`ftyp${brand}`)]);
    expect(sniffImageType(Buffer.from('GIF89a...'))).toBe('image/gif');
    expect(sniffImageType(riff('WEBP'))).toBe('image/webp');
    expect(sniffImageType(riff('WAVE'))).toBeNull();
    expect(sniffImageType(ftyp('avif'))).toBe('image/avif');
    expect(sniffImageType(ftyp('heic'))).toBe('image/heic');
    expect(sniffImageType(ftyp('isom'))).toBeNull();
  });

  it('decodes base64 leniently but refuses what is not base64', () => {
    expect(decodeBase64('aGk')).toEqual(Buffer.from('hi'));
    expect(decodeBase64('a')).toBeNull();
    expect(decodeBase64('aG=k')).toBeNull();
  });
});
