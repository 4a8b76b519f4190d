import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createDisplay, printResult, urlsOf, type TaskView } from '../../cli/follow.js';
import { CliError } from '../../cli/http.js';
import { formatTasks } from '../../cli/main.js';
import { readSse } from '../../cli/sse.js';

/** A writable stream that keeps what it was given, a terminal or not. */
function sink(isTTY: boolean) {
  const s = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number; text(): string; cursorTo?: unknown; clearLine?: unknown };
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString()));
  s.isTTY = isTTY;
  s.columns = 120;
  // What cli-progress calls on a terminal stream.
  s.cursorTo = (_x: number, _y?: number) => true;
  s.clearLine = (_dir: number) => true;
  s.text = () => text;
  return s;
}

const task = (over: Partial<TaskView>): TaskView => ({ id: 'mj_x', kind: 'mj.imagine', status: 'succeeded', progress: 100, output: null, error: null, ...over });

describe('the command line, piece by piece', () => {
  it('shows plain lines, each change once, when stdout is no terminal', () => {
    const out = sink(false);
    const d = createDisplay('mj_x', out as never);
    d.status('running');
    d.progress(10);
    d.progress(10);
    d.status('running');
    d.progress(100);
    d.status('succeeded');
    d.end();
    expect(out.text()).toBe('task mj_x: running\ntask mj_x: 10%\ntask mj_x: 100%\ntask mj_x: succeeded\n');
  });

  it('draws a progress bar on a terminal', () => {
    const out = sink(true);
    const d = createDisplay('mj_x', out as never);
    d.status('running');
    d.progress(42);
    d.end();
    expect(out.text()).toContain('42% | running | mj_x');
    expect(out.text()).not.toContain('task mj_x: ');
  });

  it('prints the URLs of an output once each, or the output as JSON', () => {
    expect(urlsOf({ clips: [{ audio_url: 'https://a/1.mp3', image_url: 'https://a/1.jpg' }, { audio_url: 'https://a/1.mp3' }], n: 'x' })).toEqual(['https://a/1.mp3', 'https://a/1.jpg']);
    const out = sink(false);
    printResult(task({ output: { image_url: 'https://cdn/x.png', buttons: [] } }), out);
    printResult(task({ output: { embedding: [1] } }), out);
    expect(out.text()).toBe('https://cdn/x.png\n{\n  "embedding": [\n    1\n  ]\n}\n');
  });

  it("turns a failed or canceled task into a one-line error with the task's message", () => {
    expect(() => printResult(task({ status: 'failed', error: { message: 'upstream made no progress for 10 min' } }), sink(false))).toThrow(new CliError('task mj_x failed: upstream made no progress for 10 min'));
    expect(() => printResult(task({ status: 'canceled', error: { message: 'canceled by client' } }), sink(false))).toThrow(/^task mj_x was canceled: canceled by client$/);
  });

  it('lays the task list out as a table', () => {
    const t = { ...task({ id: 'suno_abc', kind: 'suno.music', status: 'running', progress: 7 }), created_at: Date.UTC(2026, 0, 2, 3, 4, 5) };
    expect(formatTasks([t])).toBe('ID        KIND        STATUS   PROGRESS  CREATED\nsuno_abc  suno.music  running  7%        2026-01-02T03:04:05.000Z\n');
    expect(formatTasks([])).toBe('no tasks\n');
  });

  it('reads server-sent events split anywhere, with CRLF line ends, ids and comments', async () => {
    const wire = ': keep-alive\r\n\r\nid: 1-0:0\r\nevent: status\r\ndata: {"status":"running"}\r\n\r\nid: 1-0:1\nevent: progress\ndata: {"progress":\ndata: 5}\n\n';
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < wire.length; i += 7) c.enqueue(new TextEncoder().encode(wire.slice(i, i + 7)));
        c.close();
      },
    });
    const got = [];
    for await (const m of readSse(body)) got.push(m);
    expect(got).toEqual([
      { id: '1-0:0', event: 'status', data: '{"status":"running"}' },
      { id: '1-0:1', event: 'progress', data: '{"progress":\n5}' },
    ]);
  });
});

describe('readSse (the CLI reads task events with the shared event-stream parser)', () => {
  const body = (...chunks: string[]) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        for (const s of chunks) c.enqueue(new TextEncoder().encode(s));
        c.close();
      },
    });
  it('keeps one event whole when a CRLF is split across two chunks, with its id and event name', async () => {
    const got = [];
    for await (const m of readSse(body('id: 5-0:1\r\nevent: progress\r\ndata: {"a":1}\r', '\ndata: {"b":2}\r\n\r\n', ': keep-alive\r\n\r\ndata: last'))) got.push(m);
    expect(got).toEqual([
      { id: '5-0:1', event: 'progress', data: '{"a":1}\n{"b":2}' },
      { id: null, event: 'message', data: 'last' },
    ]);
  });
});
