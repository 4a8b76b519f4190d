#!/usr/bin/env node
// The `relayq` command (package.json "bin"). relayq is TypeScript run through tsx: register its
// loader, then run the command line. Paths resolve from this file, so it runs from any directory.
import process from 'node:process';
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
await main(process.argv);
