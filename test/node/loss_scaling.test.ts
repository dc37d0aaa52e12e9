import { describe, expect, it } from 'vitest';
import { Adafactor, type AdafactorOptions, ReferenceAdafactor } from '../../src/index.js';
import { checkAgainstReference } from '../gpu/checks.js';
import { GroupReferences, TensorSet, expectClose, normals, random, withGpuErrors } from '../gpu/harness.js';
import { useDevice } from './device.js';

const gpu = useDevice();
const shapes = [[70, 40], [40], [], [3, 9, 5], [5000]];
const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));

/** Steps a fresh optimizer over `grads` (each scaled by `gradScale(t)` here, as a scaled loss would) and returns the parameters. */
async function run(
  options: AdafactorOptions,
  grads: Float32Array[][],
  init: Float32Array[],
  layout: 'arena' | 'separate',
  scaleOf = (_t: number) => 1,
) {
  const tensors = new TensorSet(gpu.device, shapes, init, layout);
  const optimizer = tensors.newOptimizer(options);
  for (const [s, step] of grads.entries()) {
    tensors.writeGrads(step.map((g) => g.map((x) => x * scaleOf(s + 1))));
    optimizer.step();
  }
  const params = await tensors.readParams();
  const skipped = await optimizer.skippedSteps();
  const stats = await optimizer.stats();
  optimizer.destroy();
  tensors.destroy();
  return { params, skipped, stats };
}

describe('loss scaling (gradScale)', () => {
  it('a power-of-two scale, fixed or changing every step, gives bit-identical parameters to no scale', async () => {
    await withGpuErrors(gpu.device, async () => {
      const rand = random(Date.now() % 2 ** 31);
      const init = sizes.map((n) => normals(n, rand));
      const grads = Array.from({ length: 5 }, () => sizes.map((n) => normals(n, rand)));
      const base: AdafactorOptions = { beta1: 0.9, weightDecay: 0.01, caution: true };
      for (const layout of ['arena', 'separate'] as const) {
        const plain = await run(base, grads, init, layout);
        const fixed = await run({ ...base, gradScale: 2 ** 16 }, grads, init, layout, () => 2 ** 16);
        const dynamic = (t: number) => 2 ** (12 - 3 * t);
        const changing = await run({ ...base, gradScale: dynamic, maxGradNorm: 1e30 }, grads, init, layout, dynamic);
        plain.params.forEach((p, i) => {
          expect(Array.from(fixed.params[i]), `${layout}, tensor ${i}, fixed scale`).toEqual(Array.from(p));
          expect(Array.from(changing.params[i]), `${layout}, tensor ${i}, scale per step`).toEqual(Array.from(p));
        });
      }
    });
  });

  it('a step whose scaled gradients overflow is skipped and counted; the next steps go on as the reference says', async () => {
    await withGpuErrors(gpu.device, async () => {
      const rand = random(11);
      const init = sizes.map((n) => normals(n, rand));
      const grads = Array.from({ length: 4 }, () => sizes.map((n) => normals(n, rand)));
      // The loss scale of step 2 overflows f32 in one element of one tensor: f32 gradients become infinite there.
      grads[1][3][7] = Infinity;
      let scale = 1024;
      const options: AdafactorOptions = { beta1: 0.9, skipNonFinite: true, gradScale: () => scale, maxGradNorm: 50 };
      const tensors = new TensorSet(gpu.device, shapes, init);
      const optimizer = tensors.newOptimizer(options);
      const reference = new ReferenceAdafactor(
        shapes.map((shape, i) => ({ data: init[i], shape })),
        { ...options, gradScale: 1 },
      );
      // The dynamic loss-scaling loop of the docs: halve the scale after a skipped step.
      let skipped = 0;
      for (const step of grads) {
        tensors.writeGrads(step.map((g) => g.map((x) => x * scale)));
        optimizer.step();
        reference.step(step);
        const now = await optimizer.skippedSteps();
        if (now > skipped) scale /= 2;
        skipped = now;
      }
      expect(skipped).toBe(1);
      expect(reference.skippedSteps).toBe(1);
      expect(scale).toBe(512);
      const stats = await optimizer.stats();
      expect(stats.gradNorm).toBeCloseTo(reference.lastGradNorm!, 3);
      (await tensors.readParams()).forEach((p, i) => expectClose(p, reference.params[i], `tensor ${i}`));
      optimizer.destroy();
      tensors.destroy();
    });
  });

  it('a bad scale is refused before anything changes', async () => {
    const tensors = new TensorSet(gpu.device, [[4, 4]], [new Float32Array(16).fill(1)]);
    expect(() => new Adafactor(gpu.device, tensors.params, { gradScale: 0 })).toThrow(
      /option gradScale must be a finite number > 0 or a function of the step, got 0/,
    );
    expect(() => new Adafactor(gpu.device, tensors.params, { maxGradNorm: -1 })).toThrow(
      /option maxGradNorm must be a finite number > 0 and finite, got -1/,
    );
    const optimizer = new Adafactor(gpu.device, tensors.params, { gradScale: (t) => (t === 2 ? NaN : 8) });
    optimizer.step();
    const before = await optimizer.saveState();
    expect(() => optimizer.step()).toThrow(/gradScale\(2\) returned NaN; a loss scale must be a finite number > 0/);
    expect(optimizer.stepCount).toBe(1);
    expect(await optimizer.saveState()).toEqual(before);
    optimizer.destroy();
    tensors.destroy();
  });
});

