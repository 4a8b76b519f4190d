import { run as runProc, type Proc } from './proc.js';

export { killGroup, type Proc } from './proc.js';
export { waitFor } from './stack.js';

/** A role run with the tracing preload, as the npm scripts and the containers run it. */
export const run = (entry: string, env: Record<string, string>): Proc => runProc(process.execPath, ['--import', 'tsx', '--import', './shared/telemetry/preload.ts', entry], env);
