import type { TestProject } from 'vitest/node';
import { launchRedis, type LaunchedRedis } from './redis.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

let launched: LaunchedRedis | null = null;

/** REDIS_URL when set; else a redis-server of our own on a free port; else a container. */
export async function setup(project: TestProject) {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv) {
    project.provide('redisUrl', fromEnv);
    return;
  }
  launched = await launchRedis();
  project.provide('redisUrl', launched.url);
}

export async function teardown() {
  await launched?.close();
}
