import { describe, expect, it } from 'vitest';
import { Adafactor, decodeSafetensors, float32Values } from '../../src/index.js';
import { checkAgainstReference } from '../gpu/checks.js';
import { TensorSet, expectClose, normals, random, withGpuErrors } from '../gpu/harness.js';
import { useDevice } from './device.js';

const gpu = useDevice();

describe("factorDims: 'largest2'", () => {
  it('saves R over the tensor without its column dim and C without its row dim, in that shape', async () => {
    await withGpuErrors(gpu.device, async () => {
      const shape = [6, 3, 5, 2]; // factored dims 0 (6) and 2 (5); batch dims 3 (between) and 2 (after)
      const rand = random(3);
      const grad = normals(180, rand);
      const tensors = new TensorSet(gpu.device, [shape], [normals(180, rand)]);
      const optimizer = new Adafactor(gpu.device, tensors.params, { factorDims: 'largest2' });
      tensors.writeGrads([grad]);
      optimizer.step();
      const saved = decodeSafetensors(await optimizer.saveState());
      const row = saved.tensors.get('p0.exp_avg_sq_row')!;
      const col = saved.tensors.get('p0.exp_avg_sq_col')!;
      expect(row.shape).toEqual([6, 3, 2]);
      expect(col.shape).toEqual([3, 5, 2]);
      // At step 1 beta2 is 0: R and C are the means of G^2 + eps1 over the other factored dim.
      const q = (a: number, m: number, c: number, n: number) => grad[((a * 3 + m) * 5 + c) * 2 + n] ** 2 + 1e-30;
      const expectedRow = new Float64Array(36);
      const expectedCol = new Float64Array(30);
      for (let a = 0; a < 6; a++)
        for (let m = 0; m < 3; m++)
          for (let c = 0; c < 5; c++)
            for (let n = 0; n < 2; n++) {
              expectedRow[(a * 3 + m) * 2 + n] += q(a, m, c, n) / 5;
              expectedCol[(m * 5 + c) * 2 + n] += q(a, m, c, n) / 6;
            }
      expectClose(float32Values(row), expectedRow, 'R');
      expectClose(float32Values(col), expectedCol, 'C');
      // And it loads back: save, load into a fresh optimizer, save again, same bytes.
      const again = new Adafactor(gpu.device, tensors.params, { factorDims: 'largest2' });
      again.loadState(await optimizer.saveState());
      expect(await again.saveState()).toEqual(await optimizer.saveState());
      for (const o of [optimizer, again]) o.destroy();
      tensors.destroy();
    });
  });

  it('strided columns and forced windows match the float64 reference', async () => {
    const probe = new TensorSet(gpu.device, [[300, 3, 200, 2]], [new Float32Array(360000)], 'separate');
    const windowed = new Adafactor(gpu.device, probe.params, {
      factorDims: 'largest2',
      limits: { maxBindingBytes: 1_300_000 },
    });
    expect(windowed.dispatchesPerStep).toBeGreaterThan(5); // several windows
    windowed.destroy();
    probe.destroy();
    for (const layout of ['arena', 'separate'] as const) {
      await withGpuErrors(gpu.device, () =>
        checkAgainstReference(gpu.device, {
          seed: Date.now() % 2 ** 31,
          shapes: [[300, 3, 200, 2], [70, 2, 90], [64]],
          options: { factorDims: 'largest2', beta1: 0.9, limits: { maxBindingBytes: 1_300_000 } },
          steps: 3,
          layout,
        }),
      );
    }
  });
});

describe("factorDims: 'conv' and a function", () => {
  it("'conv' factors a convolution kernel's channels, as timm does, and matches the float64 reference", async () => {
    const tensors = new TensorSet(gpu.device, [[20, 18, 3, 3]], [new Float32Array(3240)]);
    const optimizer = new Adafactor(gpu.device, tensors.params, { factorDims: 'conv', minDimSizeToFactor: 17 });
    const saved = decodeSafetensors(await optimizer.saveState());
    expect(saved.tensors.get('p0.exp_avg_sq_row')!.shape).toEqual([20, 3, 3]);
    expect(saved.tensors.get('p0.exp_avg_sq_col')!.shape).toEqual([18, 3, 3]);
    optimizer.destroy();
    tensors.destroy();
    for (const layout of ['arena', 'separate'] as const)
      await withGpuErrors(gpu.device, () =>
        checkAgainstReference(gpu.device, {
          seed: Date.now() % 2 ** 31,
          shapes: [[20, 18, 3, 3], [16, 20, 5, 40], [30, 40], [64]],
          options: { factorDims: 'conv', minDimSizeToFactor: 17, beta1: 0.9 },
          steps: 3,
          layout,
        }),
      );
  });

  it('a function picks the dims (or none) per shape, and matches the float64 reference', async () => {
    const rule = (shape: readonly number[]) => (shape.length === 3 ? ([2, 0] as const) : null);
    const tensors = new TensorSet(
      gpu.device,
      [
        [7, 3, 5],
        [6, 8],
      ],
      [new Float32Array(105), new Float32Array(48)],
    );
    const optimizer = new Adafactor(gpu.device, tensors.params, { factorDims: rule });
    const saved = decodeSafetensors(await optimizer.saveState());
    expect(saved.tensors.get('p0.exp_avg_sq_row')!.shape).toEqual([7, 3]);
    expect(saved.tensors.get('p0.exp_avg_sq_col')!.shape).toEqual([3, 5]);
    expect(saved.tensors.get('p1.exp_avg_sq')!.shape).toEqual([6, 8]);
    optimizer.destroy();
    tensors.destroy();
    for (const layout of ['arena', 'separate'] as const)
      await withGpuErrors(gpu.device, () =>
        checkAgainstReference(gpu.device, {
          seed: Date.now() % 2 ** 31,
          shapes: [
            [7, 3, 5],
            [6, 8],
            [40, 2, 30],
          ],
          options: { factorDims: rule, beta1: 0.9 },
          steps: 3,
          layout,
        }),
      );
  });

  it('refuses a function that returns something other than two dims, naming the tensor, and builds nothing', async () => {
    const tensors = new TensorSet(gpu.device, [[7, 3, 5]], [new Float32Array(105)]);
    for (const bad of [[0, 3], [1, 1], 'rows'])
      expect(() => new Adafactor(gpu.device, tensors.params, { factorDims: () => bad as never })).toThrow(
        /^Adafactor: tensor 'p0': the factorDims function returned .* for shape \[7, 3, 5\]; it must return null or two different dims of the shape$/,
      );
    tensors.destroy();
  });
});
