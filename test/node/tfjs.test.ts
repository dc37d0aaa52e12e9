/**
 * The TensorFlow.js optimizer on tfjs's webgpu backend, here on Dawn: the step runs this
 * library's shaders in place on the variables' buffers, reads nothing back, and matches the
 * float64 reference; its state moves between the GPU, getWeights/setWeights and the tfjs-ops path.
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Adafactor, type AdafactorOptions, ReferenceAdafactor } from '../../src/index.js';
import { BufferUsage } from '../../src/gpu/usage.js';
import { roundTo } from '../../src/core/half.js';
import { AdafactorOptimizer, tfjsDevice } from '../../src/tfjs/index.js';
import timmJson from '../data/timm-adafactor.json';
import { decodeTimmTrace } from '../gpu/golden.js';
import { expectClose, expectStatsClose, normals, random, readFloats, toleranceFor } from '../gpu/harness.js';
import { trainBiasGroup } from '../gpu/tfjs-groups.js';
import { fit, saveAndLoad, trainUntilSave } from '../gpu/tfjs-models.js';
import { gpu as nodeGpu, useDevice } from './device.js';

// tfjs's webgpu backend looks for navigator.gpu, which Node 20 lacks.
if (!(globalThis.navigator as Navigator | undefined)?.gpu)
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: nodeGpu }, configurable: true });

const gpu = useDevice();
const SHAPES = [[12, 7], [7], [3, 5, 6], []];
const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
let backend: WebGPUBackend;

beforeAll(async () => {
  backend = new WebGPUBackend(gpu.device);
  tf.registerBackend('webgpu', () => backend);
  await tf.setBackend('webgpu');
});

afterEach(async () => {
  await tf.setBackend('webgpu');
});

let serial = 0;
function variables(init: readonly Float32Array[], shapes = SHAPES): tf.Variable[] {
  return shapes.map((shape, i) => tf.variable(tf.tensor(init[i], shape), true, `v${serial++}`));
}

/** Counts reads from the GPU to the CPU while `body` runs. */
async function countReads(body: () => void | Promise<void>): Promise<number> {
  let reads = 0;
  const original = { read: backend.read, readSync: backend.readSync, getBufferData: backend.getBufferData };
  backend.read = (...a) => (reads++, original.read.apply(backend, a));
  backend.readSync = (...a) => (reads++, original.readSync.apply(backend, a));
  backend.getBufferData = (...a) => (reads++, original.getBufferData.apply(backend, a));
  try {
    await body();
  } finally {
    Object.assign(backend, original);
  }
  return reads;
}

const bufferOf = (v: tf.Variable) => backend.tensorMap.get(v.dataId).resource;

