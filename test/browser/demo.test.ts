/**
 * The demo as a visitor sees it: built into a static site, served, opened cold in headless
 * Chromium (SwiftShader: no GPU) and left to train, first on a desktop screen, then on a phone.
 * Saves the screenshots the README shows: demo/screenshot.png (desktop, also copied to
 * test-output/demo.png) and demo/screenshot-phone.png.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser, Page, Viewport } from 'puppeteer';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoState } from '../../demo/main.js';
import { launchChromium, watchPage } from '../../tools/chromium.js';
import { type StaticServer, serveStatic } from '../../tools/serve.js';

const root = resolve(import.meta.dirname, '../..');
/** Adafactor's loss must fall below half of its first value within this many steps. */
const STEP_BOUND = 300;
/** The desktop screenshot shows the pictures at this step or later. */
const SCREENSHOT_STEP = 100;
/** The pictures must show a trained model this soon after the first step, by the page's clock. */
const FIRST_REDRAW_MS = 10_000;
/** The phone screenshot is taken once the pictures have been drawn this many times. */
const PHONE_REDRAWS = 2;
/** How closely the page's alpha_t must match rho_t * max(eps2, RMS(W)) recomputed here (f32 on the GPU). */
const STEP_SIZE_TOLERANCE = 1e-5;
/** Adafactor's defaults, which the page trains with: rho_t = min(1e-2, 1/sqrt(t)) and eps2. */
const rho = (t: number) => Math.min(1e-2, 1 / Math.sqrt(t));
const EPS2 = 1e-3;

