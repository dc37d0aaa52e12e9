// The jax entry's state: saveState / loadState round trips (10 steps = 5, save, load, 5, bit for
// bit), the file's names and metadata (those of Adafactor.saveState), refusals that name the
// problem and consume nothing, and stats read without a step reading anything back.
import { type Array as JaxArray, type JsTree, defaultDevice, init, numpy as np, tree } from '@jax-js/jax';
import { describe, expect, it } from 'vitest';
import { adafactor } from '../../src/jax/index.js';
import { decodeSafetensors } from '../../src/state/safetensors.js';
import { normals, random } from '../gpu/harness.js';
import { leafValues, stepper, treeOf } from '../gpu/jax.js';

await init('cpu', 'wasm');
defaultDevice('wasm');

const SHAPES: [string, number[]][] = [
  ['layers.0.kernel', [8, 5]],
  ['layers.0.bias', [5]],
  ['layers.1.kernel', [5, 3]],
];
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function run(seed: number) {
  const rand = random(seed);
  const tensors = SHAPES.map(([path, shape]) => ({ path, shape, data: normals(numel(shape), rand) }));
  const grads = Array.from({ length: 10 }, () => tensors.map((t) => ({ ...t, data: normals(t.data.length, rand) })));
  return { tensors, grads };
}