describe('AdafactorOptimizer on the tfjs webgpu backend (Dawn)', () => {
  it.each([
    ['defaults', {}],
    ['momentum, weight decay, an external lr', { beta1: 0.9, weightDecay: 0.01, relativeStep: false, lr: 0.02 }],
    [
      "optax's factoring",
      { factorDims: 'largest2', minDimSizeToFactor: 4, weightDecayScale: 'none', weightDecay: 0.01 },
    ],
    ["timm's convolution factoring", { factorDims: 'conv', minDimSizeToFactor: 3, beta1: 0.9 }],
    [
      "big_vision's momentum before the lr, a capped decay, corrected weight decay",
      {
        beta1: 0.9,
        momentumBeforeLr: true,
        beta2Cap: 0.6,
        weightDecay: 0.5,
        weightDecayMaxLr: 0.05,
        relativeStep: false,
        lr: 0.02,
        scaleParameter: false,
      },
    ],
    [
      'a factoring function (the first and last dims of rank 3, none of rank 2)',
      { factorDims: (shape: readonly number[]) => (shape.length === 3 ? ([0, 2] as const) : null) },
    ],
    [
      'a loss scale per step and global-norm clipping',
      { gradScale: (t: number) => 2 ** t, maxGradNorm: 2, beta1: 0.9, caution: true },
    ],
    ["a bf16 first moment with timm's lerp", { beta1: 0.9, momentumDtype: 'bf16', momentumArithmetic: 'lerp' }],
  ] as [string, AdafactorOptions][])(
    "%s: in place on the variables' buffers, no read-back, the float64 reference's updates",
    async (_, options) => {
      const rand = random(Date.now() % 2 ** 31);
      const init = SHAPES.map((s) => normals(numel(s), rand));
      const vars = variables(init);
      const optimizer = new AdafactorOptimizer(options);
      const reference = new ReferenceAdafactor(
        SHAPES.map((shape, i) => ({ data: init[i], shape })),
        options,
      );
      let buffers: unknown[] = [];
      for (let step = 0; step < 4; step++) {
        if (step === 1) buffers = vars.map(bufferOf); // uploaded by the first step
        const grads = SHAPES.map((s) => normals(numel(s), rand));
        const gradTensors = vars.map((v, i) => ({ name: v.name, tensor: tf.tensor(grads[i], SHAPES[i]) }));
        expect(await countReads(() => optimizer.applyGradients(gradTensors))).toBe(0);
        gradTensors.forEach((g) => g.tensor.dispose());
        reference.step(grads);
        // stats() reads back what the step did, only when asked.
        const stats = await optimizer.stats();
        expect(stats.step).toBe(step + 1);
        expect(stats.tensors.map((t) => t.name)).toEqual(vars.map((v) => v.name));
        stats.tensors.forEach((t, i) =>
          expectStatsClose(t, reference.lastStats[i]!, `step ${step + 1}, variable ${i}`),
        );
        if (options.maxGradNorm !== undefined) expect(stats.gradNorm).toBeCloseTo(reference.lastGradNorm!, 4);
      }
      expect(optimizer.learningRate()).toBe(options.lr ?? Math.min(1e-2, 1 / Math.sqrt(4)));
      expect(buffers.every((b) => typeof (b as GPUBuffer).getMappedRange === 'function')).toBe(true);
      vars.forEach((v, i) => expect(bufferOf(v)).toBe(buffers[i]));
      for (const [i, v] of vars.entries())
        expectClose(await v.data(), reference.params[i], `variable ${i}`, toleranceFor(options));
      expect(optimizer.iterations).toBe(4);
      optimizer.dispose();
      vars.forEach((v) => v.dispose());
    },
  );

  it.each([
    ['an f32 first moment', { beta1: 0.5 }],
    ['a bf16 first moment', { beta1: 0.5, momentumDtype: 'bf16' }],
  ] as [string, AdafactorOptions][])(
    '%s: getWeights reads the GPU state back under Hugging Face names; setWeights into another optimizer continues the same run',
    async (_, options) => {
      const rand = random(11);
      const init = SHAPES.map((s) => normals(numel(s), rand));
      const grads = Array.from({ length: 4 }, () => SHAPES.map((s) => normals(numel(s), rand)));
      const reference = new ReferenceAdafactor(
        SHAPES.map((shape, i) => ({ data: init[i], shape })),
        options,
      );
      const first = new AdafactorOptimizer(options);
      const vars = variables(init);
      const apply = (optimizer: AdafactorOptimizer, targets: tf.Variable[], g: Float32Array[]) =>
        optimizer.applyGradients(targets.map((v, i) => ({ name: v.name, tensor: tf.tensor(g[i], SHAPES[i]) })));
      for (const g of grads.slice(0, 2)) {
        apply(first, vars, g);
        reference.step(g);
      }
      const weights = await first.getWeights();
      expect(weights[0].name).toBe('iter');
      const byName = new Map(weights.map((w) => [w.name, w.tensor]));
      for (const [i, v] of vars.entries()) {
        const state = reference.states[i];
        for (const [slot, name] of [
          ['row', 'exp_avg_sq_row'],
          ['col', 'exp_avg_sq_col'],
          ['full', 'exp_avg_sq'],
          ['momentum', 'exp_avg'],
        ] as const) {
          const expected = state[slot];
          const saved = byName.get(`${v.name}/${name}`);
          expect(saved !== undefined, `${v.name}/${name}`).toBe(expected !== undefined);
          if (!expected || !saved) continue;
          const values = await saved.data();
          if (slot === 'momentum' && options.momentumDtype === 'bf16') {
            // bf16 values, as the reference rounds them (an f32 and a float64 run may pick neighbouring ones).
            expect(Array.from(values).every((x) => roundTo('bf16', x) === x)).toBe(true);
            expectClose(values, expected, `${v.name}/${name}`, 1e-2);
          } else expectClose(values, expected, `${v.name}/${name}`);
        }
      }
      // The same weights, renamed for a copy of the variables, continue the run in a second optimizer.
      const copies = variables(await Promise.all(vars.map(async (v) => Float32Array.from(await v.data()))));
      const renamed = weights.map((w, k) =>
        k === 0 ? w : { ...w, name: w.name.replace(/^v\d+/, (n) => copies[vars.findIndex((v) => v.name === n)].name) },
      );
      const second = new AdafactorOptimizer(options);
      await second.setWeights(renamed);
      for (const g of grads.slice(2)) {
        apply(first, vars, g);
        apply(second, copies, g);
        reference.step(g);
      }
      expect(second.iterations).toBe(4);
      for (const [i, v] of vars.entries())
        expectClose(await v.data(), reference.params[i], `first optimizer, variable ${i}`, toleranceFor(options));
      for (const [i, v] of copies.entries())
        expect(Array.from(await v.data()), `second optimizer, variable ${i}`).toEqual(Array.from(await vars[i].data()));
      first.dispose();
      second.dispose();
      [...vars, ...copies].forEach((v) => v.dispose());
    },
  );

  it('state moves: webgpu -> setWeights(getWeights) -> cpu (tfjs ops) -> webgpu, matching the reference throughout', async () => {
    const rand = random(21);
    const init = SHAPES.map((s) => normals(numel(s), rand));
    const options = { beta1: 0.9 };
    const reference = new ReferenceAdafactor(
      SHAPES.map((shape, i) => ({ data: init[i], shape })),
      options,
    );
    const optimizer = new AdafactorOptimizer(options);
    const vars = variables(init);
    const step = () => {
      const g = SHAPES.map((s) => normals(numel(s), rand));
      optimizer.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: tf.tensor(g[i], SHAPES[i]) })));
      reference.step(g);
    };
    step();
    step();
    await tf.setBackend('cpu');
    expect(() => step()).toThrow(
      /the state of 'v\d+' lives on the webgpu backend; move it to 'cpu' with setWeights\(await getWeights\(\)\)/,
    );
    await tf.setBackend('webgpu');
    const weights = await optimizer.getWeights();
    await tf.setBackend('cpu');
    // tfjs would move the variables to the CPU on first use with readSync, which its webgpu
    // backend cannot do in Node (no OffscreenCanvas): move them with an asynchronous read.
    for (const v of vars) v.assign(tf.tensor(await v.data(), v.shape));
    await optimizer.setWeights(weights);
    step();
    step();
    await tf.setBackend('webgpu');
    step();
    for (const [i, v] of vars.entries()) expectClose(await v.data(), reference.params[i], `variable ${i}`);
    optimizer.dispose();
    vars.forEach((v) => v.dispose());
  });

  it('a variable that tfjs gives a new buffer (assign), and a step over fewer variables in another order, keep their state', async () => {
    const rand = random(31);
    const init = SHAPES.map((s) => normals(numel(s), rand));
    const reference = new ReferenceAdafactor(
      SHAPES.map((shape, i) => ({ data: init[i], shape })),
      {},
    );
    const optimizer = new AdafactorOptimizer();
    const vars = variables(init);
    const step = (which: number[]) => {
      const g = SHAPES.map((s) => normals(numel(s), rand));
      optimizer.applyGradients(which.map((i) => ({ name: vars[i].name, tensor: tf.tensor(g[i], SHAPES[i]) })));
      return g;
    };
    reference.step(step([0, 1, 2, 3]));
    const before = bufferOf(vars[0]);
    vars[0].assign(tf.tensor(await vars[0].data(), SHAPES[0]));
    expect(bufferOf(vars[0])).not.toBe(before);
    reference.step(step([0, 1, 2, 3]));
    // Only the first two, in another order: their state follows them.
    const partial = step([1, 0]);
    const partialReference = new ReferenceAdafactor(
      [0, 1].map((i) => ({ data: reference.params[i], shape: SHAPES[i] })),
      {},
    );
    Object.assign(partialReference.states, [reference.states[0], reference.states[1]]);
    partialReference.stepCount = reference.stepCount;
    partialReference.step([partial[0], partial[1]]);
    for (const i of [0, 1])
      expectClose(await vars[i].data(), partialReference.params[i], `variable ${i} after a step of two`);
    optimizer.dispose();
    vars.forEach((v) => v.dispose());
  });

  it('trains a tfjs-layers model with model.compile; the state held is what the factored shapes imply', async () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.dense({ units: 32, inputShape: [8], activation: 'relu' }),
        tfl.layers.dense({ units: 16, activation: 'relu' }),
        tfl.layers.dense({ units: 1 }),
      ],
    });
    const optimizer = new AdafactorOptimizer({ relativeStep: false, lr: 0.01, scaleParameter: false });
    model.compile({ optimizer, loss: 'meanSquaredError' });
    const rand = random(5);
    const x = tf.tensor(normals(256 * 8, rand), [256, 8]);
    const y = tf.sum(tf.slice(x, [0, 0], [256, 2]), 1, true);
    const history = await model.fit(x, y, { epochs: 20, batchSize: 64, verbose: 0 });
    const losses = history.history.loss as number[];
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] / 2);
    // Kernels [8, 32], [32, 16], [16, 1] keep rows and columns; biases [32], [16], [1] a full moment.
    const factored = 8 + 32 + 32 + 16 + 16 + 1;
    const full = 32 + 16 + 1;
    expect(optimizer.stateBytes).toBe(4 * (factored + full));
    const weights = await optimizer.getWeights();
    expect(
      weights
        .slice(1)
        .map((w) => `${w.name.split('/').pop()}:${w.tensor.shape.join('x')}`)
        .sort(),
    ).toEqual(
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
    optimizer.dispose();
    model.dispose();
  });

  it("tensors that share a variable's data (tf.variable(x), clone) keep their values; gradients that share data are taken apart", async () => {
    const rand = random(41);
    const init = tf.tensor(normals(40 * 30, rand), [40, 30]);
    const v = tf.variable(init, true, `v${serial++}`);
    const w = tf.variable(tf.tensor(normals(40 * 30, rand), [40, 30]), true, `v${serial++}`);
    const snapshot = v.clone();
    const before = Float32Array.from(await init.data());
    const optimizer = new AdafactorOptimizer({ relativeStep: false, lr: 0.1 });
    // d/dv and d/dw of sum(v + w) are one tensor.
    const { grads } = tf.variableGrads(() => tf.sum(tf.add(v, w)) as tf.Scalar, [v, w]);
    expect(grads[v.name].dataId).toBe(grads[w.name].dataId);
    optimizer.applyGradients(grads);
    expect(Array.from(await init.data())).toEqual(Array.from(before));
    expect(Array.from(await snapshot.data())).toEqual(Array.from(before));
    expect(Array.from(await v.data())).not.toEqual(Array.from(before));
    optimizer.dispose();
    tf.dispose([init, v, w, snapshot, ...Object.values(grads)]);
  });

  it('bad input changes nothing: a reused name with a new shape, a bad setWeights, a bad restored shape on the tfjs-ops path', async () => {
    const name = `v${serial++}`;
    const first = tf.variable(tf.ones([4, 6]), true, name);
    const optimizer = new AdafactorOptimizer({ relativeStep: false, lr: 0.1 });
    optimizer.applyGradients({ [name]: tf.ones([4, 6]) });
    const saved = await optimizer.getWeights();
    first.dispose();
    const second = tf.variable(tf.ones([6, 4]), true, name);
    expect(() => optimizer.applyGradients({ [name]: tf.ones([6, 4]) })).toThrow(
      /the state of 'v\d+' is for shape \[4, 6\], the variable has \[6, 4\]/,
    );
    expect(optimizer.iterations).toBe(1);
    await expect(
      optimizer.setWeights([
        { name: 'iter', tensor: tf.scalar(42) },
        { name: 'nonsense', tensor: tf.zeros([2]) },
      ]),
    ).rejects.toThrow(/'nonsense' is not '<variable>\/<slot>'/);
    expect(optimizer.iterations).toBe(1);
    // The tfjs-ops path: restored state of the wrong shape for the second variable; the first is not stepped.
    await tf.setBackend('cpu');
    const a = tf.variable(tf.ones([3, 5]), true, `v${serial++}`);
    // Made after setWeights: for a variable that exists, setWeights itself refuses the shape.
    const bName = `v${serial++}`;
    const cpu = new AdafactorOptimizer({ relativeStep: false, lr: 0.1 });
    await cpu.setWeights([saved[0], { name: `${bName}/exp_avg_sq`, tensor: tf.ones([7]) }]);
    const b = tf.variable(tf.ones([5]), true, bName);
    expect(() => cpu.applyGradients({ [a.name]: tf.ones([3, 5]), [b.name]: tf.ones([5]) })).toThrow(
      /exp_avg_sq state of 'v\d+' has shape \[7\], expected \[5\]/,
    );
    expect(Array.from(await a.data())).toEqual(new Array(15).fill(1));
    expect(() => cpu.applyGradients({ [a.name]: tf.ones([1, 5]) })).toThrow(
      /the gradient of 'v\d+' has shape \[1, 5\], its variable \[3, 5\]/,
    );
    // getWeights gives tensors of their own: disposing them leaves the optimizer whole.
    cpu.applyGradients({ [a.name]: tf.ones([3, 5]) });
    for (const weight of await cpu.getWeights()) weight.tensor.dispose();
    cpu.applyGradients({ [a.name]: tf.ones([3, 5]) });
    tf.dispose([a, b, second]);
    cpu.dispose();
    optimizer.dispose();
  });

  it('holds state once per variable: steps over varying lists free what no variable needs', async () => {
    const vars = [0, 1, 2, 3].map(() => tf.variable(tf.ones([64, 64]), true, `v${serial++}`));
    const optimizer = new AdafactorOptimizer();
    optimizer.applyGradients(Object.fromEntries(vars.map((v) => [v.name, tf.onesLike(v)])));
    const all = optimizer.stateBytes;
    expect(all).toBe(4 * 4 * (64 + 64));
    for (const v of vars) optimizer.applyGradients({ [v.name]: tf.onesLike(v) });
    expect(optimizer.stateBytes).toBe(all);
    optimizer.dispose();
    vars.forEach((v) => v.dispose());
  });
});

