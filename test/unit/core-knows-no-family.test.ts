import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * The lint rules that keep the core free of family names (a family lives in its own folders): run on
 * code placed in core folders, they refuse a family's import, kind literal and queue name; in a
 * family's folder the same code passes.
 */
describe('lint: the core names no task family', () => {
  const eslint = new ESLint();
  const rulesHit = async (path: string, code: string) => {
    const [result] = await eslint.lintText(code, { filePath: path });
    return result!.messages.map((m) => m.ruleId);
  };

  it.each(['worker/dispatch-extra.ts', 'api/routes/extra.ts', 'shared/tasks/extra.ts'])('refuses family imports and names in %s', async (path) => {
    expect(await rulesHit(path, "import { MJ_KINDS } from '../families/mj/task.js';\nexport const k = [MJ_KINDS];\n")).toContain('no-restricted-imports');
    expect(await rulesHit(path, "export const k = 'suno.music';\n")).toEqual(['no-restricted-syntax']);
    expect(await rulesHit(path, "export const q = 'video';\n")).toEqual(['no-restricted-syntax']);
    expect(await rulesHit(path, 'export const id = (n: number) => `anthropic_${n}`;\n')).toEqual(['no-restricted-syntax']);
  });

  it('refuses a family simulator imported by the simulator core', async () => {
    expect(await rulesHit('sim/server.ts', "import x from './suno.js';\nexport default x;\n")).toEqual(['no-restricted-imports']);
  });

  it('lets a family name itself in its folders, and the core speak of mj-api-secret and plain words', async () => {
    expect(await rulesHit('worker/families/suno/extra.ts', "export const k = 'suno.music';\n")).toEqual([]);
    expect(await rulesHit('api/auth-extra.ts', "export const h = ['mj-api-secret', 'text/plain', 'imagery'];\n")).toEqual([]);
  });
});
