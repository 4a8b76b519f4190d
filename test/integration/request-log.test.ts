import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, startStack, type Stack } from '../support/stack.js';

/** The one log line each request leaves: its fields, their order, and nothing secret. */
describe('request log line', () => {
  let s: Stack;
  const logLines: string[] = [];
  /** The `request` lines of one request id. */
  const linesOf = (reqId: string) => logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.reqId === reqId && l.msg === 'request');

  beforeAll(async () => {
    s = await startStack({ worker: false, logLines });
  });
  afterAll(() => s?.close());

  it('writes one line per answered request, as the request logger would, without the query', async () => {
    const res = await fetch(`${s.api.url}/mj/task/mj_unknown0000000000/fetch?key=${KEYS.acme}`, { headers: { authorization: `Bearer ${KEYS.acme}`, 'x-request-id': 'rl-1' } });
    expect(res.status).toBe(404);
    const refused = await fetch(`${s.api.url}/mj/task/mj_unknown0000000000/fetch`, { headers: { authorization: 'Bearer sk-wrong-0123456789', 'x-request-id': 'rl-2' } });
    expect(refused.status).toBe(401);
    await new Promise((r) => setTimeout(r, 50));
    const [line, ...more] = linesOf('rl-1');
    expect(more).toEqual([]);
    expect(Object.keys(line!)).toEqual(['level', 'time', 'service', 'reqId', 'method', 'url', 'statusCode', 'ms', 'msg']);
    expect(line).toMatchObject({ level: 30, service: 'relayq', reqId: 'rl-1', method: 'GET', url: '/mj/task/mj_unknown0000000000/fetch', statusCode: 404, msg: 'request' });
    expect(typeof line!.ms).toBe('number');
    expect(linesOf('rl-2')).toEqual([expect.objectContaining({ statusCode: 401, msg: 'request' })]);
    const logs = logLines.join('\n');
    expect(logs).not.toContain(KEYS.acme);
    expect(logs).not.toContain('sk-wrong-0123456789');
  });

  it('puts the task a submission created on its one line: id, kind, jobs ahead, whether it was a replay', async () => {
    const headers = { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json', 'idempotency-key': 'rl-idem-1' };
    const first = await fetch(`${s.api.url}/mj/submit/imagine`, { method: 'POST', headers: { ...headers, 'x-request-id': 'rl-3' }, body: JSON.stringify({ prompt: 'a cat' }) });
    const { result } = (await first.json()) as { result: string };
    const again = await fetch(`${s.api.url}/mj/submit/imagine`, { method: 'POST', headers: { ...headers, 'x-request-id': 'rl-4' }, body: JSON.stringify({ prompt: 'a cat' }) });
    expect(((await again.json()) as { result: string }).result).toBe(result);
    await new Promise((r) => setTimeout(r, 50));
    const lines = logLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.reqId === 'rl-3')).toEqual([expect.objectContaining({ msg: 'request', statusCode: 200, taskId: result, kind: 'mj.imagine', ahead: expect.any(Number), replayed: false })]);
    expect(lines.filter((l) => l.reqId === 'rl-4')).toEqual([expect.objectContaining({ msg: 'request', taskId: result, replayed: true })]);
  });
});
