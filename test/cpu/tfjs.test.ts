import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { STATE_SLOTS } from '../../src/state/tensors.js';
import { type AdafactorOptions, ReferenceAdafactor, rms } from '../../src/index.js';
import { AdafactorOptimizer } from '../../src/tfjs/index.js';
import optaxJson from '../data/optax-adafactor.json';
import torchJson from '../data/torch-adafactor.json';
import timmJson from '../data/timm-adafactor.json';
import { decodeTimmTrace, decodeTrace } from '../gpu/golden.js';
import { expectClose, expectStatsClose, normals, random, toleranceFor } from '../gpu/harness.js';
import { trainBiasGroup } from '../gpu/tfjs-groups.js';
import { fit, makeModel, saveAndLoad, trainUntilSave } from '../gpu/tfjs-models.js';

await tf.setBackend('cpu');

describe('AdafactorOptimizer for TensorFlow.js (tfjs ops, any backend)', () => {
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
    ['skipNonFinite with nothing to skip', { skipNonFinite: true, beta1: 0.9 }],
    [
      'a loss scale per step and global-norm clipping',
      { gradScale: (t: number) => 2 ** t, maxGradNorm: 2, beta1: 0.9, caution: true },
    ],
    ["a bf16 first moment with timm's lerp", { beta1: 0.9, momentumDtype: 'bf16', momentumArithmetic: 'lerp' }],
  ] as [string, AdafactorOptions][])('%s: the same updates and stats as the float64 reference', async (_, options) => {
    const rand = random(Date.now() % 2 ** 31);
    const shapes = [[12, 7], [7], [3, 5, 6], []];
    const init = shapes.map((s) =>
      normals(
        s.reduce((a, b) => a * b, 1),
        rand,
      ),
    );
    const variables = shapes.map((shape, i) => tf.variable(tf.tensor(init[i], shape), true, `w${i}_${Math.random()}`));
    const optimizer = new AdafactorOptimizer(options);
    const reference = new ReferenceAdafactor(
      shapes.map((shape, i) => ({ data: init[i], shape })),
      options,
    );
    for (let step = 0; step < 4; step++) {
      const grads = shapes.map((s) =>
        normals(
          s.reduce((a, b) => a * b, 1),
          rand,
        ),
      );
      optimizer.applyGradients(variables.map((v, i) => ({ name: v.name, tensor: tf.tensor(grads[i], shapes[i]) })));
      reference.step(grads);
      const stats = await optimizer.stats();
      expect(stats.step).toBe(step + 1);
      expect(stats.tensors.map((t) => t.name)).toEqual(variables.map((v) => v.name));
      stats.tensors.forEach((t, i) => expectStatsClose(t, reference.lastStats[i]!, `step ${step + 1}, variable ${i}`));
      if (options.maxGradNorm !== undefined) expect(stats.gradNorm).toBeCloseTo(reference.lastGradNorm!, 4);
      expect(optimizer.learningRate()).toBe(options.lr ?? Math.min(1e-2, 1 / Math.sqrt(step + 1)));
    }
    variables.forEach((v, i) => expectClose(v.dataSync(), reference.params[i], `variable ${i}`, toleranceFor(options)));
    expect(optimizer.iterations).toBe(4);
    optimizer.dispose();
    variables.forEach((v) => v.dispose());
  });

  it('trains a tfjs-layers model with model.compile, and keeps factored state', async () => {
    const model = tfl.sequential({
      layers: [tfl.layers.dense({ units: 32, inputShape: [8], activation: 'relu' }), tfl.layers.dense({ units: 1 })],
    });
    const optimizer = new AdafactorOptimizer({ relativeStep: false, lr: 0.01, scaleParameter: false });
    model.compile({ optimizer, loss: 'meanSquaredError' });
    const rand = random(5);
    const x = tf.tensor(normals(256 * 8, rand), [256, 8]);
    const y = tf.sum(tf.slice(x, [0, 0], [256, 2]), 1, true);
    const history = await model.fit(x, y, { epochs: 30, batchSize: 64, verbose: 0 });
    const losses = history.history.loss as number[];
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] / 2);
    const weights = await optimizer.getWeights();
    const sizes = Object.fromEntries(
      weights.slice(1).map((w) => [w.name.split('/').pop() + ':' + w.tensor.shape.join('x'), w.tensor.size]),
    );
    // The [8, 32] and [32, 1] kernels keep rows and columns; the biases a full moment.
    expect(Object.keys(sizes).sort()).toEqual(
      [
        'exp_avg_sq:1',
        'exp_avg_sq:32',
        'exp_avg_sq_col:1',
        'exp_avg_sq_col:32',
        'exp_avg_sq_row:32',
        'exp_avg_sq_row:8',
      ].sort(),
    );
  });

  it('round-trips its state and its config', async () => {
    const optimizer = new AdafactorOptimizer({ beta1: 0.5 });
    const v = tf.variable(tf.ones([4, 3]), true, `rt_${Math.random()}`);
    optimizer.applyGradients([{ name: v.name, tensor: tf.ones([4, 3]) }]);
    const weights = await optimizer.getWeights();
    const copy = new AdafactorOptimizer({ beta1: 0.5 });
    await copy.setWeights(weights);
    expect(copy.iterations).toBe(1);
    const again = await copy.getWeights();
    expect(again.map((w) => w.name)).toEqual(weights.map((w) => w.name));
    again.forEach((w, i) => expect(Array.from(w.tensor.dataSync())).toEqual(Array.from(weights[i].tensor.dataSync())));
    const config = optimizer.getConfig();
    expect(config).toEqual({ beta1: 0.5 });
    const revived = AdafactorOptimizer.fromConfig(AdafactorOptimizer, config);
    expect(revived).toBeInstanceOf(AdafactorOptimizer);
    expect(tf.serialization.SerializationMap.getMap().classNameMap.Adafactor).toBeDefined();
  });
});

