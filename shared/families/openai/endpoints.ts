import type { OpenAiKind } from './task.js';

/** The OpenAI routes relayq serves as tasks, keyed by their path under `/v1/`. */
export interface Endpoint {
  kind: OpenAiKind;
  /** The queue of its workload, so text, image and audio scale separately. */
  queue: 'text' | 'image' | 'audio';
  body: 'json' | 'multipart';
  /** `stream: true` is relayed as server-sent events. */
  streamable: boolean;
}

export const ENDPOINTS = {
  completions: { kind: 'text.completion', queue: 'text', body: 'json', streamable: true },
  'chat/completions': { kind: 'chat.completion', queue: 'text', body: 'json', streamable: true },
  embeddings: { kind: 'embedding', queue: 'text', body: 'json', streamable: false },
  'images/generations': { kind: 'image.generate', queue: 'image', body: 'json', streamable: false },
  'images/edits': { kind: 'image.edit', queue: 'image', body: 'multipart', streamable: false },
  'images/variations': { kind: 'image.variation', queue: 'image', body: 'multipart', streamable: false },
  'audio/speech': { kind: 'audio.speech', queue: 'audio', body: 'json', streamable: false },
  'audio/transcriptions': { kind: 'audio.transcription', queue: 'audio', body: 'multipart', streamable: false },
  'audio/translations': { kind: 'audio.translation', queue: 'audio', body: 'multipart', streamable: false },
} as const satisfies Record<string, Endpoint>;

export type EndpointPath = keyof typeof ENDPOINTS;

/** Multipart requests keep their non-file fields in order, repeated names included. */
export type FormFields = [string, string][];
