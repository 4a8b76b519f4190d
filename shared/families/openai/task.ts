import type { TaskBase } from '../../tasks/model.js';

/** The task kinds of the OpenAI-compatible family (a wire format). */
export const OPENAI_KINDS = [
  'image.generate',
  'image.edit',
  'image.variation',
  'audio.speech',
  'audio.transcription',
  'audio.translation',
  'text.completion',
  'chat.completion',
  'embedding',
] as const;
export type OpenAiKind = (typeof OPENAI_KINDS)[number];

/** What an OpenAI-style task asked for; the request body itself is the `request` blob. */
export interface OpenAiRequest {
  /** The path under `/v1/` (`chat/completions`). */
  endpoint: string;
  model: string | null;
  stream: boolean;
  multipart: boolean;
}

/** An OpenAI-style call kept as a task: its answer is replayed byte for byte (`response`). */
export interface OpenAiTask extends TaskBase<OpenAiKind> {
  family: 'openai';
  openai: OpenAiRequest;
}