type NamedTensor = { name: string; tensor: tf.Tensor };

/** The bits of every weight (and its name), to show that a refused or skipped step changed nothing. */
async function snapshot(optimizer: AdafactorOptimizer): Promise<{ name: string; bits: number[] }[]> {
  return (await optimizer.getWeights()).map((w) => ({
    name: w.name,
    bits: Array.from(new Uint32Array(Float32Array.from(w.tensor.dataSync()).buffer)),
  }));
}

function bits(variables: tf.Variable[]): number[][] {
  return variables.map((v) => Array.from(new Uint32Array(Float32Array.from(v.dataSync()).buffer)));
}

/** Variables of a few shapes, an optimizer and the float64 reference over them, after one step. */
function trained(options: AdafactorOptions, seed: number) {
  const rand = random(seed);
  const shapes = [[12, 7], [7], [3, 5, 6], []];
  const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const init = sizes.map((n) => normals(n, rand));
  const variables = shapes.map((shape, i) => tf.variable(tf.tensor(init[i], shape), true, `w${i}_${Math.random()}`));
  const optimizer = new AdafactorOptimizer(options);
  const reference = new ReferenceAdafactor(
    shapes.map((shape, i) => ({ data: init[i], shape })),
    options,
  );
  const good = () => sizes.map((n) => normals(n, rand));
  const step = (grads: Float32Array[], into = optimizer) => {
    into.applyGradients(variables.map((v, i) => ({ name: v.name, tensor: tf.tensor(grads[i], shapes[i]) })));
    reference.step(grads);
  };
  step(good());
  const dispose = () => {
    optimizer.dispose();
    variables.forEach((v) => v.dispose());
  };
  return { shapes, sizes, variables, optimizer, reference, good, step, dispose };
}

