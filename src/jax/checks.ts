/**
 * The checks of the jax entry's arguments, made before anything is consumed: gradients against
 * the params (structure, shapes, dtypes, devices), and a state against the state of the params'
 * leaves (fields, names, shapes, devices). Each error names the tensor.
 */
import { Array as JaxArray, type Array, type JsTree, tree } from '@jax-js/jax';
import { STATE_SLOTS } from '../state/tensors.js';
import type { AdafactorJaxState } from './state.js';
import { type Leaf, leafPaths } from './leaves.js';

/** The gradients' leaves, checked against the params' (structure, shapes, dtypes), without consuming them. */
export function checkGradients(
  updates: JsTree<Array>,
  params: JsTree<Array>,
  leaves: readonly Leaf[],
  where: string,
): Array[] {
  const [grads, def] = tree.flatten(updates);
  if (!def.equals(tree.structure(params))) {
    const paths = leafPaths(updates);
    const missing = leaves.find((l) => !paths.includes(l.path))?.path;
    const extra = paths.find((path) => !leaves.some((l) => l.path === path));
    const which = missing
      ? `no gradient for '${missing}'`
      : extra
        ? `a gradient for '${extra}', which no parameter has`
        : 'the same leaves in another structure';
    throw new Error(`${where}: the gradients do not have the params' structure: ${which}`);
  }
  const paramArrays = tree.leaves(params) as Array[];
  grads.forEach((g, i) => {
    const { path, shape } = leaves[i];
    if (!(typeof g === 'object' && g !== null && 'shape' in g))
      throw new Error(`${where}: the gradient of '${path}' is not a jax-js array`);
    if (g.shape.join() !== shape.join())
      throw new Error(
        `${where}: the gradient of '${path}' has shape [${g.shape.join(', ')}], its parameter [${shape.join(', ')}]`,
      );
    if (g.dtype !== 'float32')
      throw new Error(`${where}: the gradient of '${path}' is ${g.dtype}, its parameter float32`);
    checkDevice(g, paramArrays[i], `the gradient of '${path}'`, where);
  });
  return grads;
}

/** `state` checked (its fields, and against the state of `leaves`: names, shapes), without consuming it. */
export function checkState(
  state: JsTree<Array>,
  leaves: readonly Leaf[] | undefined,
  where: string,
  params?: JsTree<Array>,
): AdafactorJaxState {
  const s = state as Partial<AdafactorJaxState>;
  for (const key of ['count', 'skippedSteps', 'lastStep', 'lastSkipped', 'moments', 'stats', 'gradNorm'] as const) {
    if (typeof s !== 'object' || s === null || s[key] === undefined)
      throw new Error(`${where}: the state has no '${key}'; give the state that init, update or loadState returned`);
  }
  const { moments } = s as AdafactorJaxState;
  if (leaves === undefined) return s as AdafactorJaxState;
  const paramArrays = params === undefined ? [] : (tree.leaves(params) as Array[]);
  if (paramArrays.length > 0) checkDevice(s.count!, paramArrays[0], "the state's count", where);
  leaves.forEach((leaf, i) => {
    const held = moments[leaf.path];
    if (held === undefined) throw new Error(`${where}: the state holds nothing for parameter '${leaf.path}'`);
    const names: string[] = Object.keys(leaf.slots).map((slot) => STATE_SLOTS[slot as keyof typeof STATE_SLOTS].name);
    const extra = Object.keys(held).find((name) => !names.includes(name));
    if (extra !== undefined)
      throw new Error(
        `${where}: the state of '${leaf.path}' holds ${extra}, which this optimizer does not keep (made with other options?)`,
      );
    for (const [slot, shape] of Object.entries(leaf.slots)) {
      const name = STATE_SLOTS[slot as keyof typeof STATE_SLOTS].name;
      const a = held[name];
      if (a === undefined || !globalThis.Array.isArray(a.shape) || a.shape.join() !== shape.join())
        throw new Error(
          `${where}: the state of '${leaf.path}' has ${a === undefined ? `no ${name}` : globalThis.Array.isArray(a.shape) ? `${name} of shape [${a.shape.join(', ')}]` : `a ${name} that is not an array`}, expected [${shape.join(', ')}] (made with other options or params?)`,
        );
      if (paramArrays[i]) checkDevice(a, paramArrays[i], `the ${name} of '${leaf.path}'`, where);
    }
  });
  const extra = Object.keys(moments).find((path) => !leaves.some((l) => l.path === path));
  if (extra !== undefined) throw new Error(`${where}: the state holds '${extra}', which no parameter has`);
  return s as AdafactorJaxState;
}

/** Throws where `a` and its parameter are concrete arrays on different devices (traced arrays have none). */
function checkDevice(a: Array, param: Array, what: string, where: string): void {
  if (a instanceof JaxArray && param instanceof JaxArray && a.device !== param.device)
    throw new Error(
      `${where}: ${what} is on ${a.device}, its parameter on ${param.device}; put them on one device (devicePut)`,
    );
}
