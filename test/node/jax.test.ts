/**
 * State that crosses between the jax entry and the WebGPU `Adafactor`: 5 steps of the jax-js
 * transformation (wasm, jit), saveState, loadState into `Adafactor` on Dawn and 5 steps there give
 * the parameters of an uninterrupted run (and of the float64 reference); and the reverse.
 */
import { defaultDevice, init, tree } from '@jax-js/jax';
import { describe, expect, it } from 'vitest';
import { type AdafactorOptions, ReferenceAdafactor } from '../../src/index.js';
import { adafactor } from '../../src/jax/index.js';
import { TensorSet, expectClose, normals, random, toleranceFor, withGpuErrors } from '../gpu/harness.js';
import { leafValues, stepper, treeOf } from '../gpu/jax.js';
import { useDevice } from './device.js';

const gpu = useDevice();
await init('wasm');

const SHAPES = [[12, 7], [7], [3, 5, 6], []];
// TensorSet names its tensors p0, p1, ...: the jax tree uses the same names as its paths.
const tensorsOf = (data: readonly Float32Array[]) =>
  SHAPES.map((shape, i) => ({ path: `p${i}`, shape, data: data[i] }));

const CASES: [string, AdafactorOptions][] = [
  ['defaults', {}],
  [
    "optax's factoring, momentum, weight decay, an external lr",
    { factorDims: 'largest2', minDimSizeToFactor: 4, beta1: 0.9, weightDecay: 0.01, relativeStep: false, lr: 0.01 },
  ],
  ['a bf16 first moment', { beta1: 0.9, momentumDtype: 'bf16' }],
];

/** Random start and 10 steps of gradients, and where the float64 reference ends after them. */
function scenario(options: AdafactorOptions) {
  const rand = random(Date.now() % 2 ** 31);
  const start = SHAPES.map((s) =>
    normals(
      s.reduce((a, b) => a * b, 1),
      rand,
    ),
  );
  const grads = Array.from({ length: 10 }, () => start.map((x) => normals(x.length, rand)));
  const reference = new ReferenceAdafactor(
    SHAPES.map((shape, i) => ({ shape, data: start[i] })),
    options,
  );
  grads.forEach((g) => reference.step(g));
  return { start, grads, expected: reference.params };
}

/** `steps` jitted steps of the jax entry from `params` and `state`; returns both. */
function jaxSteps(
  optimizer: ReturnType<typeof adafactor>,
  params: ReturnType<typeof treeOf>,
  state: ReturnType<ReturnType<typeof adafactor>['init']>,
  grads: readonly Float32Array[][],
) {
  const step = stepper(optimizer, true);
  for (const g of grads) [params, state] = step(params, treeOf(tensorsOf(g)), state);
  return { params, state };
}

describe('checkpoints cross between the jax entry (jax-js wasm) and the WebGPU Adafactor (Dawn)', () => {
  it.each(CASES)('%s: 5 steps in jax-js, saveState, loadState into Adafactor, 5 steps there', async (_, options) => {
    defaultDevice('wasm');
    const { start, grads, expected } = scenario(options);
    const optimizer = adafactor(options);
    const params = treeOf(tensorsOf(start));
    const half = jaxSteps(optimizer, params, optimizer.init(tree.ref(params)), grads.slice(0, 5));
    const bytes = await optimizer.saveState(tree.ref(half.state));
    const atFive = await leafValues(half.params);
    // The uninterrupted run goes on in jax-js.
    const whole = jaxSteps(optimizer, half.params, half.state, grads.slice(5));
    const uninterrupted = await leafValues(whole.params);
    tree.dispose([whole.params, whole.state] as never);
    await withGpuErrors(gpu.device, async () => {
      const tensors = new TensorSet(gpu.device, SHAPES, atFive);
      const gpuOptimizer = tensors.newOptimizer(options);
      gpuOptimizer.loadState(bytes);
      expect(gpuOptimizer.stepCount).toBe(5);
      for (const g of grads.slice(5)) {
        tensors.writeGrads(g);
        gpuOptimizer.step();
      }
      const resumed = await tensors.readParams();
      resumed.forEach((x, i) => {
        expectClose(x, uninterrupted[i], `p${i} against the uninterrupted jax-js run`, toleranceFor(options));
        expectClose(x, expected[i], `p${i} against the float64 reference`, toleranceFor(options));
      });
      gpuOptimizer.destroy();
      tensors.destroy();
    });
  });

  it.each(CASES)(
    '%s: 5 steps on Adafactor, saveState, loadState into the jax entry, 5 steps there',
    async (_, options) => {
      defaultDevice('wasm');
      const { start, grads, expected } = scenario(options);
      await withGpuErrors(gpu.device, async () => {
        const tensors = new TensorSet(gpu.device, SHAPES, start);
        const gpuOptimizer = tensors.newOptimizer(options);
        for (const g of grads.slice(0, 5)) {
          tensors.writeGrads(g);
          gpuOptimizer.step();
        }
        const bytes = await gpuOptimizer.saveState();
        const atFive = await tensors.readParams();
        for (const g of grads.slice(5)) {
          tensors.writeGrads(g);
          gpuOptimizer.step();
        }
        const uninterrupted = await tensors.readParams();
        gpuOptimizer.destroy();
        tensors.destroy();

        const optimizer = adafactor(options);
        const params = treeOf(tensorsOf(atFive));
        const state = optimizer.loadState(bytes, tree.ref(params));
        const stats = await optimizer.stats(tree.ref(state));
        expect([stats.step, stats.tensors.length]).toEqual([0, 0]);
        const resumed = jaxSteps(optimizer, params, state, grads.slice(5));
        expect((await optimizer.stats(tree.ref(resumed.state))).step).toBe(10);
        const values = await leafValues(resumed.params);
        values.forEach((x, i) => {
          expectClose(x, uninterrupted[i], `p${i} against the uninterrupted Adafactor run`, toleranceFor(options));
          expectClose(x, expected[i], `p${i} against the float64 reference`, toleranceFor(options));
        });
        tree.dispose([resumed.params, resumed.state] as never);
      });
    },
  );
});
