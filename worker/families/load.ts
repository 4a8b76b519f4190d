import { FAMILIES } from '../../shared/families/catalog.js';
import type { WorkerFamily } from './types.js';

/**
 * The worker module of every family in the catalog (`./<name>/index.ts`). Throws at start when one
 * is missing or names another family.
 */
/** The family's module, resolved next to this file (built at run time, so bundlers leave it alone). */
const moduleOf = (name: string) => new URL(`./${name}/index.js`, import.meta.url).href;

export async function loadWorkerFamilies(): Promise<WorkerFamily[]> {
  const out: WorkerFamily[] = [];
  for (const family of FAMILIES) {
    let mod: { default?: WorkerFamily };
    try {
      mod = (await import(/* @vite-ignore */ moduleOf(family.name))) as { default?: WorkerFamily };
    } catch (err) {
      throw new Error(`family ${family.name} has no worker module (worker/families/${family.name}/index.ts): ${(err as Error).message}`, { cause: err });
    }
    if (mod.default?.name !== family.name) throw new Error(`worker/families/${family.name}/index.ts must export default the worker family named ${family.name}`);
    out.push(mod.default);
  }
  return out;
}
