/**
 * AdafactorOptimizer on TensorFlow.js's webgpu backend in headless Chromium: Vite serves
 * test/browser/tfjs.html, which trains a small tfjs-layers model; its first steps match the
 * float64 reference on the same gradients, the loss falls, and the state is the factored one.
 */
import type { Page } from 'puppeteer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevPage, openDevPage } from './dev-page.js';
import type { TfjsTrainingResult } from './tfjs-page.js';

const TFJS = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu', '@tensorflow/tfjs-layers'];

let dev: DevPage | undefined;
let page: Page;
let problems: DevPage['problems'];

beforeAll(async () => {
  dev = await openDevPage('tfjs.html', TFJS);
  ({ page, problems } = dev);
  await page.waitForFunction(() => 'tfjsTraining' in window, { timeout: 120_000 });
}, 300_000);

afterAll(async () => {
  await dev?.close();
});

describe('AdafactorOptimizer on the tfjs webgpu backend in headless Chromium', () => {
  it('trains three dense layers: the first steps match the float64 reference, the loss falls, the state is factored', async () => {
    const result: TfjsTrainingResult = await page.evaluate(() => window.tfjsTraining.train({}, 3, 150, 1234));
    const found = problems.take();
    if (found.length > 0) throw new Error(found.join('\n'));
    console.log(
      `tfjs ${result.backend}: ${result.checkedSteps} steps within ${result.worstError.toExponential(2)} of RMS(x) of the reference; ` +
        `loss ${result.losses[0].toFixed(4)} -> ${result.losses.at(-1)!.toFixed(4)}; ${result.parameters} parameters; ` +
        `state: Adafactor ${result.adafactorStateBytes} bytes, tf.train.adam ${result.adamStateBytes} bytes`,
    );
    expect(result.backend).toBe('webgpu');
    expect(result.worstError).toBeLessThanOrEqual(1e-5);
    expect(result.losses.at(-1)!).toBeLessThan(result.losses[0] / 2);
    // Kernels [8, 32], [32, 16], [16, 1] keep a row and a column moment; biases a full one.
    expect([...result.stateShapes].sort()).toEqual(
      [
        'exp_avg_sq_row:8',
        'exp_avg_sq_col:32',
        'exp_avg_sq:32',
        'exp_avg_sq_row:32',
        'exp_avg_sq_col:16',
        'exp_avg_sq:16',
        'exp_avg_sq_row:16',
        'exp_avg_sq_col:1',
        'exp_avg_sq:1',
      ].sort(),
    );
    expect(result.adafactorStateBytes).toBe(4 * (8 + 32 + 32 + 16 + 16 + 1 + 32 + 16 + 1));
    expect(result.adamStateBytes).toBe(2 * 4 * result.parameters);
  });
});
