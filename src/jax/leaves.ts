/**
 * The leaves of a jax-js pytree of parameters, as the jax entry sees them: each with its path (the
 * name its state is saved under: object keys and array indices joined by '.', as `Adafactor`'s
 * tensor names), its geometry, and its parameter group (by masks, as optax users write them).
 */
import type { Array, JsTree } from '@jax-js/jax';
import { tree } from '@jax-js/jax';
import { type AdafactorGroupOptions, OPTIMIZER_WIDE } from '../core/groups.js';
import { type AdafactorOptions, type ResolvedOptions, resolveOptions } from '../core/options.js';
import { type Geometry, geometry, withFactoringRule } from '../core/shape.js';
import { type Slot, stateShapes } from '../state/tensors.js';

/** What a mask function sees of each parameter: its path, shape and dtype (no array, nothing to own). */
export class LeafInfo {
  constructor(
    readonly path: string,
    readonly shape: number[],
    readonly dtype: string,
  ) {}
  get ndim(): number {
    return this.shape.length;
  }
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
}

/** A parameter group: the leaves its mask marks true take its options (the first group that marks a leaf). */
export interface AdafactorJaxGroup extends AdafactorGroupOptions {
  /**
   * A pytree of booleans with the structure of the parameters, or a function of the parameters'
   * tree (each leaf a `LeafInfo`: path, shape, ndim, dtype) that returns one, as optax's masks.
   */
  mask: JsTree<boolean> | ((params: JsTree<LeafInfo>) => JsTree<boolean>);
}

/** One leaf of the parameters' tree. */
export interface Leaf {
  path: string;
  shape: number[];
  dtype: string;
  geom: Geometry;
  /** Its group's index into `Groups.options`. */
  group: number;
  options: ResolvedOptions;
  /** Its state tensors' shapes, by slot. */
  slots: Partial<Record<Slot, number[]>>;
}

/** What the jax entry refuses: options of the WebGPU engine, and stochastic rounding (no random stream here). */
const NOT_HERE: Record<string, string> = {
  limits: 'limits are those of a GPUDevice the WebGPU Adafactor binds; jax-js runs its own kernels',
  kernelVariant: "kernelVariant picks the WebGPU Adafactor's kernels; jax-js runs its own",
  stochasticRounding: 'the jax entry rounds a 16-bit first moment to nearest; stochasticRounding is not available',
};

export class Groups {
  /** The options outside every group, and each group's (the last is the options outside). */
  readonly options: ResolvedOptions[];
  readonly base: ResolvedOptions;
  /** Each group's options as given, without its mask: what a checkpoint's metadata writes. */
  readonly overrides: object[] = [];
  private readonly masks: AdafactorJaxGroup['mask'][];

  constructor(options: AdafactorOptions, groups: readonly AdafactorJaxGroup[]) {
    const where = 'adafactor';
    for (const [key, why] of Object.entries(NOT_HERE)) {
      const value = (options as Record<string, unknown>)[key];
      if (value !== undefined && value !== false && value !== 'auto')
        throw new Error(`${where}: option ${key} is not taken here: ${why}`);
    }
    this.base = resolveOptions(options, where);
    if (!globalThis.Array.isArray(groups))
      throw new Error(`${where}: groups must be an array of { mask, ...options }, got ${typeof groups}`);
    this.masks = [];
    const resolved = groups.map((group, g) => {
      if (typeof group !== 'object' || group === null || globalThis.Array.isArray(group))
        throw new Error(`${where}: parameter group ${g} must be an object { mask, ...options }`);
      const { mask, ...overrides } = group;
      if (mask === undefined)
        throw new Error(
          `${where}: parameter group ${g} has no mask (a pytree of booleans, or a function of the params)`,
        );
      for (const key of [...OPTIMIZER_WIDE, ...Object.keys(NOT_HERE)]) {
        if (key in overrides)
          throw new Error(
            `${where}: parameter group ${g} sets ${key}, which applies to the whole optimizer; set it in the options`,
          );
      }
      this.masks.push(mask);
      this.overrides.push(overrides);
      return resolveOptions({ ...options, ...overrides }, `${where}: parameter group ${g}`);
    });
    this.options = [...resolved, this.base];
  }