/**
 * Pause and resume on the webgpu backend: tfjs-layers saves getConfig() and getWeights() (read
 * back from the GPU) with the model; loadLayersModel rebuilds the optimizer with fromConfig and
 * restores its state with setWeights, which the first step writes back to the GPU.
 */
describe("timm's Adafactors and optax's 16-bit momentum through their presets, on the webgpu backend (Dawn)", () => {
  for (const golden of decodeTimmTrace(timmJson as Parameters<typeof decodeTimmTrace>[0]))
    it(golden.name, async () => {
      const vars = golden.params.map((p) => tf.variable(tf.tensor(p.init, p.shape), true, `v${serial++}`));
      const optimizer = new AdafactorOptimizer(golden.options);
      for (const [s, step] of golden.steps.entries()) {
        const grads = vars.map((v, i) => ({ name: v.name, tensor: tf.tensor(step.grads[i], golden.params[i].shape) }));
        optimizer.applyGradients(grads);
        grads.forEach((g) => g.tensor.dispose());
        if (!step.expected) continue;
        for (const [i, v] of vars.entries())
          expectClose(
            await v.data(),
            step.expected[i],
            `${golden.params[i].name} after step ${s + 1}`,
            toleranceFor(golden.options),
          );
      }
      optimizer.dispose();
      vars.forEach((v) => v.dispose());
    });
});

