/**
 * The jax entry (webgpu-adafactor/jax) on jax-js's webgpu backend in headless Chromium, with and
 * without jit: Vite serves test/browser/jax.html, and each check of test/browser/jax-page.ts comes
 * back as its own test. The same checks as test/cpu/jax.test.ts on jax-js's cpu and wasm: against
 * the float64 reference on fresh random inputs, and against Hugging Face's and optax's golden
 * traces through the presets.
 */
import type { Page } from 'puppeteer';
import { afterAll, afterEach, beforeAll, describe, it } from 'vitest';
import { GOLDEN_SUITES, OPTION_SETS, replayable } from '../gpu/jax.js';
import { type DevPage, openDevPage } from './dev-page.js';

/** Time for a check, most of it jax-js compiling its webgpu shaders on SwiftShader. */
const CHECK_TIMEOUT = 120_000;

let dev: DevPage | undefined;
let page: Page;
let problems: DevPage['problems'];

beforeAll(async () => {
  dev = await openDevPage('jax.html', ['@jax-js/jax']);
  ({ page, problems } = dev);
  await page.waitForFunction(() => 'jaxChecks' in window, { timeout: 120_000 });
  console.log(`jax-js webgpu in Chromium on ${await page.evaluate(() => window.jaxChecks.ready)}`);
  failOnProblems();
}, 180_000);

afterAll(async () => {
  await dev?.close();
});

afterEach(() => failOnProblems());

function failOnProblems(): void {
  const found = problems.take();
  if (found.length > 0) throw new Error(found.join('\n'));
}

describe('jax entry: jax-js webgpu in headless Chromium, against the float64 reference', () => {
  for (const jitted of [false, true]) {
    it.each(OPTION_SETS.map(([name]) => name))(
      `%s (webgpu${jitted ? ', jit' : ''})`,
      async (name) => {
        const seed = Date.now() % 2 ** 31;
        try {
          await page.evaluate((n, j, s) => window.jaxChecks.againstReference(n, j, s), name, jitted, seed);
        } catch (error) {
          throw new Error(`seed ${seed}: ${error instanceof Error ? error.message : String(error)}`);
        }
      },
      CHECK_TIMEOUT,
    );
  }
});

describe("jax entry: Hugging Face's and optax's golden traces through the presets, on jax-js webgpu", () => {
  for (const [library, cases] of Object.entries(GOLDEN_SUITES)) {
    for (const jitted of [false, true]) {
      // A learning rate that is a function of the step is refused under jit (test/cpu/jax.test.ts checks the refusal).
      for (const golden of replayable(cases, jitted)) {
        it(
          `${library}: ${golden.name} (webgpu${jitted ? ', jit' : ''})`,
          async () => {
            await page.evaluate((l, n, j) => window.jaxChecks.golden(l, n, j), library, golden.name, jitted);
          },
          CHECK_TIMEOUT,
        );
      }
    }
  }
});