describe('AdafactorOptimizer never corrupts silently (tfjs ops)', () => {
  const setColumn = (g: Float32Array, cols: number, col: number, value: number) => {
    for (let i = col; i < g.length; i += cols) g[i] = value;
  };
  it.each([
    ['a NaN in one element of one gradient', (g: Float32Array[]) => void (g[0][40] = NaN)],
    ['+Inf in one element of one gradient', (g: Float32Array[]) => void (g[1][3] = Infinity)],
    ['-Inf in the scalar gradient', (g: Float32Array[]) => void (g[3][0] = -Infinity)],
    ['a finite gradient of 1e20, whose square overflows f32', (g: Float32Array[]) => void (g[2][17] = 1e20)],
    [
      'a column of 1e19 in a [12, 7] gradient: its sum of squares overflows, its rows do not',
      (g: Float32Array[]) => setColumn(g[0], 7, 3, 1e19),
    ],
    ['parameters of 1e19, whose sum of squares overflows f32', () => new Float32Array(84).fill(1e19)],
  ] as [string, (grads: Float32Array[]) => Float32Array | void][])(
    'skipNonFinite: %s skips the whole step, every variable and slot',
    async (_, poison) => {
      const t = trained({ skipNonFinite: true, beta1: 0.9 }, 31);
      const grads = t.good();
      const param = poison(grads);
      if (param) {
        t.variables[0].assign(tf.tensor(param, t.shapes[0]));
        t.reference.params[0].set(param);
      }
      const weights = await snapshot(t.optimizer);
      const values = bits(t.variables);
      t.optimizer.applyGradients(
        t.variables.map((v, i) => ({ name: v.name, tensor: tf.tensor(grads[i], t.shapes[i]) })),
      );
      expect(t.optimizer.iterations).toBe(2);
      expect(bits(t.variables)).toEqual(values);
      expect(await snapshot(t.optimizer)).toEqual(
        weights.map((w, i) =>
          i === 0 ? { name: w.name, bits: Array.from(new Uint32Array(Float32Array.of(2).buffer)) } : w,
        ),
      );
      // The float64 reference skips only for a non-finite gradient; the f32 overflows it does
      // not have are shown to it as one, so that it skips the same step.
      t.reference.step(t.sizes.map((n) => new Float32Array(n).fill(NaN)));
      expect(t.reference.skippedSteps).toBe(1);
      if (param) {
        const fresh = normals(param.length, random(5));
        t.variables[0].assign(tf.tensor(fresh, t.shapes[0]));
        t.reference.params[0].set(fresh);
      }
      // The next step is step 3 of the schedule, as in the reference.
      t.step(t.good());
      expect(t.optimizer.iterations).toBe(3);
      t.variables.forEach((v, i) =>
        expectClose(v.dataSync(), t.reference.params[i], `variable ${i} after the skipped step`),
      );
      t.dispose();
    },
  );

  it('skipNonFinite: an empty variable does not make its steps skip', () => {
    const empty = tf.variable(tf.zeros([0, 3]), true, `empty_${Math.random()}`);
    const w = tf.variable(tf.ones([4, 3]), true, `w_${Math.random()}`);
    const optimizer = new AdafactorOptimizer({ skipNonFinite: true });
    const reference = new ReferenceAdafactor([{ data: new Float32Array(12).fill(1), shape: [4, 3] }], {
      skipNonFinite: true,
    });
    const grad = normals(12, random(3));
    optimizer.applyGradients([
      { name: empty.name, tensor: tf.zeros([0, 3]) },
      { name: w.name, tensor: tf.tensor(grad, [4, 3]) },
    ]);
    reference.step([grad]);
    expectClose(w.dataSync(), reference.params[0], 'the non-empty variable');
    optimizer.dispose();
    [empty, w].forEach((v) => v.dispose());
  });

  it('without skipNonFinite a NaN gradient propagates as in the reference', () => {
    const t = trained({ beta1: 0.9 }, 37);
    const grads = t.good();
    grads[1][2] = NaN;
    t.step(grads);
    t.variables.forEach((v, i) =>
      expect(Array.from(v.dataSync(), Number.isNaN), `NaN pattern of variable ${i}`).toEqual(
        Array.from(t.reference.params[i], Number.isNaN),
      ),
    );
    expect(Array.from(t.variables[1].dataSync()).some(Number.isNaN)).toBe(true);
    t.dispose();
  });

  it('a disposed gradient is refused by name before anything changes', async () => {
    const t = trained({ beta1: 0.9 }, 41);
    const grads = t.good().map((g, i) => tf.tensor(g, t.shapes[i]));
    grads[2].dispose();
    const weights = await snapshot(t.optimizer);
    const values = bits(t.variables);
    expect(() => t.optimizer.applyGradients(t.variables.map((v, i) => ({ name: v.name, tensor: grads[i] })))).toThrow(
      new RegExp(`the gradient of '${t.variables[2].name}' is disposed`),
    );
    expect(t.optimizer.iterations).toBe(1);
    expect(bits(t.variables)).toEqual(values);
    expect(await snapshot(t.optimizer)).toEqual(weights);
    t.step(t.good());
    t.variables.forEach((v, i) => expectClose(v.dataSync(), t.reference.params[i], `variable ${i}`));
    t.dispose();
  });

  /** Returns a copy of `weights` with the tensor of `<variable i>/<slot>` replaced, or dropped. */
  const withSlot = (
    weights: NamedTensor[],
    names: string[],
    i: number,
    slot: keyof typeof STATE_SLOTS,
    tensor?: tf.Tensor,
  ) => {
    const name = `${names[i]}/${STATE_SLOTS[slot].name}`;
    expect(weights.some((w) => w.name === name)).toBe(true);
    return weights.flatMap((w) => (w.name !== name ? [w] : tensor ? [{ name, tensor }] : []));
  };
  const poke = (
    weights: NamedTensor[],
    names: string[],
    i: number,
    slot: keyof typeof STATE_SLOTS,
    at: number,
    value: number,
  ) => {
    const w = weights.find((x) => x.name === `${names[i]}/${STATE_SLOTS[slot].name}`)!;
    const data = Float32Array.from(w.tensor.dataSync());
    data[at] = value;
    return withSlot(weights, names, i, slot, tf.tensor(data, w.tensor.shape));
  };
  const iter = (value: number) => (weights: NamedTensor[]) => [
    { name: 'iter', tensor: tf.scalar(value) },
    ...weights.slice(1),
  ];
  it.each([
    ['no weights', () => [], /setWeights: expected a non-empty array of \{ name, tensor \}/],
    [
      'a step count of NaN',
      iter(NaN),
      /the first weight \('iter'\) is the step count and holds NaN; it must be one integer >= 0/,
    ],
    ['a step count of -5', iter(-5), /step count and holds -5;/],
    ['a step count of 2.5', iter(2.5), /step count and holds 2.5;/],
    [
      'a NaN row second moment',
      (w, n) => poke(w, n, 0, 'row', 3, NaN),
      /'w0_[^']*\/exp_avg_sq_row' holds NaN at element 3, a value no step produces/,
    ],
    [
      'an infinite second moment',
      (w, n) => poke(w, n, 1, 'full', 6, Infinity),
      /'w1_[^']*\/exp_avg_sq' holds Infinity at element 6/,
    ],
    [
      'a negative column second moment',
      (w, n) => poke(w, n, 0, 'col', 2, -1),
      /'w0_[^']*\/exp_avg_sq_col' holds -1 at element 2, a negative second moment/,
    ],
    ['a NaN momentum', (w, n) => poke(w, n, 2, 'momentum', 9, NaN), /'w2_[^']*\/exp_avg' holds NaN at element 9/],
    [
      'a row without its column',
      (w, n) => withSlot(w, n, 0, 'col'),
      /'w0_[^']*' has exp_avg_sq_row but no exp_avg_sq_col; a factored second moment needs both/,
    ],
    [
      'a column without its row',
      (w, n) => withSlot(w, n, 2, 'row'),
      /'w2_[^']*' has exp_avg_sq_col but no exp_avg_sq_row/,
    ],
    [
      'a full second moment beside rows and columns',
      (w, n) => [...w, { name: `${n[0]}/exp_avg_sq`, tensor: tf.ones([12, 7]) }],
      /'w0_[^']*' has both exp_avg_sq and exp_avg_sq_row/,
    ],
    [
      'no momentum with beta1',
      (w, n) => withSlot(w, n, 1, 'momentum'),
      /'w1_[^']*' has no exp_avg, which these options \(beta1\) keep/,
    ],
    [
      'a row of the wrong shape for a registered variable',
      (w, n) => withSlot(w, n, 0, 'row', tf.ones([11])),
      /the exp_avg_sq_row state of 'w0_[^']*' has shape \[11\], expected \[12\]/,
    ],
    [
      'a factored state for a scalar variable',
      (w, n) => [
        ...withSlot(w, n, 3, 'full'),
        { name: `${n[3]}/exp_avg_sq_row`, tensor: tf.ones([1]) },
        { name: `${n[3]}/exp_avg_sq_col`, tensor: tf.ones([1]) },
      ],
      /the state of 'w3_[^']*' has exp_avg_sq_row, exp_avg_sq_col, exp_avg; with these options it keeps exp_avg_sq, exp_avg/,
    ],
    [
      'a malformed name',
      (w) => [...w, { name: 'exp_avg_sq', tensor: tf.ones([3]) }],
      /setWeights: 'exp_avg_sq' is not '<variable>\/<slot>'/,
    ],
    ['a slot given twice', (w) => [...w, w[1]], /is given twice/],
    [
      'a disposed tensor',
      (w, n) => {
        const gone = tf.ones([7]);
        gone.dispose();
        return withSlot(w, n, 1, 'full', gone);
      },
      /setWeights: the tensor of 'w1_[^']*\/exp_avg_sq' is disposed/,
    ],
  ] as [string, (weights: NamedTensor[], names: string[]) => NamedTensor[], RegExp][])(
    'setWeights refuses %s and changes nothing',
    async (_, corrupt, message) => {
      const t = trained({ beta1: 0.9 }, 43);
      t.step(t.good());
      const saved = await t.optimizer.getWeights();
      // A second optimizer holds the state restored, not yet used: that too must survive a refusal.
      const restored = new AdafactorOptimizer({ beta1: 0.9 });
      await restored.setWeights(saved);
      const before = await snapshot(restored);
      await expect(
        restored.setWeights(
          corrupt(
            saved,
            t.variables.map((v) => v.name),
          ),
        ),
      ).rejects.toThrow(message);
      expect(restored.iterations).toBe(2);
      expect(await snapshot(restored)).toEqual(before);
      t.step(t.good(), restored);
      t.variables.forEach((v, i) =>
        expectClose(v.dataSync(), t.reference.params[i], `variable ${i} after the refusal`),
      );
      restored.dispose();
      t.dispose();
    },
  );

  it('restored state for a variable made after setWeights is checked by the step, before anything changes', async () => {
    const optimizer = new AdafactorOptimizer({ relativeStep: false, lr: 0.1 });
    const a = tf.variable(tf.ones([3, 5]), true, `a_${Math.random()}`);
    const name = `b_${Math.random()}`;
    await optimizer.setWeights([
      { name: 'iter', tensor: tf.scalar(3) },
      { name: `${name}/exp_avg_sq`, tensor: tf.ones([7]) },
    ]);
    const b = tf.variable(tf.ones([5]), true, name);
    const before = await snapshot(optimizer);
    expect(() => optimizer.applyGradients({ [a.name]: tf.ones([3, 5]), [b.name]: tf.ones([5]) })).toThrow(
      /AdafactorOptimizer: the exp_avg_sq state of 'b_[^']*' has shape \[7\], expected \[5\]/,
    );
    expect(optimizer.iterations).toBe(3);
    expect(await snapshot(optimizer)).toEqual(before);
    expect(Array.from(a.dataSync())).toEqual(new Array(15).fill(1));
    optimizer.dispose();
    tf.dispose([a, b]);
  });

  it('setWeights refuses momentum for options without beta1, and changes nothing', async () => {
    const t = trained({}, 47);
    const withMomentum = trained({ beta1: 0.9 }, 47);
    const before = await snapshot(t.optimizer);
    await expect(t.optimizer.setWeights(await withMomentum.optimizer.getWeights())).rejects.toThrow(
      /'w0_[^']*' has exp_avg, which these options \(no beta1\) do not keep/,
    );
    expect(await snapshot(t.optimizer)).toEqual(before);
    t.step(t.good());
    t.variables.forEach((v, i) => expectClose(v.dataSync(), t.reference.params[i], `variable ${i} after the refusal`));
    t.dispose();
    withMomentum.dispose();
  });
});

