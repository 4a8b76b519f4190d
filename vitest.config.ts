import { defineConfig } from 'vitest/config';

// `npm test` runs everything but test/slow/; `npm run test:slow` runs only test/slow/ (long
// fault and load runs that would push `npm test` past a few minutes). .ci/run runs both.
const slow = process.env.RELAYQ_SLOW === '1';

export default defineConfig({
  test: {
    include: slow ? ['test/slow/**/*.test.ts'] : ['test/**/*.test.ts'],
    exclude: slow ? [] : ['test/slow/**', 'node_modules/**'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: slow ? 300_000 : 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: process.env.CI ? ['default', ['json', { outputFile: slow ? 'test-results-slow.json' : 'test-results.json' }]] : ['default'],
  },
});
