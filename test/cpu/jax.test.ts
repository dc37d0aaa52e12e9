// The jax entry (webgpu-adafactor/jax) on jax-js's cpu and wasm backends in Node, with and without
// jit: against the float64 reference on fresh random inputs, and against the golden traces of
// Hugging Face's and optax's Adafactor through the presets.
import { type Array, defaultDevice, init, jit, numpy as np, tree } from '@jax-js/jax';
import { describe, expect, it } from 'vitest';
import type { AdafactorOptions } from '../../src/index.js';
import { roundTo } from '../../src/core/half.js';
import { adafactor } from '../../src/jax/index.js';
import { roundToDtype } from '../../src/jax/stages.js';
import { GroupReferences, expectClose, normals, random } from '../gpu/harness.js';
import {
  GOLDEN_SUITES,
  OPTION_SETS,
  checkAgainstReference,
  leafValues,
  randomTensors,
  replayGolden,
  replayable,
  runAgainstReference,
  stepper,
  treeOf,
} from '../gpu/jax.js';

const DEVICES = await init('cpu', 'wasm');
const BACKENDS = ['cpu', 'wasm'] as const;

describe('jax entry: jax-js cpu and wasm in Node, against the float64 reference', () => {
  it('has both backends', () => expect(DEVICES).toEqual(expect.arrayContaining(['cpu', 'wasm'])));
  for (const backend of BACKENDS) {
    for (const jitted of [false, true]) {
      it.each(OPTION_SETS)(
        `%s (${backend}${jitted ? ', jit' : ''})`,
        async (_, options) => {
          defaultDevice(backend);
          await checkAgainstReference(options, { jitted, seed: Date.now() % 2 ** 31 });
        },
        60_000,
      );
    }
  }

  it('a learning rate and a loss scale that are functions of the step (outside jit), and a skipped step', async () => {
    defaultDevice('wasm');
    const rand = random(11);
    const tensors = randomTensors(rand);
    const options: AdafactorOptions = {
      relativeStep: false,
      lr: (t) => 0.01 / t,
      gradScale: (t) => 2 ** t,
      skipNonFinite: true,
      beta1: 0.9,
    };
    const result = await runAgainstReference(
      tensors,
      options,
      (step) =>
        tensors.map((t, i) => {
          const g = normals(t.data.length, rand, 2 ** step);
          if (step === 3 && i === 1) g[0] = NaN;
          return g;
        }),
      { steps: 5, jitted: false },
    );
    expect(result.reference.skippedSteps).toBe(1);
    result.params.forEach((p, i) => expectClose(p, result.reference.params[i], tensors[i].path));
  });
});

describe("jax entry: Hugging Face's and optax's golden traces through the presets", () => {
  for (const [library, cases] of Object.entries(GOLDEN_SUITES)) {
    for (const jitted of [false, true]) {
      // A learning rate that is a function of the step runs outside jit only (jit refuses it).
      for (const golden of replayable(cases, jitted)) {
        it(`${library}: ${golden.name} (wasm${jitted ? ', jit' : ''})`, async () => {
          defaultDevice('wasm');
          await replayGolden(golden, { jitted });
        });
      }
    }
  }
});

describe('jax entry: refusals name the tensor and change nothing', () => {
  it('refuses gradients that do not fit, a missing params, and options of the WebGPU engine', async () => {
    defaultDevice('cpu');
    const optimizer = adafactor({ beta1: 0.9 });
    const params = { w: np.ones([4, 3]), b: np.zeros([3]) };
    const state = optimizer.init(tree.ref(params));
    const before = await leafValues(state as never);
    const bad = { w: np.ones([3, 4]), b: np.zeros([3]) };
    expect(() => optimizer.update(bad, state, tree.ref(params))).toThrow(
      "adafactor.update: the gradient of 'w' has shape [3, 4], its parameter [4, 3]",
    );
    expect(() => optimizer.update({ w: np.ones([4, 3]) } as never, state, tree.ref(params))).toThrow(/structure/);
    expect(() => optimizer.update(tree.ref(params), state)).toThrow(/needs the params/);
    expect(() => adafactor({ stochasticRounding: true })).toThrow(/stochasticRounding is not available/);
    const ints = { w: np.array([1, 2], { dtype: np.int32 }) };
    expect(() => optimizer.init(ints)).toThrow(
      "adafactor.init: parameter 'w' is int32; the jax entry updates float32 arrays",
    );
    expect(() => optimizer.init({ 'a.b': np.ones([2]), a: { b: np.ones([2]) } })).toThrow(
      "adafactor.init: two parameters are named 'a.b'; give each a path of its own",
    );
    expect(() => adafactor({}, [{ mask: { w: true }, skipNonFinite: true } as never])).toThrow(
      /parameter group 0 sets skipNonFinite/,
    );
    // Nothing was consumed or changed: the state and params still step.
    expect(await leafValues(state as never)).toEqual(before);
    const [updates, next] = optimizer.update({ w: np.ones([4, 3]), b: np.ones([3]) }, state, tree.ref(params));
    expect((updates as { w: Array }).w.shape).toEqual([4, 3]);
    tree.dispose([updates, next, params, bad, ints]);
  });

  it('refuses a learning-rate function under jit, saying what to do', () => {
    defaultDevice('cpu');
    const optimizer = adafactor({ relativeStep: false, lr: (t) => 0.1 / t });
    const params = [np.ones([2, 2])];
    const state = optimizer.init(tree.ref(params));
    const step = jit((p: Array[], g: Array[], s: typeof state) => optimizer.update(g, s, p) as never);
    expect(() => step(tree.ref(params), [np.ones([2, 2])], tree.ref(state))).toThrow(/under jit/);
    tree.dispose([params, state]);
  });
});

