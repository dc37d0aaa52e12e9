/**
 * The jax-js demo (demo/jax.html) as a visitor sees it: built into the static site, served,
 * opened cold in headless Chromium (SwiftShader: no GPU) on a desktop screen and on a phone. The
 * MLP trains on jax-js's webgpu device with this library's Adafactor; its loss must fall over the
 * first steps, nothing on the page may error, and the page must fit both screens. Then once in a
 * Chromium without WebGPU, where the page must fall back to jax-js's wasm device and say so.
 * Saves screenshots to test-output/ (jax-demo.png, jax-demo-phone.png, jax-demo-wasm.png).
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser, Page, Viewport } from 'puppeteer';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JaxDemoState } from '../../demo/jax.js';
import { CHROMIUM_FLAGS, launchChromium, watchPage } from '../../tools/chromium.js';
import { type StaticServer, serveStatic } from '../../tools/serve.js';

const root = resolve(import.meta.dirname, '../..');
/** Steps the page trains before the loss is looked at. */
const STEPS = 60;
/** Steps averaged at each end: the minibatch losses are noisy. */
const WINDOW = 10;
/** The mean loss of the last WINDOW steps must be below this fraction of the first WINDOW's. */
const FALL = 0.5;

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

/**
 * Opens the page cold (a fresh browser context of `on`) at `viewport`, lets it train STEPS steps,
 * and checks the run (on `device`) and the layout.
 */
async function trainAndCheck(
  on: Browser,
  viewport: Viewport,
  device: 'webgpu' | 'wasm',
  screenshot: string,
): Promise<void> {
  const context = await on.createBrowserContext();
  const page: Page = await context.newPage();
  await page.setViewport(viewport);
  const problems = watchPage(page);
  await page.goto(new URL('jax.html', server.url).href, { waitUntil: 'load' });
  await page.waitForFunction(
    (steps) => window.jaxDemo?.error != null || (window.jaxDemo?.step >= steps && window.jaxDemo.renderedStep > 0),
    { timeout: 240_000, polling: 200 },
    STEPS,
  );
  const d = await page.evaluate(() => JSON.parse(JSON.stringify(window.jaxDemo)) as JaxDemoState);
  expect(d.error).toBeNull();
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = mean(d.losses.slice(0, WINDOW));
  const last = mean(d.losses.slice(STEPS - WINDOW, STEPS));
  console.log(
    `${viewport.width} px: on ${d.device}, step ${d.step}, ${d.stepsPerSecond.toFixed(1)} steps/s; mean loss of steps 1-${WINDOW} ${first.toExponential(3)}, of steps ${STEPS - WINDOW + 1}-${STEPS} ${last.toExponential(3)}; state ${d.stateBytes.adafactor} bytes against Adam's ${d.stateBytes.adam} for ${d.parameters} parameters`,
  );
  expect(d.device).toBe(device);
  expect(d.losses.slice(0, STEPS).every(Number.isFinite)).toBe(true);
  expect(last).toBeLessThan(FALL * first);
  expect(d.stateBytes.adafactor).toBeGreaterThan(0);
  expect(d.stateBytes.adam).toBe(8 * d.parameters + 4);
  expect(d.stateBytes.adafactor).toBeLessThan(0.05 * d.stateBytes.adam);
  expect(d.status).toMatch(new RegExp(`^Training on ${device}: step \\d+ · `));

  const seen = await page.evaluate(() => {
    const box = (selector: string) => {
      const r = document.querySelector(selector)!.getBoundingClientRect();
      return { left: r.left, right: r.right, top: r.top, bottom: r.bottom };
    };
    return {
      viewport: { width: window.innerWidth, height: window.innerHeight },
      scrollWidth: document.documentElement.scrollWidth,
      boxes: [box('#target'), box('#fit'), box('#chart .uplot'), box('.memory'), box('.code')],
      status: box('#status'),
      headline: box('.memory .headline'),
      ratio: document.getElementById('stateRatio')!.textContent,
      device: document.getElementById('device')!.textContent,
      legend: document.querySelector('#chart .u-legend')!.textContent!.replace(/\s+/g, ' ').trim(),
    };
  });
  expect(seen.scrollWidth).toBeLessThanOrEqual(seen.viewport.width);
  for (const b of seen.boxes) {
    expect(b.left).toBeGreaterThanOrEqual(0);
    expect(b.right).toBeLessThanOrEqual(seen.viewport.width);
  }
  expect(seen.status.bottom).toBeLessThanOrEqual(seen.viewport.height);
  expect(seen.headline.bottom).toBeLessThanOrEqual(seen.viewport.height);
  expect(seen.ratio).toBe(`${((100 * d.stateBytes.adafactor) / d.stateBytes.adam).toFixed(2)}%`);
  expect(seen.device).toMatch(
    device === 'webgpu' ? /device: webgpu/ : /No WebGPU in this browser: jax-js trains on its wasm device/,
  );
  expect(seen.legend).toMatch(/Adafactor\s*\d\.\d\de[-+]\d/);

  mkdirSync(resolve(root, 'test-output'), { recursive: true });
  await page.screenshot({ path: resolve(root, 'test-output', screenshot), fullPage: true });
  const found = problems.take();
  if (found.length > 0) throw new Error(found.join('\n'));
  await context.close();
}

describe('the jax-js demo', () => {
  // Chromium here has WebGPU (SwiftShader): the page must not fall back.
  it(`trains on webgpu: the loss falls by half over ${STEPS} steps, on a desktop screen`, () =>
    trainAndCheck(browser, DESKTOP, 'webgpu', 'jax-demo.png'));
  it('and on a phone: the same, with nothing wider than the screen', () =>
    trainAndCheck(browser, PHONE, 'webgpu', 'jax-demo-phone.png'));
  it('without WebGPU, trains on wasm and says so', async () => {
    // Without this flag headless Chromium has navigator.gpu but no adapter.
    const plain = await launchChromium(CHROMIUM_FLAGS.filter((flag) => flag !== '--enable-unsafe-webgpu'));
    try {
      await trainAndCheck(plain, DESKTOP, 'wasm', 'jax-demo-wasm.png');
    } finally {
      await plain.close();
    }
  });
});