/**
 * What a user does to pause and resume training: save the model with its optimizer, load it
 * back, train on. tfjs-layers saves the optimizer's getConfig() in the training config and its
 * getWeights() beside the model's weights; loadLayersModel rebuilds the optimizer with
 * fromConfig and hands it the saved weights with setWeights.
 */
describe('a tfjs-layers model saved with its optimizer (includeOptimizer) resumes training exactly', () => {
  const EPOCHS = 2; // per part; two batches of 16 each: 4 steps before each save, 4 after the last load
  const data = () => {
    const rand = random(77);
    return { x: tf.tensor(normals(32 * 6, rand), [32, 6]), y: tf.tensor(normals(32 * 3, rand), [32, 3]) };
  };
  const bitsOf = (tensors: tf.Tensor[]) =>
    tensors.map((t) => Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer)));

  it.each([
    [
      'momentum, an external lr, factored kernels, weight decay, every kind of option',
      {
        beta1: 0.9,
        relativeStep: false,
        lr: 0.02,
        scaleParameter: false,
        weightDecay: 0.01,
        weightDecayScale: 'none',
        clipThreshold: 0.5,
        eps1: 1e-29,
        eps2: 2e-3,
        decayRate: -0.7,
        factorDims: 'largest2',
        minDimSizeToFactor: 2,
        skipNonFinite: true,
        stochasticRounding: false,
      },
    ],
    [
      'momentum and the relative step with warmup (the schedule needs the restored step count)',
      { beta1: 0.5, warmupInit: true },
    ],
    ['no clipping: clipThreshold Infinity, a number JSON has no word for', { clipThreshold: Infinity, beta1: 0.9 }],
  ] as [string, AdafactorOptions][])('%s', async (_, options) => {
    const { x, y } = data();
    const { uninterrupted, initial, first, optimizer, saved } = await trainUntilSave(options, x, y, 3 * EPOCHS, EPOCHS);
    // The [6, 16] and [16, 3] kernels keep rows and columns: the factored state is what is saved.
    expect(saved.filter((w) => w.name.endsWith('/exp_avg_sq_row')).map((w) => w.tensor.shape)).toEqual([[6], [16]]);
    const loaded = await saveAndLoad(first);

    const restored = loaded.optimizer as AdafactorOptimizer;
    expect(restored).toBeInstanceOf(AdafactorOptimizer);
    expect(restored).not.toBe(optimizer);
    expect(restored.getConfig()).toStrictEqual(optimizer.getConfig());
    expect(restored.iterations).toBe(2 * EPOCHS);
    // The optimizer's own weights came back whole, value for value (their names are checked below).
    const back = await restored.getWeights();
    expect(bitsOf(back.map((w) => w.tensor))).toEqual(bitsOf(saved.map((w) => w.tensor)));
    expect(bitsOf(loaded.getWeights())).toEqual(bitsOf(first.getWeights()));

    await fit(loaded, x, y, EPOCHS);
    // Saved again and loaded again: the state saved is under the first load's names now.
    const again = await saveAndLoad(loaded);
    await fit(again, x, y, EPOCHS);
    const resumed = again.optimizer as AdafactorOptimizer;
    expect(resumed.iterations).toBe(3 * 2 * EPOCHS);
    // The same tfjs ops on the same numbers: the resumed run is the uninterrupted one, bit for bit.
    expect(bitsOf(again.getWeights())).toEqual(bitsOf(uninterrupted.getWeights()));
    const resumedState = await resumed.getWeights();
    const uninterruptedState = await (uninterrupted.optimizer as AdafactorOptimizer).getWeights();
    expect(bitsOf(resumedState.map((w) => w.tensor))).toEqual(bitsOf(uninterruptedState.map((w) => w.tensor)));
    // The state is the loaded model's now, under its variables' names (made unique by tfjs-layers).
    const variableNames = again.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val.name);
    expect(variableNames.every((n) => /_2$/.test(n))).toBe(true);
    expect(resumedState.slice(1).map((w) => w.name.slice(0, w.name.lastIndexOf('/')))).toEqual(
      variableNames.flatMap((n) => (n.includes('kernel') ? [n, n, n] : [n, n])),
    );
    [uninterrupted, first, loaded, again].forEach((m) => m.dispose());
    tf.dispose([x, y, ...initial]);
  });

  it("state restored under a layer variable's name reaches the variable tfjs-layers made unique from it; when two could be meant, the step is refused", async () => {
    const stamp = String(Math.random()).slice(2);
    const variable = (name: string, value = tf.ones([4, 3])) => tf.variable(value, true, `layer${stamp}/${name}`);
    const source = new AdafactorOptimizer({ beta1: 0.9 });
    const [w, u] = [variable('w'), variable('u')];
    source.applyGradients({ [w.name]: tf.ones([4, 3]), [u.name]: tf.fill([4, 3], 2) });
    const saved = await source.getWeights();
    // 'w_1' takes the state of 'w' (its name before tfjs-layers made it unique); that of 'u' waits for 'u'.
    const optimizer = new AdafactorOptimizer({ beta1: 0.9 });
    await optimizer.setWeights(saved);
    const w1 = variable('w_1', w.clone());
    const grad = tf.tensor(normals(12, random(9)), [4, 3]);
    optimizer.applyGradients({ [w1.name]: grad });
    source.applyGradients({ [w.name]: grad });
    expect(bits([w1])).toEqual(bits([w]));
    expect((await optimizer.getWeights()).map((x) => x.name)).toEqual(
      saved.map((x) => x.name.replace(`${w.name}/`, `${w1.name}/`)),
    );
    // State under 'w' and 'w_1' could both be that of 'w_2': refused, before anything changes.
    const twice = new AdafactorOptimizer({ beta1: 0.9 });
    await twice.setWeights([
      ...saved,
      ...saved
        .slice(1)
        .filter((x) => x.name.startsWith(`${w.name}/`))
        .map((x) => ({ ...x, name: x.name.replace(`${w.name}/`, `${w1.name}/`) })),
    ]);
    const w2 = variable('w_2');
    const before = await snapshot(twice);
    expect(() => twice.applyGradients({ [w2.name]: tf.ones([4, 3]) })).toThrow(
      new RegExp(
        `the state of '${w2.name}' could be that restored under '${w.name}' or '${w1.name}' \\(tfjs-layers adds '_<n>'`,
      ),
    );
    expect(twice.iterations).toBe(1);
    expect(await snapshot(twice)).toEqual(before);
    expect(Array.from(w2.dataSync())).toEqual(new Array(12).fill(1));
    [source, optimizer, twice].forEach((o) => o.dispose());
    tf.dispose([w, u, w1, w2]);
  });

  it('getConfig gives every option as JSON gives it back (an explicit undefined is no option); an lr function is refused', () => {
    const every: AdafactorOptions = {
      lr: 0.01,
      eps1: 1e-29,
      eps2: 2e-3,
      clipThreshold: 0.5,
      decayRate: -0.7,
      beta1: 0.9,
      weightDecay: 0.01,
      scaleParameter: false,
      relativeStep: false,
      warmupInit: false,
      factorDims: 'largest2',
      minDimSizeToFactor: 4,
      weightDecayScale: 'none',
      stochasticRounding: true,
      skipNonFinite: true,
    };
    expect(Object.keys(every).sort()).toEqual(Object.keys(new AdafactorOptimizer(every).getConfig()).sort());
    const config = new AdafactorOptimizer({ ...every, beta1: undefined }).getConfig();
    expect(config).toStrictEqual(JSON.parse(JSON.stringify(config)));
    expect('beta1' in config).toBe(false);
    // Options are the optimizer's own: changing the object given later changes nothing.
    const given = { beta1: 0.5 };
    const optimizer = new AdafactorOptimizer(given);
    given.beta1 = 0.25;
    expect(optimizer.getConfig()).toStrictEqual({ beta1: 0.5 });
    expect(() => new AdafactorOptimizer({ relativeStep: false, lr: (t) => 0.01 / t }).getConfig()).toThrow(
      /getConfig: a learning-rate function cannot be serialized; pass a number/,
    );
    expect(() => new AdafactorOptimizer({ factorDims: () => null }).getConfig()).toThrow(
      /getConfig: a factorDims function cannot be serialized; use 'last2', 'largest2' or 'conv'/,
    );
    expect(new AdafactorOptimizer({ factorDims: 'conv' }).getConfig()).toStrictEqual({ factorDims: 'conv' });
  });

  it("fromConfig takes the customObjects tfjs-layers adds, and still refuses an unknown option, also from a saved model's training config", async () => {
    const revived = AdafactorOptimizer.fromConfig(AdafactorOptimizer, {
      customObjects: {},
      beta1: 0.9,
      factorDims: 'largest2',
    });
    expect(revived).toBeInstanceOf(AdafactorOptimizer);
    expect(revived.getConfig()).toStrictEqual({ beta1: 0.9, factorDims: 'largest2' });
    expect(() => AdafactorOptimizer.fromConfig(AdafactorOptimizer, { customObjects: {}, betaOne: 0.9 })).toThrow(
      /AdafactorOptimizer: unknown option 'betaOne'/,
    );
    const { x, y } = data();
    const model = makeModel();
    model.compile({ optimizer: new AdafactorOptimizer({ beta1: 0.9 }), loss: 'meanSquaredError' });
    await fit(model, x, y, 1);
    await expect(saveAndLoad(model, (config) => ({ ...config, momentum: 0.9 }))).rejects.toThrow(
      /AdafactorOptimizer: unknown option 'momentum'/,
    );
    model.dispose();
    tf.dispose([x, y]);
  });
});

