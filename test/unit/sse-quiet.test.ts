import { describe, expect, it } from 'vitest';
import { endWhenQuiet } from '../../worker/upstream/sse.js';

/** A source that yields `items`, then waits for ever (a connection left open), until `abort`. */
function openSource(items: string[]) {
  let aborted = false;
  let closed = false;
  let fail: (err: Error) => void = () => undefined;
  async function* gen() {
    try {
      for (const i of items) yield i;
      await new Promise((_resolve, reject) => {
        fail = reject;
      });
    } finally {
      closed = true;
    }
  }
  return {
    events: gen(),
    abort() {
      aborted = true;
      fail(new Error('aborted'));
    },
    get aborted() {
      return aborted;
    },
    get closed() {
      return closed;
    },
  };
}

describe('endWhenQuiet', () => {
  it('ends a source that stays open once the answer is whole, aborting it', async () => {
    const src = openSource(['a', 'b', 'stop']);
    const seen: string[] = [];
    for await (const e of endWhenQuiet(src.events, () => seen.includes('stop'), () => src.abort(), 20)) seen.push(e);
    expect(seen).toEqual(['a', 'b', 'stop']);
    expect(src.aborted).toBe(true);
  });

  it('passes a source through to its own end when the answer is never whole before it', async () => {
    async function* finite() {
      yield* ['a', 'b'];
    }
    let stopped = false;
    const seen: string[] = [];
    for await (const e of endWhenQuiet(finite(), () => false, () => void (stopped = true), 20)) seen.push(e);
    expect(seen).toEqual(['a', 'b']);
    expect(stopped).toBe(false);
  });

  it('releases the source when the reader stops early', async () => {
    const src = openSource(['a', 'b', 'c']);
    for await (const e of endWhenQuiet(src.events, () => false, () => src.abort(), 20)) if (e === 'b') break;
    expect(src.closed).toBe(true);
    expect(src.aborted).toBe(false);
  });
});