describe('global-norm clipping (maxGradNorm)', () => {
  for (const [what, options] of [
    ['clipping every step, with a loss scale', { maxGradNorm: 5, gradScale: 3, beta1: 0.9 }],
    ['a norm that rarely binds, with momentum before the lr', { maxGradNorm: 90, momentumBeforeLr: true, beta1: 0.5 }],
  ] as const)
    it(`${what}: matches the float64 reference, in both layouts`, async () => {
      for (const layout of ['arena', 'separate'] as const)
        await withGpuErrors(gpu.device, () =>
          checkAgainstReference(gpu.device, { seed: Date.now() % 2 ** 31, shapes, options, steps: 4, layout }),
        );
    });

  it('one norm over every group, which stats() reports; each group steps on the globally clipped gradients', async () => {
    await withGpuErrors(gpu.device, async () => {
      const rand = random(Date.now() % 2 ** 31);
      const init = sizes.map((n) => normals(n, rand));
      const tensors = new TensorSet(gpu.device, shapes, init, 'separate');
      const groups: AdafactorOptions[] = [{ beta1: 0.9 }, { weightDecay: 0.1 }];
      const members = [
        [0, 2, 4],
        [1, 3],
      ];
      const optimizer = new Adafactor(
        gpu.device,
        members.map((m, g) => ({ params: m.map((i) => tensors.params[i]), ...groups[g] })),
        { maxGradNorm: 20 },
      );
      // Each group's reference is given the gradients clipped by the norm over both groups.
      const references = new GroupReferences(members, init, shapes, (g) => groups[g]);
      for (let step = 0; step < 3; step++) {
        const grads = sizes.map((n) => normals(n, rand));
        tensors.writeGrads(grads);
        optimizer.step();
        const norm = Math.sqrt(grads.reduce((sum, g) => sum + g.reduce((a, x) => a + x * x, 0), 0));
        expect(norm).toBeGreaterThan(20);
        const clipped = grads.map((g) => Float64Array.from(g, (x) => (x / norm) * 20));
        references.step(clipped);
        const stats = await optimizer.stats();
        expect(Math.abs(stats.gradNorm! - norm) / norm).toBeLessThan(1e-5);
      }
      references.expectClose(await tensors.readParams());
      optimizer.destroy();
      tensors.destroy();
    });
  });
});