describe("AdafactorOptimizer takes the presets' options: PyTorch's, optax's and timm's traces on the tfjs ops path", () => {
  const traces = {
    torch: decodeTrace(torchJson as Parameters<typeof decodeTrace>[0], 'torch'),
    optax: decodeTrace(optaxJson as Parameters<typeof decodeTrace>[0], 'optax'),
    timm: decodeTimmTrace(timmJson as Parameters<typeof decodeTimmTrace>[0]),
  };
  for (const [library, cases] of Object.entries(traces)) {
    for (const golden of cases.filter((c) => !c.refused && c.initialCount === 0)) {
      it(`${library}: ${golden.name}`, () => {
        const variables = golden.params.map((p) =>
          tf.variable(tf.tensor(p.init, p.shape), true, `${library}_${golden.name}_${p.name}_${Math.random()}`),
        );
        const optimizer = new AdafactorOptimizer(golden.options);
        for (const [s, step] of golden.steps.entries()) {
          optimizer.applyGradients(
            variables.map((v, i) => ({ name: v.name, tensor: tf.tensor(step.grads[i], golden.params[i].shape) })),
          );
          step.expected?.forEach((expected, i) =>
            expectClose(
              variables[i].dataSync(),
              expected,
              `${golden.params[i].name} after step ${s + 1}`,
              toleranceFor(golden.options),
            ),
          );
        }
        optimizer.dispose();
        variables.forEach((v) => v.dispose());
      });
    }
  }
});

