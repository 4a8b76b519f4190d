import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Fault injection for the simulator. A rule matches requests by route group and applies to the
 * next `times` of them (forever when omitted).
 */
export type FaultKind =
  | { kind: 'latency'; ms: number }
  | { kind: 'status'; status: number; retryAfter?: number; body?: unknown }
  | { kind: 'hang' }
  | { kind: 'reset' }
  | { kind: 'malformed' }
  /** An MJ envelope with this code (e.g. 23 queue full, 24 banned, 4 refused). */
  | { kind: 'code'; code: number; description?: string };

export type FaultRoute = 'submit' | 'list' | 'fetch' | 'seed' | 'cancel' | 'openai' | '*';

export type FaultRule = FaultKind & { route: FaultRoute; times?: number };

export function createFaults() {
  let rules: FaultRule[] = [];
  const hanging = new Set<FastifyReply>();
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
      const rule = rules.find((r) => r.route === route || r.route === '*');
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
      }
    },
    /** Ends every hanging request (used on close). */
    releaseAll() {
      for (const r of hanging) r.raw.destroy();
      hanging.clear();
    },
  };
}

export type Faults = ReturnType<typeof createFaults>;
