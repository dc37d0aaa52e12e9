/**
 * The browser side of test/browser/jax.test.ts: the jax entry on jax-js's webgpu backend, with
 * and without jit, against the float64 reference on random inputs and against Hugging Face's and
 * optax's golden traces, each check run on request through `window.jaxChecks` so that results
 * come back to the test runner test by test.
 */
import { type Array, defaultDevice, init, numpy as np, tree } from '@jax-js/jax';
import { rms } from '../../src/index.js';
import { adafactor } from '../../src/jax/index.js';
import hfJson from '../data/hf-adafactor.json';
import optaxJson from '../data/optax-adafactor.json';
import { type GoldenCase, decodeGolden, decodeTrace } from '../gpu/golden.js';
import { expectClose, expectStatsClose, normals, random, relativeError, toleranceFor } from '../gpu/harness.js';
import { OPTION_SETS, type TreeTensor, leafValues, runAgainstReference, stepper, treeOf } from '../gpu/jax.js';

const traces: Record<string, GoldenCase[]> = {
  'Hugging Face': decodeGolden(hfJson as Parameters<typeof decodeGolden>[0]),
  optax: decodeTrace(optaxJson as Parameters<typeof decodeTrace>[0], 'optax'),
};

/** The tree of the reference checks: a factored matrix, a vector, a rank-3 tensor in a list, a scalar. */
const SHAPES: [string, number[]][] = [
  ['dense.kernel', [12, 7]],
  ['dense.bias', [7]],
  ['blocks.0.w', [3, 5, 6]],
  ['blocks.1.scale', []],
];

/** jax-js's webgpu backend, made the default device; throws where this Chromium has none. */
async function startWebGpu(): Promise<string> {
  if (!navigator.gpu)
    throw new Error('navigator.gpu is missing: this Chromium has no WebGPU (start it with --enable-unsafe-webgpu)');
  const devices = await init('webgpu');
  if (!devices.includes('webgpu'))
    throw new Error(`jax-js's init('webgpu') returned [${devices.join(', ')}]: no webgpu backend in this Chromium`);
  defaultDevice('webgpu');
  const adapter = await navigator.gpu.requestAdapter();
  const info = adapter?.info;
  return info ? `${info.vendor} / ${info.architecture} / ${info.description}` : 'unknown adapter';
}

const ready = startWebGpu();

/**
 * 4 steps of the option set `name` on random params and gradients from `seed`, jitted or not:
 * the params within toleranceFor(options) of the float64 reference, the last step's stats within
 * 1e-4, and the gradient norm (with maxGradNorm) within 1e-5. Returns the worst params error.
 */
async function againstReference(name: string, jitted: boolean, seed: number): Promise<number> {
  await ready;
  const found = OPTION_SETS.find(([n]) => n === name);
  if (!found) throw new Error(`no option set named '${name}'`);
  const options = found[1];
  const rand = random(seed);
  const tensors: TreeTensor[] = SHAPES.map(([path, shape]) => ({
    path,
    shape,
    data: normals(
      shape.reduce((a, b) => a * b, 1),
      rand,
    ),
  }));
  const result = await runAgainstReference(tensors, options, () => tensors.map((t) => normals(t.data.length, rand)), {
    steps: 4,
    jitted,
    device: 'webgpu',
  });
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

/** The golden case `name` of `library`'s traces through its preset, jitted or not: the params after each listed step. */
async function golden(library: string, name: string, jitted: boolean): Promise<void> {
  await ready;
  const found = traces[library]?.find((c) => c.name === name);
  if (!found) throw new Error(`no ${library} trace named '${name}'`);
  const optimizer = adafactor(found.options);
  const tensors = found.params.map((p) => ({ path: p.name, shape: p.shape, data: p.init }));
  let params = tree.leaves(treeOf(tensors, 'webgpu')) as Array[];
  let state = optimizer.init(tree.ref(params));
  const step = stepper(optimizer, jitted);
  for (const [s, { grads, expected }] of found.steps.entries()) {
    const g = grads.map((data, i) => np.array(data, { shape: found.params[i].shape, device: 'webgpu' }));
    [params, state] = step(params, g, state) as [Array[], typeof state];
    if (!expected) continue;
    const values = await leafValues(params);
    values.forEach((v, i) => {
      if (rms(expected[i]) === 0 && rms(v) === 0) return;
      expectClose(v, expected[i], `step ${s + 1}, ${found.params[i].name}`);
    });
  }
  const elsewhere = params.filter((p) => p.device !== 'webgpu').map((p) => p.device);
  if (elsewhere.length > 0) throw new Error(`the params ended on ${elsewhere.join(', ')}, not webgpu`);
  tree.dispose(params);
  tree.dispose(state);
}

declare global {
  interface Window {
    jaxChecks: { ready: Promise<string>; againstReference: typeof againstReference; golden: typeof golden };
  }
}

window.jaxChecks = { ready, againstReference, golden };