describe('a tfjs-layers model saved with its optimizer resumes training on the webgpu backend', () => {
  const EPOCHS = 2; // per part; two batches of 16 each
  const valuesOf = (tensors: tf.Tensor[]) => Promise.all(tensors.map(async (t) => Float32Array.from(await t.data())));

  it("with momentum and factored kernels: the resumed steps are the uninterrupted run's", async () => {
    // Steps of about lr = 0.05 per element, so that what the state decides is plain to see.
    const options: AdafactorOptions = {
      beta1: 0.9,
      relativeStep: false,
      lr: 0.05,
      scaleParameter: false,
      weightDecay: 0.01,
      clipThreshold: 0.5,
      factorDims: 'largest2',
    };
    const rand = random(77);
    const x = tf.tensor(normals(32 * 6, rand), [32, 6]);
    const y = tf.tensor(normals(32 * 3, rand), [32, 3]);
    const { uninterrupted, initial, first, optimizer, saved } = await trainUntilSave(options, x, y, 2 * EPOCHS, EPOCHS);
    expect(saved.filter((w) => w.name.endsWith('/exp_avg_sq_row')).map((w) => w.tensor.shape)).toEqual([[6], [16]]);
    const atSave = await valuesOf(first.getWeights());
    const loaded = await saveAndLoad(first);
    const restored = loaded.optimizer as AdafactorOptimizer;
    expect(restored).toBeInstanceOf(AdafactorOptimizer);
    expect(restored.getConfig()).toStrictEqual(optimizer.getConfig());
    expect(restored.iterations).toBe(2 * EPOCHS);
    await fit(loaded, x, y, EPOCHS);
    expect(restored.iterations).toBe(4 * EPOCHS);
    // What the steps after the save changed, against what the same steps of the uninterrupted run
    // changed, relative to its RMS. The state goes GPU -> f32 on the CPU -> GPU unchanged, and
    // both runs then run the same kernels on the same bits, with reductions of a fixed order
    // (this library's, and tfjs's matMul and sums at these sizes: no atomics); here they agree
    // bit for bit. 1e-5 leaves room for a few f32 ulps of the weights (about 1e-7 of their RMS,
    // 1e-6 of the change) should an adapter's kernels round differently; state that was lost or
    // zeroed is off by about 2 (measured with the state not restored).
    const [resumed, expected] = await Promise.all([
      valuesOf(loaded.getWeights()),
      valuesOf(uninterrupted.getWeights()),
    ]);
    const change = (w: Float32Array, i: number) => w.map((v, k) => v - atSave[i][k]);
    resumed.forEach((w, i) =>
      expectClose(change(w, i), change(expected[i], i), `what the resumed steps changed in weight ${i}`, 1e-5),
    );
    const resumedWeights = await restored.getWeights();
    const [resumedState, expectedState] = await Promise.all([
      valuesOf(resumedWeights.map((w) => w.tensor)),
      (uninterrupted.optimizer as AdafactorOptimizer).getWeights().then((ws) => valuesOf(ws.map((w) => w.tensor))),
    ]);
    resumedState.forEach((s, i) => expectClose(s, expectedState[i], `optimizer weight ${i} after resuming`, 1e-5));
    // Saved under the first model's names; the loaded model's variables (made unique by tfjs-layers) own it now.
    const variableNames = loaded.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val.name);
    expect(variableNames.every((n) => /_\d+$/.test(n))).toBe(true);
    expect([...new Set(resumedWeights.slice(1).map((w) => w.name.slice(0, w.name.lastIndexOf('/'))))]).toEqual(
      variableNames,
    );
    [uninterrupted, first, loaded].forEach((m) => m.dispose());
    tf.dispose([x, y, ...initial]);
  });
});

