/**
 * The demo as a visitor sees it: built into a static site, served, opened in headless Chromium
 * and left to train. Saves a screenshot to test-output/demo.png.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser } from 'puppeteer';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoState } from '../../demo/main.js';
import { launchChromium, watchPage } from './launch.js';
import { type StaticServer, serveStatic } from './serve.js';

const root = resolve(import.meta.dirname, '../..');
/** Adafactor's loss must fall below half of its first value within this many steps. */
const STEP_BOUND = 300;
/** The screenshot shows the pictures at this step or later. */
const SCREENSHOT_STEP = 120;

let server: StaticServer;
let browser: Browser;

beforeAll(async () => {
  await build({ configFile: resolve(root, 'vite.config.ts'), mode: 'demo', logLevel: 'error' });
  server = await serveStatic(resolve(root, 'demo-dist'));
  browser = await launchChromium();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
});

describe('the demo', () => {
  it('trains both models; Adafactor halves its loss with under 5% of Adam\'s state', async () => {
    const page = await browser.newPage();
    await page.setViewport({ width: 1000, height: 900 });
    const problems = watchPage(page);
    await page.goto(server.url, { waitUntil: 'load' });
    const state = () => page.evaluate(() => JSON.parse(JSON.stringify(window.demo)) as DemoState);
    await page.waitForFunction(() => window.demo?.firstResultMs !== null || window.demo?.error !== null, { timeout: 60_000 });
    const first = await state();
    expect(first.error).toBeNull();
    console.log(`first visible result ${first.firstResultMs!.toFixed(0)} ms after opening the page`);

    await page.waitForFunction(
      (bound) => window.demo.error !== null || window.demo.step >= bound || (window.demo.step >= 20 && window.demo.loss.adafactor < window.demo.firstLoss.adafactor / 2),
      { timeout: 280_000, polling: 200 },
      STEP_BOUND,
    );
    // Then until the pictures show a step past that point, so that the screenshot shows them taking shape.
    const reached = (await state()).step;
    await page.waitForFunction((s) => window.demo.error !== null || window.demo.renderedStep >= s, { timeout: 240_000, polling: 200 }, Math.max(reached + 20, SCREENSHOT_STEP));
    const d = await state();
    expect(d.error).toBeNull();
    console.log(`step ${d.step}: loss Adafactor ${d.loss.adafactor} (first ${d.firstLoss.adafactor}), Adam ${d.loss.adam} (first ${d.firstLoss.adam}); ${d.stepsPerSecond.toFixed(1)} steps/s; state ${d.stateBytes.adafactor} vs ${d.stateBytes.adam} bytes`);
    expect(reached).toBeLessThan(STEP_BOUND);
    expect(Number.isFinite(d.loss.adafactor) && Number.isFinite(d.loss.adam)).toBe(true);
    expect(d.loss.adafactor).toBeLessThan(d.firstLoss.adafactor / 2);
    expect(d.stateBytes.adafactor).toBeGreaterThan(0);
    expect(d.stateBytes.adafactor).toBeLessThan(0.05 * d.stateBytes.adam);

    mkdirSync(resolve(root, 'test-output'), { recursive: true });
    await page.screenshot({ path: resolve(root, 'test-output/demo.png'), fullPage: true });
    const found = problems.take();
    if (found.length > 0) throw new Error(found.join('\n'));
    await page.close();
  });
});
