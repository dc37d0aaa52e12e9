/**
 * The GPU checks in headless Chromium: Vite serves test/browser/index.html from the library's
 * sources, puppeteer drives it, and each check's result comes back as its own test.
 */
import type { Page } from 'puppeteer';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import goldenJson from '../data/hf-adafactor.json';
import { decodeGolden } from '../gpu/golden.js';
import { type DevPage, openDevPage } from './dev-page.js';
import { CHROMIUM_FLAGS, launchChromium } from '../../tools/chromium.js';
import type { CheckName } from './page.js';

const goldenNames = decodeGolden(goldenJson as Parameters<typeof decodeGolden>[0]).map((c) => c.name);

let dev: DevPage | undefined;
let page: Page;
let problems: DevPage['problems'];

beforeAll(async () => {
  dev = await openDevPage('index.html', ['fast-check']);
  ({ page, problems } = dev);
  await page.waitForFunction(() => 'gpuChecks' in window, { timeout: 60_000 });
  await page.evaluate(() => window.gpuChecks.ready);
  console.log(`Chromium WebGPU adapter: ${await run('adapter')}`);
}, 180_000);

afterAll(async () => {
  await dev?.close();
});

afterEach(() => failOnProblems());

function failOnProblems(): void {
  const found = problems.take();
  if (found.length > 0) throw new Error(found.join('\n'));
}

async function run(name: CheckName, ...args: unknown[]): Promise<unknown> {
  const result = await page.evaluate((n, a) => window.gpuChecks.run(n, ...a), name, args);
  failOnProblems();
  return result;
}

describe('WebGPU Adafactor in headless Chromium', () => {
  for (const name of goldenNames) {
    it(`golden: ${name}`, async () => {
      await run('golden', name, 'arena');
    });
  }
  it('golden: every case with a buffer per tensor', async () => {
    for (const name of goldenNames) await run('golden', name, 'separate');
  });
  it('golden: every case with small tensors through the six passes', async () => {
    for (const name of goldenNames) await run('golden', name, 'arena', 'passes');
  });
  it.each(['torch', 'optax', 'timm'])("%s's own Adafactor traces, through its preset", async (library) => {
    console.log(await run('traces', library));
  });
  it('random shapes, options and layouts against the float64 reference', async () => {
    console.log(await run('randomCases', 25));
  });
  it.each([
    ['scalars, [1], [n], [1, n], [n, 1]', [[], [1], [1000], [1, 333], [333, 1]]],
    [
      'rank 3 and 4',
      [
        [3, 65, 129],
        [2, 3, 17, 70],
      ],
    ],
    ['sizes off every tile size', [[95, 257], [97, 255], [127, 1], [4097], [1, 4095]]],
  ])('%s against the float64 reference', async (_, shapes) => {
    await run('shapes', shapes, Date.now() % 2 ** 31);
  });
  it('two steps in one encoder equal two steps submitted apart', async () => {
    await run('twoStepsInOneEncoder');
  });
  it('65 steps recorded into two encoders before a submit equal a submit per step', async () => {
    await run('stepsAcrossEncoders', [64, 1]);
  });
  it('two runs on the same inputs are bit-identical', async () => {
    await run('determinism');
  });
  it('picks the kernel variant for SwiftShader', async () => {
    const adapter = String(await run('adapter'));
    expect(await run('autoVariant')).toBe(adapter.includes('swiftshader') ? 'unsynced' : 'wide');
  });
  it('every kernel variant, forced: golden traces, random cases, bit-identical reruns', async () => {
    for (const variant of (await run('variantNames')) as string[]) console.log(await run('variant', variant, 10));
  });
});

describe('the browser harness', () => {
  it('a Chromium without WebGPU fails with a clear message, never a skip', async () => {
    const noWebGpu = await launchChromium(
      CHROMIUM_FLAGS.filter((f) => f !== '--enable-unsafe-webgpu').concat('--disable-webgpu'),
    );
    try {
      const other = await noWebGpu.newPage();
      await other.goto(new URL('index.html', dev!.server.resolvedUrls!.local[0]).href, { waitUntil: 'load' });
      await other.waitForFunction(() => 'gpuChecks' in window, { timeout: 60_000 });
      await expect(other.evaluate(() => window.gpuChecks.ready)).rejects.toThrow(
        /navigator.gpu is missing|no WebGPU adapter in Chromium/,
      );
    } finally {
      await noWebGpu.close();
    }
  });
});
