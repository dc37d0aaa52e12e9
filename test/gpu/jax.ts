/**
 * What the jax entry's tests share in Node and in the browser: a jax-js training step built from
 * the transformation (with or without jit), and a run of it against the float64 reference.
 */
import { type Array, type JsTree, jit, numpy as np, tree } from '@jax-js/jax';
import { type AdafactorOptions, ReferenceAdafactor, type StepStats, rms } from '../../src/index.js';
import hfJson from '../data/hf-adafactor.json';
import optaxJson from '../data/optax-adafactor.json';
import { type GoldenCase, decodeGolden, decodeTrace } from './golden.js';
import { expectClose, expectStatsClose, normals, random, relativeError, toleranceFor } from './harness.js';
import { type AdafactorTransformation, adafactor, applyUpdates } from '../../src/jax/index.js';

export { applyUpdates };
import type { AdafactorJaxState } from '../../src/jax/index.js';

/** The option sets the jax entry's tests run against the float64 reference, on every backend. */
export const OPTION_SETS: [string, AdafactorOptions][] = [
  ['defaults', {}],
  ['momentum, weight decay, an external lr', { beta1: 0.9, weightDecay: 0.01, relativeStep: false, lr: 0.02 }],
  ["optax's factoring", { factorDims: 'largest2', minDimSizeToFactor: 4, weightDecayScale: 'none', weightDecay: 0.01 }],
  ["timm's convolution factoring, warmup", { factorDims: 'conv', minDimSizeToFactor: 3, beta1: 0.9, warmupInit: true }],
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
  ["torch's floored denominator, a fixed beta2", { eps1Mode: 'floor', eps1: 1e-3, beta2: 0.99, clipThreshold: 0.5 }],
  [
    'skipNonFinite with nothing to skip, a loss scale, global-norm clipping, caution',
    {
      skipNonFinite: true,
      beta1: 0.9,
      gradScale: 1024,
      maxGradNorm: 2,
      caution: true,
    },
  ],
  ["a bf16 first moment with timm's lerp", { beta1: 0.9, momentumDtype: 'bf16', momentumArithmetic: 'lerp' }],
  ["an f16 first moment with optax's order", { beta1: 0.9, momentumDtype: 'f16' }],
];

/** One training step's optimizer part: (params, grads, state) -> [new params, new state], jitted or not. */
export function stepper(optimizer: AdafactorTransformation, jitted: boolean) {
  const step = (params: JsTree<Array>, grads: JsTree<Array>, state: AdafactorJaxState) => {
    const [updates, next] = optimizer.update(grads, state, tree.ref(params));
    return [applyUpdates(params, updates), next] as [JsTree<Array>, AdafactorJaxState];
  };
  return jitted ? (jit(step as never) as unknown as typeof step) : step;
}

/** A tensor of a test: its path in the tree, shape and values. */
export interface TreeTensor {
  path: string;
  shape: number[];
  data: Float32Array;
}

/** `tensors` as a nested pytree: paths 'a.b' become { a: { b } }, numeric keys array slots. */
export function treeOf(tensors: readonly TreeTensor[], device?: string): JsTree<Array> {
  const root: Record<string, unknown> = {};
  for (const t of tensors) {
    const keys = t.path.split('.');
    let node = root;
    for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[keys[keys.length - 1]] = np.array(t.data, { shape: t.shape, device: device as never });
  }
  return arraysFromNumericKeys(root) as JsTree<Array>;
}

function arraysFromNumericKeys(node: unknown): unknown {
  if (typeof node !== 'object' || node === null || node.constructor !== Object) return node;
  const entries = Object.entries(node).map(([k, v]) => [k, arraysFromNumericKeys(v)] as const);
  if (entries.length > 0 && entries.every(([k], i) => k === String(i))) return entries.map(([, v]) => v);
  return Object.fromEntries(entries);
}

/** Each leaf's values (the tree stays the caller's). */
export async function leafValues(t: JsTree<Array>): Promise<Float32Array[]> {
  return Promise.all(tree.leaves(t).map(async (a) => Float32Array.from(await (a as Array).ref.data())));
}

export interface RunResult {
  params: Float32Array[];
  reference: ReferenceAdafactor;
  /** Per step: the stats read from the state, and the reference's. */
  stats: { actual: (StepStats & { name: string })[]; expected: (StepStats | undefined)[]; gradNorm?: number }[];
}

/**
 * `steps` steps of the jax entry and of the float64 reference from the same random start and
 * gradients (`gradients(step)`, per tensor); returns the params and stats of both.
 */