  /** What `where` says of group `index` in an error: the group, where there are groups. */
  where(where: string, index: number): string {
    if (index < this.overrides.length) return `${where}: parameter group ${index}`;
    return this.overrides.length === 0 ? where : `${where}: the options outside every group`;
  }

  /** The leaves of `params` with their groups and geometries; throws, naming the leaf, for one that cannot be a parameter. */
  leavesOf(params: JsTree<Array>, where: string): Leaf[] {
    const [arrays, treedef] = tree.flatten(params);
    const paths = leafPaths(params);
    const seen = new Set<string>();
    arrays.forEach((a, i) => {
      const path = paths[i];
      if (!isArrayLike(a))
        throw new Error(`${where}: the leaf at '${path}' is ${describe(a)}, not a jax-js array; give arrays only`);
      if (a.dtype !== 'float32')
        throw new Error(
          `${where}: parameter '${path}' is ${a.dtype}; the jax entry updates float32 arrays (keep float32 master weights, and cast a copy for a 16-bit forward pass)`,
        );
      if (seen.has(path)) throw new Error(`${where}: two parameters are named '${path}'; give each a path of its own`);
      seen.add(path);
    });
    const infos = arrays.map((a, i) => new LeafInfo(paths[i], [...a.shape], a.dtype));
    const groupOf = this.groupIndices(tree.unflatten(treedef, infos) as JsTree<LeafInfo>, infos.length, where);
    return infos.map((info, i) => {
      const options = this.options[groupOf[i]];
      const label = `${where}: parameter '${info.path}'`;
      const geom = withFactoringRule(
        geometry(info.shape, label),
        info.shape,
        options.factorDims,
        options.minDimSizeToFactor,
        label,
      );
      const slots = stateShapes(info.shape, geom, options.beta1 !== undefined);
      return { path: info.path, shape: info.shape, dtype: info.dtype, geom, group: groupOf[i], options, slots };
    });
  }

  /** For each leaf, the index of the first group whose mask marks it, else that of the options outside. */
  private groupIndices(infos: JsTree<LeafInfo>, count: number, where: string): number[] {
    const groupOf: number[] = new globalThis.Array(count).fill(this.masks.length);
    this.masks.forEach((mask, g) => {
      const marks = typeof mask === 'function' ? mask(infos) : mask;
      const [flags, def] = tree.flatten(marks);
      if (!def.equals(tree.structure(infos)))
        throw new Error(
          `${where}: the mask of parameter group ${g} has structure ${def.toString()}, the params ${tree.structure(infos).toString()}`,
        );
      flags.forEach((flag, i) => {
        if (typeof flag !== 'boolean')
          throw new Error(`${where}: the mask of parameter group ${g} holds ${describe(flag)}; a mask holds booleans`);
        if (flag && groupOf[i] === this.masks.length) groupOf[i] = g;
      });
    });
    return groupOf;
  }
}

/**
 * Each leaf's path, in the order of `tree.flatten`: object keys and array indices joined by '.'
 * ('0' for a tree that is one array).
 */
export function leafPaths(params: unknown): string[] {
  const paths: string[] = [];
  const walk = (node: unknown, path: string[]) => {
    if (globalThis.Array.isArray(node)) node.forEach((child, i) => walk(child, [...path, String(i)]));
    else if (typeof node === 'object' && node !== null && node.constructor === Object)
      for (const [key, child] of Object.entries(node)) walk(child, [...path, key]);
    else paths.push(path.length === 0 ? '0' : path.join('.'));
  };
  walk(params, []);
  return paths;
}

function isArrayLike(a: unknown): a is Array {
  return typeof a === 'object' && a !== null && 'shape' in a && 'dtype' in a && 'ref' in a;
}

function describe(value: unknown): string {
  return value === null ? 'null' : typeof value === 'object' ? (value.constructor?.name ?? 'an object') : typeof value;
}