describe('jax entry: saveState and loadState', () => {
  it('5 steps, save, load, 5 more equal 10 steps bit for bit; the file has Adafactor.saveState names and metadata', async () => {
    const options = { beta1: 0.9, weightDecay: 0.01, momentumDtype: 'bf16' as const };
    const { tensors, grads } = run(Date.now() % 2 ** 31);
    const optimizer = adafactor(options);
    const step = stepper(optimizer, true);
    let params = treeOf(tensors);
    let state = optimizer.init(tree.ref(params));
    for (const g of grads.slice(0, 5)) [params, state] = step(params, treeOf(g), state);
    const bytes = await optimizer.saveState(tree.ref(state));
    let [resumedParams, resumed] = [tree.ref(params), optimizer.loadState(bytes, tree.ref(params))];
    for (const g of grads.slice(5)) {
      [params, state] = step(params, treeOf(g), state);
      [resumedParams, resumed] = step(resumedParams, treeOf(g), resumed);
    }
    expect(await leafValues(resumedParams)).toEqual(await leafValues(params));
    expect(await optimizer.saveState(tree.ref(resumed))).toEqual(await optimizer.saveState(tree.ref(state)));

    const file = decodeSafetensors(bytes);
    expect([...file.tensors.keys()].sort()).toEqual(
      [
        'layers.0.bias.exp_avg',
        'layers.0.bias.exp_avg_sq',
        'layers.0.kernel.exp_avg',
        'layers.0.kernel.exp_avg_sq_col',
        'layers.0.kernel.exp_avg_sq_row',
        'layers.1.kernel.exp_avg',
        'layers.1.kernel.exp_avg_sq_col',
        'layers.1.kernel.exp_avg_sq_row',
      ].sort(),
    );
    expect(file.tensors.get('layers.0.kernel.exp_avg')!.dtype).toBe('BF16');
    expect(file.tensors.get('layers.0.kernel.exp_avg_sq_row')!.shape).toEqual([8]);
    expect(file.metadata).toMatchObject({ format: 'webgpu-adafactor/1', step: '5', skipped_steps: '0' });
    expect(JSON.parse(file.metadata.options)).toEqual(options);
    tree.dispose([params, state, resumedParams, resumed] as never);
  });

  it('refuses a file of other options, naming them, and consumes nothing', async () => {
    const { tensors } = run(1);
    const other = adafactor({ beta1: 0.9 });
    const params = treeOf(tensors);
    const bytes = await other.saveState(other.init(tree.ref(params)));
    const optimizer = adafactor({ factorDims: 'largest2' });
    expect(() => optimizer.loadState(bytes, params)).toThrow(
      /adafactor.loadState: .*\(the file was saved with other options: factorDims "last2" in the file, "largest2" here; beta1 0.9 in the file, none here\)/,
    );
    expect(() => optimizer.loadState(new Uint8Array([1, 2, 3]), params)).toThrow(/adafactor.loadState: /);
    // params were not consumed: they still make a state.
    const state = optimizer.init(params);
    expect(Object.keys(state.moments)).toEqual(SHAPES.map(([path]) => path));
    tree.dispose(state);
  });

  it('refuses a state that is not this optimizer’s, naming the tensor', () => {
    const params = { w: np.ones([6, 4]) };
    const state = adafactor({ beta1: 0.9 }).init(tree.ref(params));
    const optimizer = adafactor();
    expect(() => optimizer.update({ w: np.ones([6, 4]) }, state, tree.ref(params))).toThrow(
      "adafactor.update: the state of 'w' holds exp_avg, which this optimizer does not keep (made with other options?)",
    );
    expect(() => optimizer.update({ w: np.ones([6, 4]) }, {} as never, tree.ref(params))).toThrow(
      "adafactor.update: the state has no 'count'; give the state that init, update or loadState returned",
    );
    tree.dispose([params, state] as never);
  });

  it('stats: nothing before a step; after one, each tensor’s values, read back only when asked', async () => {
    const optimizer = adafactor({ maxGradNorm: 1 });
    const params = { w: np.ones([6, 4]), b: np.zeros([4]) };
    let state = optimizer.init(tree.ref(params));
    expect(await optimizer.stats(tree.ref(state))).toEqual({ step: 0, skipped: false, tensors: [] });
    let updates;
    [updates, state] = optimizer.update({ w: np.full([6, 4], 2), b: np.full([4], 2) }, state, tree.ref(params));
    const stats = await optimizer.stats(tree.ref(state));
    expect(stats.step).toBe(1);
    expect(stats.tensors.map((t) => t.name)).toEqual(['w', 'b']);
    expect(stats.tensors[0].paramRms).toBe(1);
    expect(stats.gradNorm).toBeCloseTo(Math.sqrt(28 * 4), 4);
    tree.dispose([params, state, updates] as never);
  });

  it('skipNonFinite skips a step that overflows f32 (with and without global-norm clipping), changing nothing but the counts', async () => {
    for (const options of [
      { skipNonFinite: true, beta1: 0.9 },
      { skipNonFinite: true, maxGradNorm: 1 },
    ]) {
      const optimizer = adafactor(options);
      const step = stepper(optimizer, true);
      let params: JsTree<JaxArray> = { w: np.array([1, 2, 3, 4], { shape: [2, 2] }), b: np.ones([3]) };
      let state = optimizer.init(tree.ref(params));
      [params, state] = step(params, { w: np.full([2, 2], 0.5), b: np.full([3], 0.5) }, state);
      const before = [await leafValues(params), await leafValues(state.moments as never)];
      // 1e20 is finite in f32; its square is not.
      const huge = np.array([1, 1, 1, 1e20], { shape: [2, 2] });
      [params, state] = step(params, { w: huge, b: np.full([3], 0.5) }, state);
      expect([await leafValues(params), await leafValues(state.moments as never)]).toEqual(before);
      const stats = await optimizer.stats(tree.ref(state));
      expect([stats.step, stats.skipped, (await state.skippedSteps.ref.data())[0]]).toEqual([2, true, 1]);
      tree.dispose([params, state] as never);
    }
  });

  it('refuses gradients on another device than their params, naming the tensor, and consumes nothing', async () => {
    const optimizer = adafactor();
    const params = { w: np.ones([4, 3], { device: 'cpu' }) };
    const state = optimizer.init(tree.ref(params));
    const grads = { w: np.ones([4, 3], { device: 'wasm' }) };
    expect(() => optimizer.update(grads, state, tree.ref(params))).toThrow(
      "adafactor.update: the gradient of 'w' is on wasm, its parameter on cpu; put them on one device (devicePut)",
    );
    // The reference passed in is still there: the refused call took nothing.
    expect([params.w.refCount, grads.w.refCount, state.moments.w.exp_avg_sq_row.refCount]).toEqual([2, 1, 1]);
    tree.dispose([params, params, state, grads] as never);
  });
});
