/**
 * Every task family relayq relays, one line each: a family is added here and in its own folders
 * (shared/families/<name>/, api/families/<name>/, worker/families/<name>/, sim/<name>.ts).
 */
export { mjFamily as mj } from './mj/family.js';
export { openaiFamily as openai } from './openai/family.js';
export { videoFamily as video } from './video/family.js';
export { sunoFamily as suno } from './suno/family.js';
export { lumaFamily as luma } from './luma/family.js';
export { anthropicFamily as anthropic } from './anthropic/family.js';
