import { describe, expect, it } from 'vitest';
import { Adafactor, type AdafactorOptions, ReferenceAdafactor, rms } from '../../src/index.js';
import { GroupReferences, TensorSet, expectClose, normals, random, withGpuErrors } from '../gpu/harness.js';
import { useDevice } from './device.js';

const gpu = useDevice();

describe('parameter groups', () => {
  it('each group steps with its own options, against a float64 reference per group', async () => {
    await withGpuErrors(gpu.device, async () => {
      const rand = random(Date.now() % 2 ** 31);
      // Weights and biases interleaved in one pair of buffers, so that option groups and buffer groups differ.
      const shapes = [[30, 20], [20], [20, 12], [12], []];
      const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
      const init = sizes.map((n) => normals(n, rand));
      const tensors = new TensorSet(gpu.device, shapes, init);
      const base: AdafactorOptions = { weightDecay: 0.1, beta1: 0.9 };
      const groupOptions: AdafactorOptions[] = [
        {}, // the optimizer's options
        { weightDecay: 0, beta1: undefined, relativeStep: false, lr: (t: number) => 0.02 / t, clipThreshold: 0.5 },
      ];
      const members = [
        [0, 2],
        [1, 3, 4],
      ];
      const optimizer = new Adafactor(
        gpu.device,
        members.map((m, g) => ({ params: m.map((i) => tensors.params[i]), ...groupOptions[g] })),
        base,
      );
      const references = new GroupReferences(members, init, shapes, (g) => ({ ...base, ...groupOptions[g] }));
      for (let step = 0; step < 4; step++) {
        const grads = sizes.map((n) => normals(n, rand));
        tensors.writeGrads(grads);
        optimizer.step();
        references.step(grads);
      }
      references.expectClose(await tensors.readParams());
      // Momentum is kept for the first group's tensors only.
      expect(optimizer.stateBytes).toBe(4 * (30 + 20 + 30 * 20 + 20 + 12 + 20 * 12 + 20 + 12 + 1));
      optimizer.destroy();
      tensors.destroy();
    });
  });

  it('rejects a group that sets an optimizer-wide option, or a mix of tensors and groups', () => {
    const tensors = new TensorSet(gpu.device, [[4], [4]], [new Float32Array(4), new Float32Array(4)]);
    const [a, b] = tensors.params;
    expect(() => new Adafactor(gpu.device, [{ params: [a], skipNonFinite: true } as never])).toThrow(
      /parameter group 0 sets skipNonFinite, which applies to the whole optimizer/,
    );
    expect(() => new Adafactor(gpu.device, [a, { params: [b] }] as never)).toThrow(
      /mixes tensors and parameter groups/,
    );
    expect(() => new Adafactor(gpu.device, [{ params: [a] }, { params: [b], beta1: 2 }])).toThrow(
      /parameter group 1: option beta1 must be a finite number in \[0, 1\)/,
    );
    tensors.destroy();
  });

  it("names the group of every error of one group's options after construction, and changes nothing", async () => {
    const init = [Float32Array.from([1, -2, 3, -4]), Float32Array.from([0.5, 0.25, -1, 2])];
    const tensors = new TensorSet(gpu.device, [[4], [4]], init);
    tensors.writeGrads([Float32Array.from([0.1, 0.2, 0.3, 0.4]), Float32Array.from([1, 1, 1, 1])]);
    const [a, b] = tensors.params;
    // Group 1's decay counts from step 3 on; its lr function fails at step 2.
    const optimizer = new Adafactor(gpu.device, [
      { params: [a] },
      { params: [b], decayOffset: 3, relativeStep: false, lr: (t: number) => (t === 2 ? NaN : 0.1) },
    ]);
    expect(() => optimizer.step()).toThrow(/^Adafactor: parameter group 1: step 1 is not past decayOffset 3/);
    expect(() => optimizer.learningRate(2)).toThrow(
      /^Adafactor.learningRate: parameter group 1: lr\(2\) returned NaN; the learning rate must be a finite number >= 0/,
    );
    expect(optimizer.stepCount).toBe(0);
    const params = await tensors.readParams();
    params.forEach((p, i) => expect(Array.from(p)).toEqual(Array.from(init[i])));
    expect(await optimizer.stats()).toEqual({ step: 0, skipped: false, tensors: [] });
    optimizer.destroy();
    tensors.destroy();
  });
});

describe('remedies for parameters that start at zero', () => {
  // With the defaults a zero tensor moves by rho_t * eps2 = 1e-5 a step (alpha_t = rho_t * max(eps2, RMS(X))).
  async function biasRms(bias: AdafactorOptions | undefined, steps = 240): Promise<number> {
    const rand = random(31);
    const shapes = [[24, 16], [16]];
    const init = [normals(24 * 16, rand), new Float32Array(16)];
    const tensors = new TensorSet(gpu.device, shapes, init);
    const [w, b] = tensors.params;
    const optimizer = new Adafactor(gpu.device, bias ? [{ params: [w] }, { params: [b], ...bias }] : [w, b]);
    const references = [
      new ReferenceAdafactor([{ data: init[0], shape: shapes[0] }], {}),
      new ReferenceAdafactor([{ data: init[1], shape: shapes[1] }], bias ?? {}),
    ];
    for (let step = 0; step < steps; step++) {
      const grads = [normals(24 * 16, rand, 0.1), normals(16, rand, 0.1)];
      tensors.writeGrads(grads);
      optimizer.step();
      references.forEach((r, i) => r.step([grads[i]]));
    }
    const params = await tensors.readParams();
    params.forEach((p, i) => expectClose(p, references[i].params[0], `tensor ${i} after ${steps} steps`));
    optimizer.destroy();
    tensors.destroy();
    return rms(params[1]);
  }

  it('a group with scaleParameter: false, or an external rate without parameter scaling, moves a zero bias as the float64 reference says', async () => {
    const defaults = await biasRms(undefined);
    const grouped = await biasRms({ scaleParameter: false });
    const external = await biasRms({ scaleParameter: false, relativeStep: false, lr: 1e-3 });
    // The old advice, an external rate with parameter scaling kept: lr * eps2 = 1e-6 a step.
    const scaled = await biasRms({ relativeStep: false, lr: 1e-3 });
    console.log(
      `zero bias, RMS after 240 steps: defaults ${defaults}, scaleParameter false ${grouped}, lr 1e-3 without scaling ${external}, lr 1e-3 with scaling ${scaled}`,
    );
    expect(defaults).toBeLessThan(240 * 1e-5);
    expect(grouped).toBeGreaterThan(100 * defaults);
    expect(external).toBeGreaterThan(10 * defaults);
    expect(scaled).toBeLessThan(defaults);
  });
});
