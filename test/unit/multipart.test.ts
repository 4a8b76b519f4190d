import { describe, expect, it } from 'vitest';
import { formBoundary, MultipartError, parseMultipart } from '../../shared/multipart.js';

/** The bytes and content type undici (fetch, the openai SDK) sends for a FormData. */
async function encode(form: FormData): Promise<{ body: Buffer; type: string }> {
  const res = new Response(form);
  return { body: Buffer.from(await res.arrayBuffer()), type: res.headers.get('content-type')! };
}

const view = (parts: ReturnType<typeof parseMultipart>) => parts.map((p) => [p.name, p.filename, p.contentType, p.data.toString('latin1')]);

describe('multipart/form-data reader', () => {
  it('reads every part in order: repeated names, name[] arrays, file names, full content types', async () => {
    const form = new FormData();
    form.append('model', 'gpt-image-1');
    form.append('image[]', new Blob([Buffer.from('PNG-A')], { type: 'image/png' }), 'a.png');
    form.append('image[]', new Blob([Buffer.from('PNG-B')], { type: 'image/png' }), 'b.png');
    form.append('image', new Blob([Buffer.from('one')], { type: 'image/png' }), 'one.png');
    form.append('image', new Blob([Buffer.from('two')], { type: 'image/png' }), 'two.png');
    form.append('file', new Blob([Buffer.from('OPUS')], { type: 'audio/webm;codecs=opus' }), 'voice.webm');
    form.append('include[]', 'logprobs');
    form.append('prompt', 'ünïcode\r\nand lines');
    const { body, type } = await encode(form);
    expect(view(parseMultipart(body, type))).toEqual([
      ['model', null, null, 'gpt-image-1'],
      ['image[]', 'a.png', 'image/png', 'PNG-A'],
      ['image[]', 'b.png', 'image/png', 'PNG-B'],
      ['image', 'one.png', 'image/png', 'one'],
      ['image', 'two.png', 'image/png', 'two'],
      ['file', 'voice.webm', 'audio/webm;codecs=opus', 'OPUS'],
      ['include[]', null, null, 'logprobs'],
      ['prompt', null, null, Buffer.from('ünïcode\r\nand lines').toString('latin1')],
    ]);
  });

  it('agrees with the fetch standard reader on what the SDK sends', async () => {
    const form = new FormData();
    form.append('a', 'x');
    form.append('f', new Blob([Buffer.from([0, 1, 2, 13, 10, 45, 45])], { type: 'application/octet-stream' }), 'bin.dat');
    form.append('a', 'y');
    const { body, type } = await encode(form);
    const standard = [...(await new Response(body, { headers: { 'content-type': type } }).formData())].map(([k, v]) => [k, typeof v === 'string' ? v : v.name]);
    expect(parseMultipart(body, type).map((p) => [p.name, p.filename ?? p.data.toString()])).toEqual(standard);
  });

  it('reads hand-written bodies: preamble, quoted boundary, escaped and RFC 5987 names, empty parts', () => {
    const body = Buffer.from(
      [
        'preamble to ignore',
        '--AaB03x',
        'content-disposition: form-data; name="say \\"hi\\""',
        '',
        'hello',
        '--AaB03x  ',
        'Content-Type: Audio/WAV; rate=16000',
        'Content-Disposition: form-data; name="file"; filename="x.wav"; filename*=UTF-8\'\'caf%C3%A9.wav',
        '',
        '',
        '--AaB03x',
        'Content-Disposition: form-data; name="mask"; filename=""',
        'Content-Type: application/octet-stream',
        '',
        '',
        '--AaB03x--',
        'epilogue',
      ].join('\r\n'),
    );
    expect(view(parseMultipart(body, 'multipart/form-data; boundary="AaB03x"'))).toEqual([
      ['say "hi"', null, null, 'hello'],
      ['file', 'café.wav', 'Audio/WAV; rate=16000', ''],
      ['mask', '', 'application/octet-stream', ''],
    ]);
  });

  it.each([
    ['no boundary in the content type', 'a', 'multipart/form-data'],
    ['another content type', 'a', 'application/json'],
    ['a body without the boundary', 'hello', 'multipart/form-data; boundary=xyz'],
    ['a truncated body', '--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\nhalf a val', 'multipart/form-data; boundary=xyz'],
    ['a part without a name', '--xyz\r\nContent-Type: text/plain\r\n\r\nv\r\n--xyz--', 'multipart/form-data; boundary=xyz'],
  ])('refuses %s', (_what, body, type) => {
    expect(() => parseMultipart(Buffer.from(body), type)).toThrow(MultipartError);
  });

  it('finds the boundary of multipart/form-data only', () => {
    expect(formBoundary('Multipart/Form-Data; charset=utf-8; boundary=----WebKitFormBoundaryAbC')).toBe('----WebKitFormBoundaryAbC');
    expect(formBoundary('multipart/mixed; boundary=x')).toBeNull();
  });
});
