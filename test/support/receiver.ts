import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  at: number;
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: any;
}

/** How the receiver answers one request: a status (with headers), after a delay, or never. */
export type Answer = { status: number; delayMs?: number; headers?: Record<string, string> } | 'hang';

/**
 * A webhook receiver: a real HTTP server on 127.0.0.1, recording every request. Answers come
 * from `script` in order, then `fallback` (200).
 */
export async function startReceiver() {
  const received: Received[] = [];
  const script: Answer[] = [];
  let fallback: Answer = { status: 200 };
  const hanging = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      let body: unknown = null;
      try {
        body = JSON.parse(raw);
      } catch {
        // keep raw
      }
      received.push({ at: Date.now(), path: req.url ?? '/', headers: req.headers, raw, body });
      const answer = script.shift() ?? fallback;
      if (answer === 'hang') {
        hanging.add(res);
        return;
      }
      setTimeout(() => {
        if (!res.destroyed) res.writeHead(answer.status, answer.headers).end('ok');
      }, answer.delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    received,
    answer(...answers: Answer[]) {
      script.push(...answers);
    },
    always(answer: Answer) {
      fallback = answer;
    },
    async close() {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
