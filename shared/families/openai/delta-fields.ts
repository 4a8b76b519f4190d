/**
 * Merging the streamed message fields that arrive in pieces beyond content and tool calls:
 * reasoning details (OpenRouter), thinking blocks (LiteLLM) and audio (OpenAI audio models).
 * Each merge copies what it keeps: the chunks themselves are never changed.
 */
type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const present = (v: unknown) => v !== null && v !== undefined;
/** A later piece's value wins unless it is empty (null, absent or "") and an earlier one was not. */
const wins = (v: unknown, had: unknown) => (present(v) && v !== '') || !present(had) || had === '';

/** `message[field]` as an array to add to (a missing or null one becomes []). */
function arrayIn(message: Json, field: string): Json[] {
  if (!Array.isArray(message[field])) message[field] = [];
  return message[field] as Json[];
}

/**
 * OpenRouter's `reasoning_details`: each piece names its entry by `index` (and `type`:
 * `reasoning.text`, `reasoning.summary`, `reasoning.encrypted`); pieces of one entry join with
 * `text` and `summary` concatenated and every other field (`data`, `signature`, `id`, `format`)
 * from the latest piece that has it (Anthropic models open with `"signature": ""` and send the
 * real one later). A piece without `index` is an entry of its own.
 */
export function mergeReasoningDetails(message: Json, pieces: Json[]) {
  const details = arrayIn(message, 'reasoning_details');
  for (const piece of pieces) {
    const at = typeof piece.index === 'number' ? details.findIndex((d) => d.index === piece.index && (!present(piece.type) || d.type === piece.type)) : -1;
    const entry = details[at];
    if (!entry) {
      details.push({ ...piece });
      continue;
    }
    for (const [k, v] of Object.entries(piece)) {
      if ((k === 'text' || k === 'summary') && typeof v === 'string') entry[k] = `${typeof entry[k] === 'string' ? (entry[k] as string) : ''}${v}`;
      else if (wins(v, entry[k])) entry[k] = v;
    }
  }
}

/**
 * LiteLLM's `thinking_blocks` (Anthropic thinking relayed in OpenAI chunks): every piece of a
 * `thinking` block carries a bit of its `thinking` text, and the piece with its `signature` ends
 * the block; `redacted_thinking` blocks come whole.
 */
export function mergeThinkingBlocks(message: Json, pieces: Json[]) {
  const blocks = arrayIn(message, 'thinking_blocks');
  for (const piece of pieces) {
    const last = blocks.at(-1);
    const thinking = (piece.type ?? 'thinking') === 'thinking';
    if (!thinking || !last || last.type !== 'thinking' || (typeof last.signature === 'string' && last.signature !== '')) {
      blocks.push({ ...piece });
      continue;
    }
    for (const [k, v] of Object.entries(piece)) {
      if (k === 'thinking' && typeof v === 'string') last.thinking = `${typeof last.thinking === 'string' ? last.thinking : ''}${v}`;
      else if (wins(v, last[k])) last[k] = v;
    }
  }
}

/** Two base64 texts as one: joined as they are when the first ends on a whole group, else re-encoded. */
export function appendBase64(a: string, b: string): string {
  if (a.length % 4 === 0 && !a.endsWith('=')) return a + b;
  return Buffer.concat([Buffer.from(a, 'base64'), Buffer.from(b, 'base64')]).toString('base64');
}

/**
 * Streamed `audio` (`{id, data, transcript, expires_at}`): `data` (base64 audio) and
 * `transcript` arrive in pieces and are joined; `id` and `expires_at` come from the latest piece.
 */
export function mergeAudio(message: Json, piece: Json) {
  if (!isObject(message.audio)) message.audio = {};
  const audio = message.audio as Json;
  for (const [k, v] of Object.entries(piece)) {
    if (k === 'data' && typeof v === 'string') audio.data = typeof audio.data === 'string' ? appendBase64(audio.data, v) : v;
    else if (k === 'transcript' && typeof v === 'string') audio.transcript = `${typeof audio.transcript === 'string' ? audio.transcript : ''}${v}`;
    else if (wins(v, audio[k])) audio[k] = v;
  }
}