const DESKTOP: Viewport = { width: 1280, height: 900 };
const PHONE: Viewport = { width: 390, height: 844, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

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

/** A fresh browser context (no cache from an earlier page) at this size, on the demo. */
async function openDemo(
  viewport: Viewport,
): Promise<{ page: Page; problems: { take: () => string[] }; state: () => Promise<DemoState> }> {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport(viewport);
  const problems = watchPage(page);
  await page.goto(server.url, { waitUntil: 'load' });
  const state = () => page.evaluate(() => JSON.parse(JSON.stringify(window.demo)) as DemoState);
  return { page, problems, state };
}

/** Waits for the first pictures of a trained model and checks they came soon after the first step. */
async function firstPictures(page: Page, state: () => Promise<DemoState>): Promise<DemoState> {
  await page.waitForFunction(() => window.demo?.firstRedrawAt != null || window.demo?.error != null, {
    timeout: 60_000,
    polling: 100,
  });
  const d = await state();
  expect(d.error).toBeNull();
  expect(d.renderedStep).toBeGreaterThan(0);
  const late = d.firstRedrawAt! - d.firstStepAt!;
  console.log(
    `first step ${d.firstStepAt!.toFixed(0)} ms after opening the page (pipelines compiled), first pictures ${late.toFixed(0)} ms later (step ${d.renderedStep}; that redraw took ${d.renderMs.toFixed(0)} ms)`,
  );
  expect(late).toBeLessThan(FIRST_REDRAW_MS);
  return d;
}

/** Where the page's layout puts what the visitor must see, in CSS pixels. */
function layout(page: Page) {
  return page.evaluate(() => {
    const box = (selector: string) => {
      const r = document.querySelector(selector)!.getBoundingClientRect();
      return { left: r.left, right: r.right, top: r.top, bottom: r.bottom };
    };
    return {
      viewport: { width: window.innerWidth, height: window.innerHeight },
      scrollWidth: document.documentElement.scrollWidth,
      pictures: [box('#target'), box('#adafactorImage'), box('#adamImage')],
      chart: box('#chart .uplot'),
      stepCharts: [box('#stepSizeChart .uplot'), box('#clipChart .uplot')],
      status: box('#status'),
      headline: box('.memory .headline'),
      ratio: document.getElementById('stateRatio')!.textContent,
      legend: document.querySelector('#chart .u-legend')!.textContent!.replace(/\s+/g, ' ').trim(),
      stepLegends: ['#stepSizeChart', '#clipChart']
        .map((id) => document.querySelector(`${id} .u-legend`)!.textContent!.replace(/\s+/g, ' ').trim())
        .join(' | '),
    };
  });
}

describe('the demo', () => {
  it("trains both models; Adafactor halves its loss with under 5% of Adam's state; pictures from the first seconds", async () => {
    const { page, problems, state } = await openDemo(DESKTOP);
    await firstPictures(page, state);

    await page.waitForFunction(
      (bound) =>
        window.demo.error !== null ||
        window.demo.step >= bound ||
        (window.demo.step >= 20 && window.demo.loss.adafactor < window.demo.firstLoss.adafactor / 2),
      { timeout: 280_000, polling: 200 },
      STEP_BOUND,
    );
    // Then until the pictures show a step past that point, so that the screenshot shows them taking shape.
    const reached = (await state()).step;
    await page.waitForFunction(
      (s) => window.demo.error !== null || window.demo.renderedStep >= s,
      { timeout: 240_000, polling: 200 },
      Math.max(reached + 20, SCREENSHOT_STEP),
    );
    const d = await state();
    expect(d.error).toBeNull();
    console.log(
      `step ${d.step}: loss Adafactor ${d.loss.adafactor} (first ${d.firstLoss.adafactor}), Adam ${d.loss.adam} (first ${d.firstLoss.adam}); ${d.stepsPerSecond.toFixed(1)} steps/s; ${d.redraws} redraws, the last ${d.renderMs.toFixed(0)} ms; state ${d.stateBytes.adafactor} vs ${d.stateBytes.adam} bytes`,
    );
    expect(reached).toBeLessThan(STEP_BOUND);
    expect(Number.isFinite(d.loss.adafactor) && Number.isFinite(d.loss.adam)).toBe(true);
    expect(d.loss.adafactor).toBeLessThan(d.firstLoss.adafactor / 2);
    expect(d.stateBytes.adafactor).toBeGreaterThan(0);
    expect(d.stateBytes.adafactor).toBeLessThan(0.05 * d.stateBytes.adam);
    expect(d.status).toMatch(/^Training: step \d+ · [\d.]+ steps\/s/);

    // The step charts: alpha_t and the clip divisor of the largest weight matrix, as stats() reported them.
    const points = d.adafactorStats;
    console.log(`${points.length} stats points of ${d.watched}, the last: ${JSON.stringify(points.at(-1))}`);
    expect(d.watched).toBe('dense1.weight');
    expect(points.length).toBeGreaterThanOrEqual(2);
    points.forEach((p, i) => {
      expect(Number.isInteger(p.step) && p.step >= 1 && p.step <= d.step + 1).toBe(true);
      if (i > 0) expect(p.step).toBeGreaterThan(points[i - 1].step);
      expect(Number.isFinite(p.stepSize) && p.stepSize > 0).toBe(true);
      const expected = rho(p.step) * Math.max(EPS2, p.paramRms);
      expect(
        Math.abs(p.stepSize - expected) / expected,
        `step ${p.step}: alpha_t ${p.stepSize}, expected ${expected}`,
      ).toBeLessThanOrEqual(STEP_SIZE_TOLERANCE);
      expect(p.clipDivisor).toBeGreaterThanOrEqual(1);
    });

    // Above the fold: the status line and the memory headline, read from the optimizers.
    const seen = await layout(page);
    expect(seen.status.bottom).toBeLessThanOrEqual(seen.viewport.height);
    expect(seen.headline.bottom).toBeLessThanOrEqual(seen.viewport.height);
    expect(seen.ratio).toBe(`${((100 * d.stateBytes.adafactor) / d.stateBytes.adam).toFixed(2)}%`);
    // The legend shows the latest losses, not "--".
    expect(seen.legend).not.toContain('--');
    expect(seen.legend).toMatch(/Adafactor\s*\d\.\d\de[-+]\d/);
    expect(seen.stepLegends).not.toContain('--');
    expect(seen.stepLegends).toMatch(/αₜ:?\s*\d\.\d\de-\d.*clip divisor:?\s*\d\.\d{3}/);

    await page.screenshot({ path: resolve(root, 'demo/screenshot.png'), fullPage: true });
    mkdirSync(resolve(root, 'test-output'), { recursive: true });
    copyFileSync(resolve(root, 'demo/screenshot.png'), resolve(root, 'test-output/demo.png'));
    const found = problems.take();
    if (found.length > 0) throw new Error(found.join('\n'));
    await page.browserContext().close();
  });

  it('fits a phone: no sideways scrolling, both pictures on screen, pictures redrawn', async () => {
    const { page, problems, state } = await openDemo(PHONE);
    await firstPictures(page, state);
    await page.waitForFunction(
      (n) => window.demo.error !== null || window.demo.redraws >= n,
      { timeout: 60_000, polling: 200 },
      PHONE_REDRAWS,
    );
    const d = await state();
    expect(d.error).toBeNull();

    const seen = await layout(page);
    console.log(
      `phone: step ${d.step}, pictures at step ${d.renderedStep} after ${d.redraws} redraws; page ${seen.scrollWidth} px wide in a ${seen.viewport.width} px viewport`,
    );
    expect(seen.viewport.width).toBe(PHONE.width);
    expect(seen.scrollWidth).toBeLessThanOrEqual(seen.viewport.width);
    for (const box of [...seen.pictures, seen.chart, ...seen.stepCharts]) {
      expect(box.left).toBeGreaterThanOrEqual(0);
      expect(box.right).toBeLessThanOrEqual(seen.viewport.width);
    }
    expect(seen.status.bottom).toBeLessThanOrEqual(seen.viewport.height);
    expect(seen.headline.bottom).toBeLessThanOrEqual(seen.viewport.height);

    await page.screenshot({ path: resolve(root, 'demo/screenshot-phone.png') });
    // The whole page too, for a look at the charts below the fold (not in the README).
    mkdirSync(resolve(root, 'test-output'), { recursive: true });
    await page.screenshot({ path: resolve(root, 'test-output/demo-phone-full.png'), fullPage: true });
    const found = problems.take();
    if (found.length > 0) throw new Error(found.join('\n'));
    await page.browserContext().close();
  });
});
