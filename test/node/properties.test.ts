import { describe, it } from 'vitest';
import { checkAgainstReference, checkRandomCases } from '../gpu/checks.js';
import { withGpuErrors } from '../gpu/harness.js';
import { useDevice } from './device.js';

const gpu = useDevice();
const check = (c: Parameters<typeof checkAgainstReference>[1]) =>
  withGpuErrors(gpu.device, () => checkAgainstReference(gpu.device, c));

describe('WebGPU Adafactor against the float64 reference, on random inputs (Dawn)', () => {
  // Its cases draw options that need shader modules of their own, which a CPU adapter compiles slowly when cold.
  it('random shapes, options and buffer layouts', { timeout: 400_000 }, async () => {
    await withGpuErrors(gpu.device, () => checkRandomCases(gpu.device, 100));
  });

  it.each([
    ['a scalar', [[]]],
    ['[1]', [[1]]],
    ['[n]', [[1000]]],
    ['[1, n]', [[1, 333]]],
    ['[n, 1]', [[333, 1]]],
    ['rank 3: a batch of matrices', [[3, 65, 129]]],
    ['rank 4: a batch of matrices', [[2, 3, 17, 70]]],
    ['sizes off every tile size', [[95, 257], [97, 255], [127, 1], [4097], [1, 4095]]],
  ])('%s', async (_, shapes) => {
    await check({
      seed: Date.now() % 2 ** 31,
      shapes,
      options: { beta1: 0.9, weightDecay: 0.01 },
      steps: 3,
      layout: 'arena',
    });
  });

  it.each([
    ['quads, aligned tensors', 'arena', { gapFloats: 4, bufferMultipleOf: 16, expectView: 'f32x4' }],
    ['quads, tensors off quad boundaries', 'arena', { gapFloats: 3, bufferMultipleOf: 16, expectView: 'f32x4' }],
    ['single floats, buffers that end inside a quad', 'separate', { bufferMultipleOf: 4, expectView: 'f32' }],
  ] as const)('parameters read as %s', async (_, layout, how) => {
    // No element count is a multiple of 4, so exact-size buffers end inside a quad.
    const shapes = [[37, 70], [70], [3, 5, 9], [1001]];
    await check({
      seed: Date.now() % 2 ** 31,
      shapes,
      options: { beta1: 0.9, weightDecay: 0.01 },
      steps: 3,
      layout,
      ...how,
    });
  });

  it.each([
    [
      'whole aligned quads with no per-element test (parameters; gradients sit one float off)',
      'arena',
      { gapFloats: 4, bufferMultipleOf: 16, expectView: { param: 'quads', grad: 'f32x4' } },
    ],
    [
      'whole aligned quads with no per-element test, a buffer per tensor',
      'separate',
      { bufferMultipleOf: 16, expectView: 'quads' },
    ],
  ] as const)('parameters read as %s', async (_, layout, how) => {
    // Columns and vectors a multiple of 4 long: every quad is whole. Large enough for the passes and with
    // small ones for whole_tensor, and with momentum, which takes its own per-element path.
    const shapes = [[300, 72], [72], [3, 5, 12], [5000], [1000]];
    await check({
      seed: Date.now() % 2 ** 31,
      shapes,
      options: { beta1: 0.9, weightDecay: 0.01 },
      steps: 3,
      layout,
      ...how,
    });
  });

  it('a 2048 x 3000 matrix', async () => {
    await check({ seed: Date.now() % 2 ** 31, shapes: [[2048, 3000]], options: {}, steps: 2, layout: 'separate' });
  });

  it('a vector longer than 65535 x 256 elements', async () => {
    await check({
      seed: Date.now() % 2 ** 31,
      shapes: [[65535 * 256 + 1000]],
      options: {},
      steps: 2,
      layout: 'separate',
    });
  });

  it('2-D dispatch grids, forced by a low workgroups-per-dimension limit', async () => {
    await check({
      seed: Date.now() % 2 ** 31,
      shapes: [[300, 200], [20000], [5, 7, 9]],
      options: { limits: { maxWorkgroupsPerDimension: 3 } },
      steps: 2,
      layout: 'arena',
    });
  });
});
