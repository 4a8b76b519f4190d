import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/proc.js';

/**
 * The code documents itself: no comment points at a document that is not in the repository (the
 * product specification, the style guide, the reference notes that were used to write relayq),
 * and every `docs/…` file a comment names exists. A reader of the code has the repository only.
 */

const FOLDERS = ['api', 'worker', 'shared', 'sim', 'bin', 'cli', 'test', 'bench'];
const FILES = ['eslint.config.js', 'vitest.config.ts'];
const SELF = 'test/unit/no-outside-docs.test.ts';

/** Citations of documents outside the repository, by what gives them away. */
const OUTSIDE: [string, RegExp][] = [
  ['the specification', /\bSPEC\b|SPEC\.md/],
  ['a section sign', /§/],
  ['the style guide', /STYLE\.md/],
  ['the reference notes', /anchors\.md|mj-contract|task-families\.md|\breference\/\w/],
  ['a file beside the repository', /(\.\.\/)+shared\/(SPEC|STYLE|reference)/],
];

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(ts|js|mjs|cjs|lua)$/.test(name)) out.push(relative(ROOT, path));
    }
  };
  for (const folder of FOLDERS) if (existsSync(join(ROOT, folder))) walk(join(ROOT, folder));
  return [...out, ...FILES.filter((f) => existsSync(join(ROOT, f)))].filter((f) => f !== SELF);
}

describe('the code cites only documents in the repository', () => {
  const files = sourceFiles();

  it('finds the source files', () => {
    expect(files).toContain('api/app.ts');
    expect(files).toContain('bin/relayq.js');
  });

  it('has no comment citing the specification, the style guide or reference notes outside it', () => {
    const hits: string[] = [];
    for (const file of files) {
      readFileSync(join(ROOT, file), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          for (const [what, re] of OUTSIDE) if (re.test(line)) hits.push(`${file}:${i + 1} cites ${what}: ${line.trim()}`);
        });
    }
    expect(hits).toEqual([]);
  });

  it('names only docs/ files that exist', () => {
    const missing: string[] = [];
    for (const file of files) {
      for (const m of readFileSync(join(ROOT, file), 'utf8').matchAll(/\bdocs\/([\w./-]+\.md)/g)) {
        if (!existsSync(join(ROOT, 'docs', m[1]!))) missing.push(`${file}: docs/${m[1]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('catches a citation that comes back', () => {
    const line = ['// as ', 'SP', 'EC ', '\u00a7', '7 says'].join('');
    expect(OUTSIDE.some(([, re]) => re.test(line))).toBe(true);
  });
});

describe('docs/configuration.md', () => {
  it('names every setting relayq reads', async () => {
    const { loadConfig } = await import('../../shared/config.js');
    const doc = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');
    const settings = Object.keys(loadConfig({})).filter((k) => /^[A-Z][A-Z0-9_]+$/.test(k));
    expect(settings.length).toBeGreaterThan(30);
    expect(settings.filter((k) => !doc.includes(`\`${k}\``))).toEqual([]);
  });
});
