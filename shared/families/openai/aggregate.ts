import { mergeAudio, mergeReasoningDetails, mergeThinkingBlocks } from './delta-fields.js';

/**
 * Whole completions from streamed chunks, and chunks from whole completions.
 *
 * Chat chunks are merged exactly as the official `openai` SDK merges them
 * (`ChatCompletionStream#accumulateChatCompletion` and `finalizeChatCompletion` in openai-node):
 * choices by `index`, tool calls by their own `index` with `arguments` concatenated and
 * `id`/`type`/`name` kept, content and refusal concatenated, logprobs appended, and every other
 * top-level field (`usage`, `system_fingerprint`, `service_tier`, …) taken from the latest chunk
 * that carries it. Where the SDK would throw, lose text or double it, this differs:
 * - a choice or tool call without `index` gets one;
 * - a field sent as `null` never erases what earlier chunks gave it (DeepSeek sends
 *   `"reasoning_content": null` and OpenRouter `"reasoning": null` with every content chunk);
 * - the reasoning text some upstreams stream (`reasoning_content`: DeepSeek, vLLM, SGLang, new-api;
 *   `reasoning`: OpenRouter, Ollama, newer vLLM) is concatenated instead of replaced;
 * - OpenRouter's `reasoning_details` merge by `index` and `type` like tool calls (`text` and
 *   `summary` concatenated, `data`, `signature`, `id`, `format` from the latest piece);
 * - LiteLLM's `thinking_blocks` pieces join until a piece brings the block's `signature`;
 * - streamed `audio` (`data` as base64 and `transcript` pieces) is concatenated;
 * - the logprobs of a choice's first chunk are kept once (the SDK appends them to themselves).
 */
export type Json = Record<string, unknown>;

/** Which stream an endpoint produces: `chat.completion.chunk` or streamed `text_completion`. */
export type StreamKind = 'chat' | 'text';

const REASONING_FIELDS = ['reasoning_content', 'reasoning'];

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isObject) : []);
/** Array slots in index order, holes dropped (a sparse array must not become `null`s). */
const compact = <T>(a: T[]): T[] => a.filter((x) => x !== undefined);

function mergeLogprobs(choice: Json, logprobs: unknown) {
  if (!isObject(logprobs)) return;
  if (!isObject(choice.logprobs)) choice.logprobs = {};
  const target = choice.logprobs as Json;
  for (const [k, v] of Object.entries(logprobs)) {
    // Chat: content/refusal token lists; text completions: tokens, token_logprobs, top_logprobs, text_offset.
    if (Array.isArray(v) && Array.isArray(target[k])) (target[k] as unknown[]).push(...v);
    else if (Array.isArray(v)) target[k] = [...v];
    else target[k] = v;
  }
}

function mergeToolCalls(message: Json, deltas: Json[]) {
  const calls = (message.tool_calls ??= []) as Json[];
  for (const { index, id, type, function: fn, ...rest } of deltas) {
    let i = typeof index === 'number' ? index : -1;
    if (i < 0) {
      const known = calls.findIndex((c) => c !== undefined && id !== undefined && c.id === id);
      i = known >= 0 ? known : id !== undefined || calls.length === 0 ? calls.length : calls.length - 1;
    }
    const call = (calls[i] ??= {});
    Object.assign(call, rest);
    if (id) call.id = id;
    if (type) call.type = type;
    if (isObject(fn)) {
      const f = (call.function ??= { name: typeof fn.name === 'string' ? fn.name : '', arguments: '' }) as Json;
      if (fn.name) f.name = fn.name;
      if (typeof fn.arguments === 'string' && fn.arguments) f.arguments = `${typeof f.arguments === 'string' ? f.arguments : ''}${fn.arguments}`;
    }
  }
}

/** Copies `from` into `into`, except that a null or absent value never replaces one already there. */
function assignPresent(into: Json, from: Json) {
  for (const [k, v] of Object.entries(from)) {
    if (v === undefined || (v === null && into[k] !== undefined && into[k] !== null)) continue;
    into[k] = v;
  }
}

function addChatChoice(snapshot: { choices: Json[] }, c: Json) {
  const { delta, finish_reason, index: rawIndex, logprobs = null, ...other } = c;
  const index = typeof rawIndex === 'number' ? rawIndex : 0;
  let choice = snapshot.choices[index];
  // The SDK seeds a new choice with the chunk's own logprobs object and then appends that chunk's
  // tokens to it again, doubling them; here the first chunk's tokens are copied once.
  if (!choice) choice = snapshot.choices[index] = { finish_reason, index, message: {}, logprobs: null, ...other };
  if (logprobs) mergeLogprobs(choice, logprobs);
  if (finish_reason) choice.finish_reason = finish_reason;
  assignPresent(choice, other);
  if (!isObject(delta)) return;
  const message = choice.message as Json;
  const { content, refusal, function_call, role, tool_calls, reasoning_details, thinking_blocks, audio, ...rest } = delta;
  for (const k of REASONING_FIELDS) {
    if (typeof rest[k] === 'string' && typeof message[k] === 'string') {
      message[k] = `${message[k] as string}${rest[k] as string}`;
      delete rest[k];
    }
  }
  assignPresent(message, rest);
  if (Array.isArray(reasoning_details)) mergeReasoningDetails(message, list(reasoning_details));
  if (Array.isArray(thinking_blocks)) mergeThinkingBlocks(message, list(thinking_blocks));
  if (isObject(audio)) mergeAudio(message, audio);
  // Sent as null and never otherwise: kept as the upstream sent it.
  for (const [k, v] of [['reasoning_details', reasoning_details], ['thinking_blocks', thinking_blocks], ['audio', audio]] as const) if (v === null) message[k] ??= null;
  if (typeof refusal === 'string' && refusal) message.refusal = `${(message.refusal as string | null) || ''}${refusal}`;
  if (role) message.role = role;
  if (isObject(function_call)) {
    if (!isObject(message.function_call)) message.function_call = { ...function_call };
    else {
      if (function_call.name) message.function_call.name = function_call.name;
      if (typeof function_call.arguments === 'string' && function_call.arguments)
        message.function_call.arguments = `${(message.function_call.arguments as string | undefined) ?? ''}${function_call.arguments}`;
    }
  }
  if (typeof content === 'string' && content) message.content = `${(message.content as string | null) || ''}${content}`;
  if (Array.isArray(tool_calls)) mergeToolCalls(message, list(tool_calls));
}

