/**
 * Anthropic Messages streams: whole Messages from stream events, and stream events from whole
 * Messages. Event shapes are Anthropic's (`message_start{message}`, `content_block_start{index,
 * content_block}`, `content_block_delta{index, delta}`, `content_block_stop{index}`,
 * `message_delta{delta, usage}`, `message_stop`, `ping`, `error`).
 *
 * Events are merged as `MessageStream#accumulateMessage` of @anthropic-ai/sdk merges them: text,
 * thinking and tool input (`input_json_delta.partial_json`) concatenated, `signature_delta`
 * replacing the signature, citations appended, and `message_delta` setting the stop reason and the
 * usage counters it carries (a null counter never erases one). Unlike the SDK, blocks are placed by
 * their `index` (the SDK appends), and a delta for a block never started is dropped.
 */
export type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);

export interface MessageAggregator {
  /** Adds one parsed event (any type; unknown ones are ignored). */
  add(event: Json): void;
  /** Whether a `message_start` came. */
  started(): boolean;
  /** Whether `message_delta` brought a stop reason. */
  stopped(): boolean;
  /** The Message so far (a copy), tool inputs parsed from what their deltas sent. */
  result(): Json;
}

/** Tool input JSON from its pieces; the block's own input when the pieces are empty or broken. */
function parseInput(buffer: string, fallback: unknown): unknown {
  if (buffer.trim() === '') return fallback;
  try {
    return JSON.parse(buffer) as unknown;
  } catch {
    return fallback;
  }
}

/** An empty aggregator for one stream. */
export function createMessageAggregator(): MessageAggregator {
  let message: Json | null = null;
  let stopped = false;
  /** Tool input JSON pieces per block index. */
  const inputs = new Map<number, string>();
  const content = () => (message!.content as (Json | undefined)[]);

  function delta(index: number, d: Json) {
    const block = content()[index];
    if (!block) return;
    switch (d.type) {
      case 'text_delta':
        if (typeof d.text === 'string') block.text = `${typeof block.text === 'string' ? block.text : ''}${d.text}`;
        break;
      case 'thinking_delta':
        if (typeof d.thinking === 'string') block.thinking = `${typeof block.thinking === 'string' ? block.thinking : ''}${d.thinking}`;
        break;
      case 'signature_delta':
        if (typeof d.signature === 'string') block.signature = d.signature;
        break;
      case 'citations_delta':
        block.citations = [...(Array.isArray(block.citations) ? block.citations : []), d.citation];
        break;
      case 'input_json_delta':
        if (typeof d.partial_json === 'string') inputs.set(index, `${inputs.get(index) ?? ''}${d.partial_json}`);
        break;
    }
  }

  return {
    add(event) {
      const index = typeof event.index === 'number' ? event.index : -1;
      if (event.type === 'message_start' && isObject(event.message)) {
        message = clone(event.message);
        if (!Array.isArray(message.content)) message.content = [];
        return;
      }
      if (!message) return;
      if (event.type === 'content_block_start' && index >= 0 && isObject(event.content_block)) content()[index] = clone(event.content_block);
      else if (event.type === 'content_block_delta' && index >= 0 && isObject(event.delta)) delta(index, event.delta);
      else if (event.type === 'message_delta') {
        if (isObject(event.delta)) {
          for (const [k, v] of Object.entries(event.delta)) if (v !== undefined) message[k] = v;
          if (typeof event.delta.stop_reason === 'string') stopped = true;
        }
        if (isObject(event.usage)) {
          const usage = (isObject(message.usage) ? message.usage : (message.usage = {})) as Json;
          for (const [k, v] of Object.entries(event.usage)) if (v !== null && v !== undefined) usage[k] = v;
        }
      }
    },
    started: () => message !== null,
    stopped: () => stopped,
    result() {
      if (!message) return {};
      const out = clone(message);
      out.content = content()
        .map((block, i) => (block && inputs.has(i) ? { ...block, input: parseInput(inputs.get(i)!, block.input) } : block))
        .filter((b) => b !== undefined)
        .map(clone);
      return out;
    },
  };
}

/** Start of a block as a stream opens it: the text, thinking or tool input empty, filled by deltas. */
function blockEvents(block: Json, index: number): Json[] {
  const at = (d: Json) => ({ type: 'content_block_delta', index, delta: d });
  const events: Json[] = [];
  if (block.type === 'text' && typeof block.text === 'string') {
    const { text, citations, ...rest } = block;
    events.push({ type: 'content_block_start', index, content_block: { ...rest, text: '', ...(Array.isArray(citations) ? { citations: [] } : {}) } });
    if (Array.isArray(citations)) for (const citation of citations) events.push(at({ type: 'citations_delta', citation }));
    if (text) events.push(at({ type: 'text_delta', text }));
  } else if (block.type === 'thinking' && typeof block.thinking === 'string') {
    const { thinking, signature, ...rest } = block;
    events.push({ type: 'content_block_start', index, content_block: { ...rest, thinking: '', signature: '' } });
    if (thinking) events.push(at({ type: 'thinking_delta', thinking }));
    if (typeof signature === 'string' && signature) events.push(at({ type: 'signature_delta', signature }));
  } else if ((block.type === 'tool_use' || block.type === 'server_tool_use') && isObject(block.input)) {
    events.push({ type: 'content_block_start', index, content_block: { ...block, input: {} } });
    if (Object.keys(block.input).length > 0) events.push(at({ type: 'input_json_delta', partial_json: JSON.stringify(block.input) }));
  } else {
    // Blocks that arrive whole in a stream too (redacted_thinking, tool results of server tools).
    events.push({ type: 'content_block_start', index, content_block: block });
  }
  events.push({ type: 'content_block_stop', index });
  return events;
}

/**
 * The events a stream would have carried for a whole Message (an upstream that answered a stream
 * request with JSON, or a finished stream replayed after its events expired): `message_start`
 * (the Message with empty content and no stop reason), each block's start, deltas and stop,
 * `message_delta` (stop reason, stop sequence and the output token count), `message_stop`.
 */
export function eventsOf(message: Json): Json[] {
  const { content, stop_reason = null, stop_sequence = null, stop_details, container, usage, ...head } = message;
  const blocks = Array.isArray(content) ? content.filter(isObject) : [];
  const outputTokens = isObject(usage) && typeof usage.output_tokens === 'number' ? usage.output_tokens : 0;
  const start = { ...head, content: [], stop_reason: null, stop_sequence: null, ...(usage !== undefined ? { usage } : {}) };
  const tail = { ...(stop_details !== undefined ? { stop_details } : {}), ...(container !== undefined ? { container } : {}) };
  return [
    { type: 'message_start', message: start },
    ...blocks.flatMap((b, i) => blockEvents(b, i)),
    { type: 'message_delta', delta: { stop_reason, stop_sequence, ...tail }, usage: { output_tokens: outputTokens } },
    { type: 'message_stop' },
  ];
}

/** One event as an SSE frame without its closing blank line: `event: <type>\ndata: <json>`. */
export const frameOf = (event: Json): string => `event: ${String(event.type)}\ndata: ${JSON.stringify(event)}`;

/** Whether a parsed body is a Message: an object with a content array (type `message` or role `assistant`). */
export const isMessage = (v: unknown): v is Json => isObject(v) && Array.isArray(v.content) && (v.type === 'message' || v.role === 'assistant');
