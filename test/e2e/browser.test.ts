import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_NAMES } from '../../shared/families/catalog.js';
import { KEYS, startStack, type Stack } from '../support/stack.js';

/**
 * A real browser (Debian's chromium, headless, driven by playwright-core) on the two pages people
 * open rather than call: the API reference at /docs and the queue dashboard at /admin/queues.
 * .ci/run installs chromium; CHROMIUM_PATH points elsewhere.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// On a developer machine without chromium the test says so and is skipped; under CI (which
// installs it) a missing browser fails the run.
const runs = existsSync(CHROMIUM) || Boolean(process.env.CI);
if (!runs) process.stderr.write(`browser test skipped: no chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)\n`);

describe.runIf(runs)('in a headless browser', () => {
  let s: Stack;
  let browser: Browser;
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install chromium (as .ci/run does), or set CHROMIUM_PATH`);
    s = await startStack({ worker: false });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });

  it('shows the API reference at /docs with the routes of every family', async () => {
    const page = await browser.newPage();
    await page.goto(`${s.api.url}/docs`);
    await page.locator('.opblock').first().waitFor({ timeout: 20_000 });
    const paths = await page.locator('.opblock-summary-path').allInnerTexts();
    const text = paths.map((p) => p.replace(/\u200b/g, '').trim());
    for (const route of ['/mj/submit/imagine', '/v1/chat/completions', '/v1/messages', '/suno/submit/{action}', '/luma/generations', '/v1/videos', '/v1/tasks/{id}']) {
      expect(text.some((t) => t === route || t.startsWith(route)), route).toBe(true);
    }
    await page.close();
  }, 60_000);

  it('signs an admin in on /admin/queues and shows every queue', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${s.api.url}/admin/queues/`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    // A wrong key is refused and leaves no session.
    await page.fill('input[name="key"]', KEYS.acme);
    await Promise.all([page.waitForLoadState('load'), page.click('button[type="submit"], input[type="submit"]')]);
    expect(new URL(page.url()).pathname).not.toBe('/admin/queues/');
    await page.goto(`${s.api.url}/admin/login`);
    await page.fill('input[name="key"]', KEYS.admin);
    await Promise.all([page.waitForURL(/\/admin\/queues\/?$/), page.click('button[type="submit"], input[type="submit"]')]);
    // The key never appears in a URL the browser saw.
    expect(page.url()).not.toContain(KEYS.admin);
    for (const q of QUEUE_NAMES) await page.getByText(q, { exact: true }).first().waitFor({ timeout: 20_000 });
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'relayq_admin')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(JSON.stringify(cookies)).not.toContain(KEYS.admin);
    await context.close();
  }, 60_000);
});