function addTextChoice(snapshot: { choices: Json[] }, c: Json) {
  const { index: rawIndex, text, finish_reason, logprobs, ...other } = c;
  const index = typeof rawIndex === 'number' ? rawIndex : 0;
  const choice = (snapshot.choices[index] ??= { index, text: '', finish_reason: null, logprobs: null });
  assignPresent(choice, other);
  if (typeof text === 'string') choice.text = `${choice.text as string}${text}`;
  if (finish_reason) choice.finish_reason = finish_reason;
  if (logprobs) mergeLogprobs(choice, logprobs);
}

function finalChatChoice({ message, finish_reason, index, logprobs, ...choiceRest }: Json): Json {
  const m = message as Json;
  const { content = null, function_call, tool_calls, ...messageRest } = m;
  const role = m.role ?? 'assistant';
  const refusal = m.refusal ?? null;
  if (isObject(function_call)) {
    return { ...choiceRest, message: { content, function_call: { arguments: function_call.arguments, name: function_call.name }, role, refusal }, finish_reason, index, logprobs };
  }
  if (Array.isArray(tool_calls)) {
    const calls = compact(tool_calls as Json[]).map(({ function: fn, type, id, ...toolRest }) => {
      const { arguments: args, name, ...fnRest } = isObject(fn) ? fn : {};
      return { ...toolRest, id, type, function: { ...fnRest, name, arguments: args } };
    });
    return { ...choiceRest, index, finish_reason, logprobs, message: { ...messageRest, role, content, refusal, tool_calls: calls } };
  }
  return { ...choiceRest, message: { ...messageRest, content, role, refusal }, finish_reason, index, logprobs };
}

export interface Aggregator {
  /** Adds one parsed chunk. */
  add(chunk: Json): void;
  /** True when at least one choice came and every choice has a `finish_reason`. */
  finished(): boolean;
  /** The whole completion so far: `chat.completion` or `text_completion`. */
  result(): Json;
}

/** An empty aggregator for one stream of `kind` (chat chunks or streamed text completions). */
export function createAggregator(kind: StreamKind): Aggregator {
  let snapshot: (Json & { choices: Json[] }) | null = null;
  return {
    add(chunk) {
      const { choices, ...rest } = chunk;
      if (!snapshot) snapshot = { ...rest, choices: [] };
      else assignPresent(snapshot, rest);
      for (const c of list(choices)) (kind === 'chat' ? addChatChoice : addTextChoice)(snapshot, c);
    },
    finished() {
      const choices = compact(snapshot?.choices ?? []);
      return choices.length > 0 && choices.every((c) => typeof c.finish_reason === 'string' && c.finish_reason !== '');
    },
    result() {
      const { id = null, choices = [], created = Math.floor(Date.now() / 1000), model = null, system_fingerprint, ...rest } = snapshot ?? ({} as Json);
      if (kind === 'text') return { ...rest, id, object: 'text_completion', created, model, choices: compact(choices as Json[]) };
      return {
        ...rest,
        id,
        choices: compact(choices as Json[]).map(finalChatChoice),
        created,
        model,
        object: 'chat.completion',
        ...(system_fingerprint ? { system_fingerprint } : {}),
      };
    },
  };
}

/**
 * The chunks a streaming client would have received for a whole completion (an upstream that
 * ignored `stream: true`): per choice one chunk carrying the whole message as its delta (role,
 * content, refusal, tool calls with their `index`, any other message fields) and its
 * `finish_reason`; `usage` rides on the last chunk, so no chunk has empty `choices`.
 */
export function chunksOf(completion: Json, kind: StreamKind): Json[] {
  const { choices, usage, object: _object, ...head } = completion;
  const all = list(choices);
  return all.map((choice, n) => {
    const last = n === all.length - 1;
    const tail = last && usage !== undefined ? { usage } : {};
    if (kind === 'text') return { ...head, object: 'text_completion', choices: [choice], ...tail };
    const { message, finish_reason = null, index = n, logprobs = null, ...choiceRest } = choice;
    const { tool_calls, ...delta } = isObject(message) ? message : {};
    const calls = Array.isArray(tool_calls) ? list(tool_calls).map((tc, i) => ({ index: i, ...tc })) : undefined;
    return {
      ...head,
      object: 'chat.completion.chunk',
      choices: [{ ...choiceRest, index, delta: { ...delta, ...(calls ? { tool_calls: calls } : {}) }, logprobs, finish_reason }],
      ...tail,
    };
  });
}
