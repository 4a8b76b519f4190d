/**
 * The command line's HTTP client for one relayq API: JSON in and out, the key as a Bearer token,
 * and every failure a person can act on turned into a {@link CliError} with one line to print.
 */

/** A failure the command line reports as one line on stderr, exiting with code 1. */
export class CliError extends Error {}

export interface ClientOptions {
  /** The API's base URL, without a trailing slash (`http://127.0.0.1:8080`). */
  url: string;
  /** An API key (`API_KEYS` secret); empty sends no Authorization header. */
  key: string;
}

export interface Client {
  readonly url: string;
  /**
   * Sends one request and returns the response once its status line is in (the body is left to
   * the caller: JSON or a stream). Throws CliError when relayq cannot be reached, when the key
   * is refused (401), and for any other non-2xx answer unless `okStatuses` lists it.
   */
  request(method: string, path: string, opts?: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal; okStatuses?: number[] }): Promise<Response>;
  /** {@link Client.request} and the JSON body of its answer. */
  json<T = unknown>(method: string, path: string, opts?: { body?: unknown; headers?: Record<string, string> }): Promise<T>;
}

/** The one-line reason of an error answer: the OpenAI envelope, the MJ description or plain text. */
async function reasonOf(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } | string; description?: unknown; message?: unknown };
    if (typeof body.error === 'object' && typeof body.error?.message === 'string') return body.error.message;
    if (typeof body.error === 'string') return body.error;
    if (typeof body.description === 'string') return body.description;
    if (typeof body.message === 'string') return body.message;
  } catch {
    // not JSON: the text itself
  }
  return text.trim().slice(0, 300) || res.statusText;
}

/** The network error code under fetch's "fetch failed" (ECONNREFUSED, ENOTFOUND, …) or its cause's message, if any. */
function networkCode(err: unknown): string | null {
  const cause = (err as { cause?: { code?: unknown; message?: unknown; errors?: { code?: unknown }[] } } | null)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  // Several addresses tried (localhost on IPv4 and IPv6): an AggregateError of the same code.
  const inner = cause?.errors?.[0]?.code;
  if (typeof inner === 'string') return inner;
  return typeof cause?.message === 'string' && cause.message ? cause.message : null;
}

/** The one line for an API that cannot be reached at all. */
export function unreachable(url: string, err: unknown): CliError {
  const code = networkCode(err);
  const why = code === 'ECONNREFUSED' ? 'connection refused' : code === 'ENOTFOUND' ? 'host not found' : (code ?? (err instanceof Error ? err.message : String(err)));
  return new CliError(`cannot reach relayq at ${url} (${why}): is it running? Set --url or RELAYQ_URL`);
}

/**
 * A client for the relayq API at `opts.url` with `opts.key`. Nothing is sent until a request is
 * made; see {@link Client} for what each call throws.
 */
export function createClient(opts: ClientOptions): Client {
  const url = opts.url.replace(/\/+$/, '');
  const client: Client = {
    url,
    async request(method, path, r = {}) {
      const headers: Record<string, string> = { ...(opts.key ? { authorization: `Bearer ${opts.key}` } : {}), ...r.headers };
      if (r.body !== undefined) headers['content-type'] ??= 'application/json';
      let res: Response;
      try {
        res = await fetch(`${url}${path}`, { method, headers, body: r.body === undefined ? undefined : JSON.stringify(r.body), signal: r.signal });
      } catch (err) {
        if ((err as Error).name === 'AbortError') throw err;
        throw unreachable(url, err);
      }
      if (res.status === 401) {
        throw new CliError(`relayq refused the API key (HTTP 401: ${await reasonOf(res)}): set --key or RELAYQ_API_KEY`);
      }
      if (!res.ok && !r.okStatuses?.includes(res.status)) throw new CliError(`${method} ${path} failed (HTTP ${res.status}): ${await reasonOf(res)}`);
      return res;
    },
    async json<T>(method: string, path: string, r: { body?: unknown; headers?: Record<string, string> } = {}) {
      const res = await client.request(method, path, r);
      const text = await res.text();
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new CliError(`${method} ${path}: the answer is not JSON: ${text.slice(0, 200)}`);
      }
    },
  };
  return client;
}
