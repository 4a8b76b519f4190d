import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Fault injection for the simulator. A rule matches requests by route group and applies to the
 * next `times` of them (forever when omitted).
 */
export type FaultKind =
  | { kind: 'latency'; ms: number }
  /** `retryAfter`: seconds, or a string sent as it is (an HTTP date). */
  | { kind: 'status'; status: number; retryAfter?: number | string; body?: unknown }
  | { kind: 'hang' }
  | { kind: 'reset' }
  | { kind: 'malformed' }
  /** An MJ envelope with this code (e.g. 23 queue full, 24 banned, 4 refused). */
  | { kind: 'code'; code: number; description?: string }
  /**
   * Exactly this answer: `status` (default 200), `contentType` (default application/json) and
   * `body` (a string as is, anything else as JSON), or `parts` written one after another, each
   * after its `delayMs` (then the response ends, whatever the parts said).
   */
  | { kind: 'body'; status?: number; contentType?: string; body?: unknown; parts?: { text: string; delayMs?: number }[] }
  /**
   * Shapes the simulator's own OpenAI answer to this request (chat and text completions):
   * `json` answers a stream request with the whole completion as JSON (an upstream that ignores
   * `stream`); `sse` streams a non-stream request; `chunks` streams that many generated tokens
   * (`t1 t2 …`) instead of the echo; `intervalMs` waits before every chunk; `stallAfter` chunks
   * in, it goes silent for `stallMs`; `errorAfter` chunks in, it sends `error` (default a
   * server_error) as a `data:` chunk, or as `event: error` with `asEvent`, and ends without
   * `[DONE]`; `endAfter` chunks in, it just ends (no finish_reason, no `[DONE]`).
   */
  | StreamFault;

export interface StreamFault {
  kind: 'stream';
  json?: boolean;
  sse?: boolean;
  chunks?: number;
  intervalMs?: number;
  stallAfter?: number;
  stallMs?: number;
  errorAfter?: number;
  error?: unknown;
  asEvent?: boolean;
  endAfter?: number;
}

/** A route group: a family simulator's own (MJ: submit, list, fetch, seed, cancel; OpenAI: openai), or `*` for every request. */
export type FaultRoute = string;

/**
 * A fault for a route group: it applies to the next `times` matching requests (forever when
 * omitted), each with `probability` (0–1, default 1); a request it does not apply to goes on to
 * the next matching rule.
 */
export type FaultRule = FaultKind & { route: FaultRoute; times?: number; probability?: number };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createFaults() {
  let rules: FaultRule[] = [];
  const hanging = new Set<FastifyReply>();
  const shaped = new WeakMap<FastifyRequest, StreamFault>();
  return {
    add(rule: FaultRule) {
      rules.push({ ...rule });
    },
    clear() {
      rules = [];
    },
    get rules(): readonly FaultRule[] {
      return rules;
    },
    /** Applies the first matching rule. Returns true when the request was answered by a fault. */
    async apply(route: FaultRoute, req: FastifyRequest, reply: FastifyReply): Promise<boolean> {
      const rule = rules.find((r) => (r.route === route || r.route === '*') && (r.probability === undefined || Math.random() < r.probability));
      if (!rule) return false;
      if (rule.times !== undefined && --rule.times <= 0) rules = rules.filter((r) => r !== rule);
      switch (rule.kind) {
        case 'latency':
          await new Promise((r) => setTimeout(r, rule.ms));
          return false;
        case 'status':
          if (rule.retryAfter !== undefined) void reply.header('retry-after', String(rule.retryAfter));
          await reply.status(rule.status).send(rule.body ?? { error: { message: `simulated ${rule.status}`, type: 'sim_error' }, description: `simulated ${rule.status}` });
          return true;
        case 'hang':
          // Keep the request open until the client gives up (or the simulator closes).
          hanging.add(reply);
          req.raw.on('close', () => hanging.delete(reply));
          await new Promise<void>((resolve) => req.raw.on('close', resolve));
          return true;
        case 'reset':
          req.raw.socket.destroy();
          return true;
        case 'malformed':
          await reply.status(200).type('application/json').send('{"code": 1, "result": ');
          return true;
        case 'code':
          await reply.status(200).send({ code: rule.code, description: rule.description ?? `simulated code ${rule.code}`, result: null, properties: {} });
          return true;
        case 'body': {
          const text = (b: unknown) => (typeof b === 'string' ? b : JSON.stringify(b ?? null));
          reply.hijack();
          reply.raw.writeHead(rule.status ?? 200, { 'content-type': rule.contentType ?? 'application/json' });
          for (const part of rule.parts ?? [{ text: text(rule.body) }]) {
            if (part.delayMs) await sleep(part.delayMs);
            if (reply.raw.destroyed) return true;
            reply.raw.write(part.text);
          }
          reply.raw.end();
          return true;
        }
        case 'stream':
          // Not an answer of its own: the OpenAI routes read it (streamFor) and shape theirs.
          shaped.set(req, rule);
          return false;
      }
    },
    /** The `stream` fault that matched this request, if any. */
    streamFor(req: FastifyRequest): StreamFault | undefined {
      return shaped.get(req);
    },
    /** Ends every hanging request (used on close). */
    releaseAll() {
      for (const r of hanging) r.raw.destroy();
      hanging.clear();
    },
  };
}

export type Faults = ReturnType<typeof createFaults>;
