import { FAMILIES } from '../../shared/families/catalog.js';
import type { ApiFamily } from './types.js';

/**
 * The API module of every family in the catalog (`./<name>/index.ts`). Throws at start when one is
 * missing or names another family: a family without routes is a build mistake, not a runtime case.
 */
/** The family's module, resolved next to this file (built at run time, so bundlers leave it alone). */
const moduleOf = (name: string) => new URL(`./${name}/index.js`, import.meta.url).href;

export async function loadApiFamilies(): Promise<ApiFamily[]> {
  const out: ApiFamily[] = [];
  for (const family of FAMILIES) {
    let mod: { default?: ApiFamily };
    try {
      mod = (await import(/* @vite-ignore */ moduleOf(family.name))) as { default?: ApiFamily };
    } catch (err) {
      throw new Error(`family ${family.name} has no API module (api/families/${family.name}/index.ts): ${(err as Error).message}`, { cause: err });
    }
    if (mod.default?.name !== family.name) throw new Error(`api/families/${family.name}/index.ts must export default the API family named ${family.name}`);
    out.push(mod.default);
  }
  return out;
}
