// Every kernel variant on this adapter (Dawn in Node): the golden traces, the random property
// check against the float64 reference, shapes at and off each variant's tile edges, and
// bit-identical reruns. 'auto' picks one variant per adapter; tests force each in turn.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import goldenJson from '../data/hf-adafactor.json';
import { Adafactor, type AdafactorOptions } from '../../src/index.js';
import { KERNEL_VARIANT_NAMES } from '../../src/core/options.js';
import { KERNEL_VARIANTS, autoVariant, workgroupBytes } from '../../src/gpu/kernels.js';
import { checkAgainstReference, checkDeterminism, checkGoldenCase, checkRandomCases } from '../gpu/checks.js';
import { decodeGolden } from '../gpu/golden.js';
import { withGpuErrors } from '../gpu/harness.js';
import { useDevice } from './device.js';
import { BufferUsage } from '../../src/gpu/usage.js';

// A fixed seed: the same random cases every run (properties.test.ts explores new ones).
fc.configureGlobal({ seed: 20261201 });

const cases = decodeGolden(goldenJson as Parameters<typeof decodeGolden>[0]);
const gpu = useDevice();

describe('kernel variants', () => {
  it('auto picks unsynced for the CPU adapters (SwiftShader, lavapipe) and wide for everything else', () => {
    expect(autoVariant({ vendor: 'google', architecture: 'swiftshader', description: '' })).toBe('unsynced');
    expect(
      autoVariant({ vendor: 'mesa', architecture: 'software', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' }),
    ).toBe('unsynced');
    expect(autoVariant({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' })).toBe('wide');
    expect(autoVariant(undefined)).toBe('wide');
  });

  it('every variant fits in 16 KiB of workgroup memory', () => {
    for (const name of KERNEL_VARIANT_NAMES) expect(workgroupBytes(KERNEL_VARIANTS[name])).toBeLessThanOrEqual(16384);
  });

  it('the option is checked and optimizer-wide', () => {
    const buffer = gpu.device.createBuffer({ size: 64, usage: BufferUsage.STORAGE });
    const grad = gpu.device.createBuffer({ size: 64, usage: BufferUsage.STORAGE });
    const params = [{ param: buffer, grad, shape: [4, 4] }];
    expect(() => new Adafactor(gpu.device, params, { kernelVariant: 'fast' as never })).toThrow(
      /kernelVariant must be one of 'auto', 'wide', 'unsynced'/,
    );
    expect(() => new Adafactor(gpu.device, [{ params, kernelVariant: 'wide' } as never])).toThrow(
      /sets kernelVariant, which applies to the whole optimizer/,
    );
    const optimizer = new Adafactor(gpu.device, params);
    expect(optimizer.kernelVariant).toBe(autoVariant(gpu.device.adapterInfo));
    optimizer.destroy();
    buffer.destroy();
    grad.destroy();
  });
});

for (const kernelVariant of KERNEL_VARIANT_NAMES) {
  const forced: AdafactorOptions = { kernelVariant };
  const { TILE_ROWS: rows, TILE_COLS: cols, VECTOR_TILE: vector } = KERNEL_VARIANTS[kernelVariant];

  describe(`kernel variant '${kernelVariant}' (Dawn)`, () => {
    for (const golden of cases) {
      it(`golden trace ${golden.name}`, async () => {
        await withGpuErrors(gpu.device, () => checkGoldenCase(gpu.device, golden, 'arena', 'whole', forced));
      });
      it(`golden trace ${golden.name}, small tensors through the six passes`, async () => {
        await withGpuErrors(gpu.device, () => checkGoldenCase(gpu.device, golden, 'arena', 'passes', forced));
      });
    }

    // Its cases draw options that need shader modules of their own, which a CPU adapter compiles slowly when cold.
    it('random shapes, options and buffer layouts', { timeout: 300_000 }, async () => {
      await withGpuErrors(gpu.device, () => checkRandomCases(gpu.device, 40, forced));
    });

    it('shapes at and off its tile edges, with momentum and weight decay', async () => {
      const shapes = [
        [rows, cols],
        [rows + 1, cols - 1],
        [rows - 1, cols + 1],
        [2, 2 * rows + 3, 2 * cols + 5],
        [vector],
        [vector + 1],
        [3, 7],
        [5],
      ];
      await withGpuErrors(gpu.device, () =>
        checkAgainstReference(gpu.device, {
          seed: 11,
          shapes,
          options: { beta1: 0.9, weightDecay: 0.01, ...forced },
          steps: 3,
          layout: 'arena',
        }),
      );
    });

    it('gives bit-identical results when run again', async () => {
      await withGpuErrors(gpu.device, () => checkDeterminism(gpu.device, forced));
    });
  });
}
