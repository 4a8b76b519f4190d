import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const base = [
  { ignores: ['node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      'no-console': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    // Tests read loose JSON answers.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['api/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['**/worker/**'] }] },
  },
  {
    files: ['worker/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['**/api/**'] }] },
  },
  {
    files: ['shared/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['**/api/**', '**/worker/**'] }] },
  },
];

// The core knows no task family by name: it works through the catalog
// (shared/families/{catalog,types,all}.ts) and each layer's loader. A family lives in its folders
// and sim/<family>.ts; shared/config.ts names the env variables (docs/configuration.md). The `mj-api-secret`
// credential header is a name every client sends, not a family reference.
const FAMILY_WORDS = 'mj|openai|suno|luma|video|anthropic';
const familyImports = [
  { group: ['**/families/*/**'], message: 'core code reaches a family only through the catalog (shared/families/catalog.ts) or its layer loader' },
  { regex: `^\\./(${FAMILY_WORDS})\\.js$`, message: 'the simulator core loads family simulators from the catalog' },
];
const noFamilyNames = [
  'error',
  {
    selector: `Literal[value=/^(${FAMILY_WORDS}|image|audio|text)([._:]|-(?!api-secret)|$)/]`,
    message: 'core code names no task family, kind or family queue: ask the catalog',
  },
  {
    selector: `TemplateElement[value.raw=/^(${FAMILY_WORDS})[._]/]`,
    message: 'core code names no task family, kind or family queue: ask the catalog',
  },
];
const familyFolders = ['**/families/*/**', 'shared/families/all.ts', 'shared/config.ts'];
const core = (files, layerPatterns) => ({
  files,
  ignores: familyFolders,
  rules: {
    'no-restricted-imports': ['error', { patterns: [...layerPatterns.map((p) => ({ group: [p] })), ...familyImports] }],
    'no-restricted-syntax': noFamilyNames,
  },
});

export default tseslint.config(
  ...base,
  core(['api/**/*.ts'], ['**/worker/**']),
  core(['worker/**/*.ts'], ['**/api/**']),
  core(['shared/**/*.ts'], ['**/api/**', '**/worker/**']),
  core(['sim/server.ts', 'sim/faults.ts', 'sim/types.ts', 'sim/main.ts'], []),
);
