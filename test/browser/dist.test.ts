/**
 * The published bundle in a browser, loaded as users load it: `npm run build`, then a plain
 * module script imports dist/webgpu-adafactor.js from a static server (no bundler) and replays a
 * golden trace of Hugging Face Adafactor.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import type { Browser } from 'puppeteer';
import { afterAll, beforeAll, describe, it } from 'vitest';
import goldenJson from '../data/hf-adafactor.json';
import { decodeGolden } from '../gpu/golden.js';
import { expectClose } from '../gpu/harness.js';
import { launchChromium, watchPage } from '../../tools/chromium.js';
import { type StaticServer, serveStatic } from '../../tools/serve.js';

const root = resolve(import.meta.dirname, '../..');
let server: StaticServer;
let browser: Browser;

beforeAll(async () => {
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'pipe' });
  server = await serveStatic(root);
  browser = await launchChromium();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
});

describe('the published bundle in headless Chromium', () => {
  it('dist/webgpu-adafactor.js, imported by a page with no bundler, reproduces a golden trace', async () => {
    const golden = decodeGolden(goldenJson as Parameters<typeof decodeGolden>[0]).find(
      (c) => c.name === 'hf-defaults',
    )!;
    const page = await browser.newPage();
    const problems = watchPage(page);
    await page.goto(`${server.url}test/browser/dist-page.html`, { waitUntil: 'load' });
    await page.waitForFunction(() => (window as { distReady?: boolean }).distReady === true, { timeout: 60_000 });
    const trace = {
      options: golden.options,
      params: golden.params.map((p) => ({ shape: p.shape, init: Array.from(p.init) })),
      steps: golden.steps.map((s) => ({ grads: s.grads.map((g) => Array.from(g)), read: s.expected !== null })),
    };
    const results = await page.evaluate(
      (t) => (window as unknown as { runTrace: (t: unknown) => Promise<number[][][]> }).runTrace(t),
      trace,
    );
    const expected = golden.steps.filter((s) => s.expected !== null);
    if (results.length !== expected.length)
      throw new Error(`${results.length} results for ${expected.length} expected steps`);
    results.forEach((params, k) =>
      params.forEach((actual, i) =>
        expectClose(
          actual,
          expected[k].expected![i],
          `dist bundle: hf-defaults ${golden.params[i].name}, checked step ${k + 1}`,
        ),
      ),
    );
    const found = problems.take();
    if (found.length > 0) throw new Error(found.join('\n'));
    await page.close();
  });
});
