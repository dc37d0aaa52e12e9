// What users log: the learning rate of each group (computed on the host) and what the last step
// did to each tensor (read back from the GPU only when asked), against the float64 reference.
import { describe, expect, it } from 'vitest';
import { Adafactor, type AdafactorOptions, ReferenceAdafactor, rms } from '../../src/index.js';
import { TensorSet, expectStatsClose, normals, random, withGpuErrors } from '../gpu/harness.js';
import { useDevice } from './device.js';

const gpu = useDevice();
const shapes = [[130, 300], [300], [3, 20, 9], [], [0, 4]];
const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));

describe('stats() and learningRate()', () => {
  it.each([
    ['the defaults', {}],
    [
      'clipping at work, momentum, an external schedule',
      { clipThreshold: 0.3, beta1: 0.9, relativeStep: false, lr: (t: number) => 0.02 / Math.sqrt(t) },
    ],
    ['with skipNonFinite (the passes for every tensor)', { skipNonFinite: true, scaleParameter: false }],
  ] as [string, AdafactorOptions][])('match the float64 reference step by step: %s', async (_, options) => {
    await withGpuErrors(gpu.device, async () => {
      const rand = random(77);
      const init = sizes.map((n) => normals(n, rand, 0.5));
      const tensors = new TensorSet(gpu.device, shapes, init);
      const optimizer = tensors.newOptimizer(options);
      const reference = new ReferenceAdafactor(
        shapes.map((shape, i) => ({ data: init[i], shape })),
        options,
      );
      expect(await optimizer.stats()).toEqual({ step: 0, skipped: false, tensors: [] });
      for (let step = 1; step <= 4; step++) {
        const grads = sizes.map((n) => normals(n, rand, 10 ** (step - 3)));
        tensors.writeGrads(grads);
        optimizer.step();
        reference.step(grads);
        const stats = await optimizer.stats();
        expect(stats.step).toBe(step);
        expect(stats.skipped).toBe(false);
        // Tensors with elements, in the order given.
        expect(stats.tensors.map((t) => t.name)).toEqual(['p0', 'p1', 'p2', 'p3']);
        stats.tensors.forEach((t, i) => expectStatsClose(t, reference.lastStats[i]!, `step ${step}, tensor ${t.name}`));
        expect(optimizer.learningRate()).toEqual([
          options.lr ? (options.lr as (t: number) => number)(step) : Math.min(1e-2, 1 / Math.sqrt(step)),
        ]);
      }
      if (options.clipThreshold) expect(reference.lastStats.some((s) => s && s.clipDivisor > 1)).toBe(true);
      optimizer.destroy();
      tensors.destroy();
    });
  });

  it('learningRate gives each group its rate at any step, and refuses a step that is not one', () => {
    const tensors = new TensorSet(gpu.device, [[8, 8], [8]], [new Float32Array(64), new Float32Array(8)], 'separate');
    const optimizer = new Adafactor(gpu.device, [
      { params: [tensors.params[0]] },
      { params: [tensors.params[1]], relativeStep: false, lr: (t) => 0.5 / t },
    ]);
    expect(optimizer.learningRate()).toEqual([1e-2, 0.5]);
    expect(optimizer.learningRate(40000)).toEqual([1 / 200, 0.5 / 40000]);
    for (const bad of [0, -1, 1.5, NaN])
      expect(() => optimizer.learningRate(bad)).toThrow(/Adafactor.learningRate: step must be an integer >= 1/);
    optimizer.destroy();
    tensors.destroy();
  });

  it('a skipped step says so, and loadState starts the stats afresh', async () => {
    const rand = random(5);
    const tensors = new TensorSet(
      gpu.device,
      shapes,
      sizes.map((n) => normals(n, rand)),
    );
    const optimizer = tensors.newOptimizer({ skipNonFinite: true });
    const grads = sizes.map((n) => normals(n, rand));
    tensors.writeGrads(grads);
    optimizer.step();
    const saved = await optimizer.saveState();
    grads[2][4] = NaN;
    tensors.writeGrads(grads);
    optimizer.step();
    const stats = await optimizer.stats();
    expect(stats.step).toBe(2);
    expect(stats.skipped).toBe(true);
    // What the skipped step computed before it was skipped: RMS(X) of the parameters it left as they
    // were, and a NaN RMS(U) and clip divisor where the gradient held the NaN.
    const params = await tensors.readParams();
    stats.tensors.forEach((t, i) => expect(t.paramRms).toBeCloseTo(rms(params[i]), 6));
    expect(stats.tensors[2].updateRms).toBeNaN();
    expect(stats.tensors[2].clipDivisor).toBeNaN();
    for (const i of [0, 1, 3]) expect(Number.isFinite(stats.tensors[i].updateRms)).toBe(true);
    optimizer.loadState(saved);
    expect(await optimizer.stats()).toEqual({ step: 1, skipped: false, tensors: [] });
    grads[2][4] = 0;
    tensors.writeGrads(grads);
    optimizer.step();
    expect((await optimizer.stats()).tensors).toHaveLength(4);
    optimizer.destroy();
    tensors.destroy();
  });
});