describe('jax entry: parameter groups by masks', () => {
  it('each leaf takes the options of the first group whose mask marks it', async () => {
    defaultDevice('wasm');
    const rand = random(3);
    const tensors = randomTensors(rand);
    const noDecay = { weightDecay: 0, beta1: 0.5 };
    const optimizer = adafactor({ weightDecay: 0.1, relativeStep: false, lr: 0.01 }, [
      { mask: (p) => tree.map((leaf) => (leaf as { ndim: number }).ndim < 2, p) as never, ...noDecay },
    ]);
    let params = treeOf(tensors);
    let state = optimizer.init(tree.ref(params));
    // Group 0: the mask's leaves (rank < 2); group 1: the others, with the optimizer's options.
    const small = tensors.flatMap((t, i) => (t.shape.length < 2 ? [i] : []));
    const large = tensors.flatMap((t, i) => (t.shape.length < 2 ? [] : [i]));
    const base = { weightDecay: 0.1, relativeStep: false, lr: 0.01 };
    const references = new GroupReferences(
      [small, large],
      tensors.map((t) => t.data),
      tensors.map((t) => t.shape),
      (g) => (g === 0 ? { ...base, ...noDecay } : base),
    );
    const step = stepper(optimizer, true);
    for (let s = 0; s < 3; s++) {
      const g = tensors.map((t) => normals(t.data.length, rand));
      [params, state] = step(params, treeOf(tensors.map((t, i) => ({ ...t, data: g[i] }))), state);
      references.step(g);
    }
    references.expectClose(await leafValues(params));
    expect(Object.keys(state.moments['dense.bias'])).toEqual(['exp_avg_sq', 'exp_avg']);
    expect(Object.keys(state.moments['dense.kernel'])).toEqual(['exp_avg_sq_row', 'exp_avg_sq_col']);
    tree.dispose([params, state]);
  });
});

describe('jax entry: a 16-bit first moment rounds as the library does', () => {
  it('to nearest, ties to even, subnormals and overflow included: the same values as core/half.ts, with and without jit, on cpu and wasm', async () => {
    const rand = random(17);
    // Values around every binary exponent that matters to either format: halfway points, and just
    // below them, among them.
    const values: number[] = [0, -0, Infinity, -Infinity, NaN, 65504, 65520, 70000, 3.4e38, -1e39];
    const fractions = [
      1,
      1.5,
      1 + 2 ** -8,
      1 + 2 ** -8 - 2 ** -23,
      1 + 3 * 2 ** -8,
      1 + 2 ** -11,
      1 + 2 ** -11 - 2 ** -23,
    ];
    for (let e = -150; e <= 20; e++) {
      for (const m of [...fractions, rand() + 1]) values.push(Math.fround((rand() < 0.5 ? -1 : 1) * m * 2 ** e));
    }
    // In a step the value to round is a product (beta1 M): jit fuses the rounding with it. Scaling
    // by a power of two keeps the product exact, so that core/half.ts sees the same number.
    for (const scale of [1, 2 ** -100]) {
      const scaled = values.filter((v) => scale === 1 || Number.isFinite(Math.fround(v / scale)));
      const inputs = Float32Array.from(scaled, (v) => v / scale);
      for (const device of ['cpu', 'wasm'] as const) {
        defaultDevice(device);
        for (const dtype of ['bf16', 'f16'] as const) {
          const expected = scaled.map((v) => roundTo(dtype, v));
          const fused = jit((x: Array) => roundToDtype(x.mul(scale), dtype));
          for (const [how, round] of [
            ['eager', (x: Array) => roundToDtype(x.mul(scale), dtype)],
            ['jit', fused],
          ] as const) {
            const actual: number[] = globalThis.Array.from(await round(np.array(inputs)).data());
            const wrong = actual.findIndex((v, i) => !Object.is(v, expected[i]) && v !== expected[i]);
            expect(
              wrong,
              `${device} ${how} ${dtype}, scale ${scale}: ${scaled[wrong]} rounds to ${actual[wrong]}, not ${expected[wrong]}`,
            ).toBe(-1);
          }
          fused.dispose();
        }
      }
    }
  });
});