describe('parameter groups of AdafactorOptimizer, on the webgpu backend (Dawn)', () => {
  it('zero-initialised biases in a group with scaleParameter: false learn as the float64 reference says; with the defaults they barely move', async () => {
    const grouped = await trainBiasGroup(240, {}, { scaleParameter: false });
    const defaults = await trainBiasGroup(240, {}, undefined);
    const externalRate = await trainBiasGroup(240, {}, { relativeStep: false, lr: 1e-3, scaleParameter: false });
    console.log(
      `biases' RMS after 240 steps: group scaleParameter false ${grouped}, defaults ${defaults}, lr 1e-3 without scaling ${externalRate}`,
    );
    expect(defaults).toBeLessThan(240 * 1e-5);
    expect(grouped).toBeGreaterThan(100 * defaults);
    expect(externalRate).toBeGreaterThan(10 * defaults);
  });
});

describe("the raw Adafactor on tfjs's own GPUDevice", () => {
  it('steps buffers of its own with gradients that tfjs computed, after tfjs has submitted them, as the float64 reference says', async () => {
    const { device, submitPending } = tfjsDevice();
    expect(device).toBe(backend.device);
    const shape = [32, 8];
    const count = 32 * 8;
    const rand = random(4);
    const init = normals(count, rand);
    const usage = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
    const params = device.createBuffer({ size: count * 4, usage });
    const grads = device.createBuffer({ size: count * 4, usage });
    device.queue.writeBuffer(params, 0, Float32Array.from(init));
    const optimizer = new Adafactor(device, [{ param: params, grad: grads, shape, name: 'w' }]);
    // tfjs runs ops on tensors this small on the CPU unless told not to.
    const forward = tf.env().getBool('WEBGPU_CPU_FORWARD');
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    const reference = new ReferenceAdafactor([{ data: init, shape }], {});
    for (let step = 0; step < 3; step++) {
      const values = normals(count, rand);
      // A gradient tfjs computes (on its own encoder, submitted in batches), handed over as a GPUBuffer.
      const g = tf.tidy(() => tf.mul(tf.tensor(values, shape), 2));
      const { buffer, tensorRef } = g.dataToGPU();
      const encoder = device.createCommandEncoder();
      encoder.copyBufferToBuffer(buffer!, 0, grads, 0, count * 4);
      optimizer.step(encoder);
      // tfjs's pending commands (those that wrote the gradient) first: the queue runs submissions in order.
      submitPending();
      device.queue.submit([encoder.finish()]);
      tf.dispose([g, tensorRef]);
      reference.step([values.map((v) => 2 * v)]);
    }
    tf.env().set('WEBGPU_CPU_FORWARD', forward);
    expectClose(await readFloats(device, params), reference.params[0], "the raw optimizer on tfjs's device");
    optimizer.destroy();
    params.destroy();
    grads.destroy();
  });
});
