/**
 * What the jax entry's tests share in Node and in the browser: a jax-js training step built from
 * the transformation (with or without jit), and a run of it against the float64 reference.
 */
import { type Array, type JsTree, jit, numpy as np, tree } from '@jax-js/jax';
import { type AdafactorOptions, ReferenceAdafactor, type StepStats } from '../../src/index.js';
import { type AdafactorTransformation, adafactor } from '../../src/jax/index.js';
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

/** optax's applyUpdates: params + updates, leaf by leaf (consumes both). */
export function applyUpdates<T extends JsTree<Array>>(params: T, updates: T): T {
  return tree.map((p: Array, u: Array) => p.add(u), params, updates) as T;
}

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