export async function runAgainstReference(
  tensors: readonly TreeTensor[],
  options: AdafactorOptions,
  gradients: (step: number) => Float32Array[],
  { steps, jitted, device }: { steps: number; jitted: boolean; device?: string },
): Promise<RunResult> {
  const optimizer = adafactor(options);
  const reference = new ReferenceAdafactor(
    tensors.map((t) => ({ data: t.data, shape: t.shape, name: t.path })),
    options,
  );
  let params = treeOf(tensors, device);
  let state = optimizer.init(tree.ref(params));
  const step = stepper(optimizer, jitted);
  const stats: RunResult['stats'] = [];
  for (let s = 1; s <= steps; s++) {
    const g = gradients(s);
    const grads = treeOf(
      tensors.map((t, i) => ({ ...t, data: g[i] })),
      device,
    );
    [params, state] = step(params, grads, state);
    reference.step(g);
    const read = await optimizer.stats(tree.ref(state));
    stats.push({ actual: read.tensors, expected: reference.lastStats, gradNorm: read.gradNorm });
  }
  const values = await leafValues(params);
  tree.dispose(params);
  tree.dispose(state);
  return { params: values, reference, stats };
}

/** The tree of the reference checks: a factored matrix, a vector, a rank-3 tensor in a list, a scalar. */
export const SHAPES: [string, number[]][] = [
  ['dense.kernel', [12, 7]],
  ['dense.bias', [7]],
  ['blocks.0.w', [3, 5, 6]],
  ['blocks.1.scale', []],
];

/** The tensors of SHAPES with random normal values. */
export function randomTensors(rand: () => number): TreeTensor[] {
  return SHAPES.map(([path, shape]) => ({
    path,
    shape,
    data: normals(
      shape.reduce((a, b) => a * b, 1),
      rand,
    ),
  }));
}

/**
 * 4 steps of `options` on random params and gradients from `seed`, jitted or not, on `device`
 * (the default device without one): the params within toleranceFor(options) of the float64
 * reference, the last step's stats within 1e-4 and named by path, and the gradient norm (with
 * maxGradNorm) within 1e-5; throws otherwise. Returns the worst params error.
 */
export async function checkAgainstReference(
  options: AdafactorOptions,
  { jitted, seed, device }: { jitted: boolean; seed: number; device?: string },
): Promise<number> {
  const rand = random(seed);
  const tensors = randomTensors(rand);
  const gradients = () => tensors.map((t) => normals(t.data.length, rand));
  const result = await runAgainstReference(tensors, options, gradients, { steps: 4, jitted, device });
  result.params.forEach((p, i) => expectClose(p, result.reference.params[i], tensors[i].path, toleranceFor(options)));
  const last = result.stats[result.stats.length - 1];
  const names = last.actual.map((t) => t.name).join(', ');
  if (names !== tensors.map((t) => t.path).join(', ')) throw new Error(`the stats name the tensors ${names}`);
  last.actual.forEach((t, i) => expectStatsClose(t, last.expected[i]!, `stats of ${t.name}`, 1e-4));
  if (options.maxGradNorm !== undefined) {
    const expected = result.reference.lastGradNorm!;
    const error = Math.abs(last.gradNorm! - expected) / expected;
    if (!(error < 1e-5)) throw new Error(`gradNorm ${last.gradNorm} where the reference has ${expected}`);
  }
  return Math.max(...result.params.map((p, i) => relativeError(p, result.reference.params[i])));
}

/** Hugging Face's and optax's golden traces, each through its preset. */
export const GOLDEN_SUITES: Record<string, GoldenCase[]> = {
  'Hugging Face': decodeGolden(hfJson as Parameters<typeof decodeGolden>[0]),
  optax: decodeTrace(optaxJson as Parameters<typeof decodeTrace>[0], 'optax'),
};

/** The cases of a suite the jax entry replays: from step 0, and under jit only where lr is not a function (jit refuses one). */
export function replayable(cases: readonly GoldenCase[], jitted: boolean): GoldenCase[] {
  return cases.filter((c) => !c.refused && c.initialCount === 0 && !(jitted && typeof c.options.lr === 'function'));
}

/** A golden case through the jax entry, jitted or not, on `device`: the params within 1e-5 of RMS(x) after each listed step; throws otherwise. */
export async function replayGolden(golden: GoldenCase, { jitted, device }: { jitted: boolean; device?: string }) {
  const optimizer = adafactor(golden.options);
  const tensors = golden.params.map((p) => ({ path: p.name, shape: p.shape, data: p.init }));
  let params = tree.leaves(treeOf(tensors, device)) as Array[];
  let state = optimizer.init(tree.ref(params));
  const step = stepper(optimizer, jitted);
  for (const [s, { grads, expected }] of golden.steps.entries()) {
    const g = grads.map((data, i) => np.array(data, { shape: golden.params[i].shape, device: device as never }));
    [params, state] = step(params, g, state) as [Array[], typeof state];
    if (!expected) continue;
    const values = await leafValues(params);
    values.forEach((v, i) => {
      if (rms(expected[i]) === 0 && rms(v) === 0) return;
      expectClose(v, expected[i], `step ${s + 1}, ${golden.params[i].name}`);
    });
  }
  const elsewhere = device ? params.filter((p) => p.device !== device).map((p) => p.device) : [];
  if (elsewhere.length > 0) throw new Error(`the params ended on ${elsewhere.join(', ')}, not ${device}`);
  tree.dispose(params);
  tree.dispose(state);
}