describe('parameter groups of AdafactorOptimizer (tfjs-ops path)', () => {
  it('zero-initialised biases in a group with scaleParameter: false learn as the float64 reference says; with the defaults they barely move', async () => {
    const grouped = await trainBiasGroup(240, {}, { scaleParameter: false });
    const defaults = await trainBiasGroup(240, {}, undefined);
    expect(defaults).toBeLessThan(240 * 1e-5);
    expect(grouped).toBeGreaterThan(100 * defaults);
    // Momentum in the group only: the group's variables keep exp_avg, the others do not.
    await trainBiasGroup(
      20,
      { weightDecay: 0.1 },
      { scaleParameter: false, beta1: 0.9, relativeStep: false, lr: 1e-3 },
    );
  });

  it('a variable takes the first group that matches its name; groups cross getConfig as RegExps; a function match cannot be saved', async () => {
    const optimizer = new AdafactorOptimizer({ beta1: 0.5 }, [
      { match: /bias/, scaleParameter: false },
      { match: (name) => name.startsWith('x'), relativeStep: false, lr: 0.25 },
    ]);
    expect(optimizer.learningRate(4)).toBe(1e-2);
    expect(optimizer.learningRate(4, 0)).toBe(1e-2);
    expect(optimizer.learningRate(4, 1)).toBe(0.25);
    expect(() => optimizer.learningRate(4, 2)).toThrow(
      /group must be the index of one of the 2 parameter groups, got 2/,
    );
    expect(() => optimizer.getConfig()).toThrow(
      /parameter group 1 matches with a function, which cannot be saved; match with a RegExp/,
    );

    const saved = new AdafactorOptimizer({ clipThreshold: Infinity }, [
      { match: /\/bias$/i, scaleParameter: false, clipThreshold: 2 },
    ]);
    const config = JSON.parse(JSON.stringify(saved.getConfig()));
    expect(config).toEqual({
      clipThreshold: 'Infinity',
      groups: [{ match: { source: '\\/bias$', flags: 'i' }, scaleParameter: false, clipThreshold: 2 }],
    });
    const back = AdafactorOptimizer.fromConfig(AdafactorOptimizer, config) as AdafactorOptimizer;
    expect(back.getConfig()).toEqual(saved.getConfig());
    [optimizer, saved, back].forEach((o) => o.dispose());
  });

  it('a tfjs-layers model with a bias group, saved through one JSON string and loaded, trains on to the uninterrupted weights', async () => {
    const rand = random(9);
    const x = tf.tensor(normals(32 * 6, rand), [32, 6]);
    const y = tf.tensor(normals(32 * 3, rand), [32, 3]);
    const groups = [{ match: /bias/, scaleParameter: false, beta1: 0.9 }];
    const { uninterrupted, initial, first } = await trainUntilSave({ clipThreshold: Infinity }, x, y, 4, 2, groups);
    const loaded = await saveAndLoad(first);
    expect((loaded.optimizer as AdafactorOptimizer).getConfig()).toEqual(
      (first.optimizer as AdafactorOptimizer).getConfig(),
    );
    await fit(loaded, x, y, 2);
    const bits = (ts: tf.Tensor[]) =>
      ts.map((t) => Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer)));
    expect(bits(loaded.getWeights())).toEqual(bits(uninterrupted.getWeights()));
    // The biases learned (tfjs-layers starts them at zero).
    const biases = loaded.getWeights().filter((w) => w.shape.length === 1);
    for (const b of biases) expect(rms(b.dataSync())).toBeGreaterThan(1e-3);
    [uninterrupted, first, loaded].forEach((m) => m.dispose());
    tf.dispose([x, y, ...initial]);
  });

  it.each([
    ['a group that is not an object', [3], /parameter group 0 must be an object \{ match, \.\.\.options \}/],
    ['a group without match', [{ scaleParameter: false }], /parameter group 0: match must be a RegExp or a function/],
    [
      'an optimizer-wide option in a group',
      [{ match: /b/, skipNonFinite: true }],
      /parameter group 0 sets skipNonFinite, which applies to the whole optimizer/,
    ],
    [
      'a bad option in a group',
      [{ match: /a/ }, { match: /b/, beta1: 2 }],
      /AdafactorOptimizer: parameter group 1: option beta1 must be a finite number in \[0, 1\)/,
    ],
  ])('refuses %s, naming the group', (_, groups, message) => {
    expect(() => new AdafactorOptimizer({}, groups as never)).toThrow(message);
  });
});
