/**
 * Adafactor for jax-js (`webgpu-adafactor/jax`): `adafactor(options, groups)` is an optax-style
 * gradient transformation `{ init, update }` over jax-js pytrees, the shape of jax-js optax's
 * `GradientTransformation`, so that it composes with its `chain` and `applyUpdates`. A step is
 * jax-js operations (stages.ts), which `jit` fuses into jax-js's own kernels on every backend;
 * the per-step scalars are computed from the state's step count in the graph, so a jitted step
 * never reads back. Same algorithm and options as the WebGPU `Adafactor` and the float64
 * reference; the state saves to and loads from the same safetensors checkpoints.
 */
import { Array as JaxArray, type Array, type Device, type JsTree, numpy as np, tree } from '@jax-js/jax';
import type { AdafactorOptions, ResolvedOptions } from '../core/options.js';
import { gradScaleAt, oneMinusBeta2, stepSize } from '../core/schedules.js';
import type { AdafactorStats, StepStats } from '../core/stats.js';
import { type LeafMoments, decodeState, encodeState, leavesOfState } from './checkpoint.js';
import { checkGradients, checkState } from './checks.js';
import type { AdafactorJaxState } from './state.js';
import { type AdafactorJaxGroup, Groups, type Leaf, LeafInfo } from './leaves.js';
import { type SlotArrays, type StatArrays, type StepScalars, nextValues, prepareGradients } from './stages.js';
import { SLOTS, STATE_SLOTS } from '../state/tensors.js';

export { type AdafactorJaxGroup, type AdafactorJaxState, LeafInfo };
export type { AdafactorOptions, AdafactorStats };

const STAT_NAMES = ['paramRms', 'stepSize', 'updateRms', 'clipDivisor'] as const;

/** jax-js optax's `GradientTransformation`, which this entry's transformation is (jax-js optax is not a dependency). */
export interface GradientTransformation {
  init<Params extends JsTree<Array>>(params: Params): JsTree<Array>;
  update<Params extends JsTree<Array>>(updates: Params, state: JsTree<Array>, params?: Params): [Params, JsTree<Array>];
}

/** Adafactor as a gradient transformation, with its state's checkpoint and stats. */
export interface AdafactorTransformation extends GradientTransformation {
  /** Zero state for `params` (consumed, as jax-js transformations take their arguments). */
  init<Params extends JsTree<Array>>(params: Params): AdafactorJaxState;
  /**
   * One step: the updates to add to the params (optax's `applyUpdates`) and the new state.
   * Consumes `updates` (the gradients), `state` and `params`, which Adafactor needs (its step
   * size scales with RMS(X)). Throws, naming the tensor, for gradients, params or a state that
   * do not fit, before consuming anything.
   */
  update<Params extends JsTree<Array>>(
    updates: Params,
    state: JsTree<Array>,
    params?: Params,
  ): [Params, AdafactorJaxState];
  /** The state as the safetensors file `Adafactor.saveState()` writes. Consumes `state` (pass `tree.ref(state)` to keep it). */
  saveState(state: AdafactorJaxState): Promise<Uint8Array>;
  /** A state from a file `saveState` (here or on the WebGPU `Adafactor`) wrote, for `params` (consumed, as `init`). */
  loadState<Params extends JsTree<Array>>(bytes: Uint8Array, params: Params): AdafactorJaxState;
  /** What the last step did, read back when asked (never by `update`). Consumes `state` (pass `tree.ref(state)`). */
  stats(state: AdafactorJaxState): Promise<AdafactorStats>;
}

/**
 * optax's `applyUpdates`: params + updates, leaf by leaf (consumes both), for code without
 * `@jax-js/optax`.
 */
export function applyUpdates<Params extends JsTree<Array>>(params: Params, updates: Params): Params {
  return tree.map((p: Array, u: Array) => p.add(u), params, updates) as Params;
}

/**
 * Adafactor for jax-js. `options` are the library's (and the presets' output); each group in
 * `groups` ({ mask, ...options }) gives the leaves its mask marks true its options (the first
 * group that marks a leaf), as optax's masks.
 */
export function adafactor(
  options: AdafactorOptions = {},
  groups: readonly AdafactorJaxGroup[] = [],
): AdafactorTransformation {
  const given: AdafactorOptions = { ...options };
  const resolved = new Groups(given, groups);
  const lrIsFunction = [...groups, {}].map((g) => typeof ('lr' in g ? g.lr : given.lr) === 'function');

  function stateFor(
    leaves: Leaf[],
    moments: Record<string, LeafMoments>,
    device: Device,
    step: number,
    skipped: number,
  ) {
    const int32 = (values: number | number[]) => np.array(values, { dtype: np.int32, device });
    const stats = Object.fromEntries(
      leaves
        .filter((l) => l.geom.numel > 0)
        .map((l) => [
          l.path,
          Object.fromEntries(
            STAT_NAMES.map((name) => [name, np.zeros([], { dtype: np.float32, device })]),
          ) as StatArrays,
        ]),
    );
    return {
      count: int32(step),
      skippedSteps: int32(skipped),
      lastStep: int32(0),
      lastSkipped: int32(0),
      moments,
      stats,
      gradNorm: np.zeros([], { dtype: np.float32, device }),
    };
  }

  return {
    init(params) {
      const leaves = resolved.leavesOf(params, 'adafactor.init');
      const device = deviceOf(params);
      const moments = Object.fromEntries(
        leaves.map((l) => [
          l.path,
          Object.fromEntries(
            Object.entries(l.slots).map(([slot, shape]) => [
              STATE_SLOTS[slot as keyof typeof STATE_SLOTS].name,
              np.zeros(shape, { dtype: np.float32, device }),
            ]),
          ),
        ]),
      );
      tree.dispose(params);
      return stateFor(leaves, moments, device, 0, 0);
    },

    update(updates, state, params) {
      const where = 'adafactor.update';
      if (params === undefined)
        throw new Error(
          `${where}: Adafactor needs the params (update(updates, state, params)): its step size scales with RMS(X)`,
        );
      const leaves = resolved.leavesOf(params, where);
      const grads = checkGradients(updates, params, leaves, where);
      const old = checkState(state, leaves, where, params);
      const used = new Set(leaves.map((l) => l.group));
      const host = hostScalars(old.count, used, where);
      // Nothing is consumed above: a refused step leaves every array the caller's.
      const x = tree.leaves(params) as Array[];
      const t = old.count.ref.astype(np.float32).add(1);
      // Only for the groups that have tensors.
      const scalars = resolved.options.map((o, g) => (used.has(g) ? stepScalars(t, o, host.rho[g]) : undefined));
      const prepared = prepareGradients(grads, resolved.base, host.gradScale);
      const skipping = resolved.base.skipNonFinite;
      const computed = leaves.map((leaf, i) => {
        const oldMoments = old.moments[leaf.path];
        if (leaf.geom.numel === 0) {
          prepared.grads[i].dispose();
          return undefined;
        }
        // With skipNonFinite the old state stays until the step is decided.
        const slots: SlotArrays = Object.fromEntries(
          SLOTS.filter((s) => STATE_SLOTS[s].name in oldMoments).map((s) => {
            const value = oldMoments[STATE_SLOTS[s].name];
            return [s, skipping ? value.ref : value];
          }),
        );
        return nextValues(x[i].ref, prepared.grads[i], leaf.geom, slots, leaf.options, scalars[leaf.group]!);
      });
      // The step is all or nothing: skipped where anything of any tensor is not finite.
      const flags = computed.flatMap((next) => (next?.finite ? [next.finite] : []));
      const finite = flags.length > 0 ? flags.reduce((all, f) => np.logicalAnd(all, f)) : undefined;
      const keep = (fresh: Array, previous: Array) => (finite ? np.where(finite.ref, fresh, previous) : fresh);
      const outUpdates: Array[] = [];
      const moments: Record<string, LeafMoments> = {};
      const stats: Record<string, StatArrays> = {};
      leaves.forEach((leaf, i) => {
        const next = computed[i];
        const oldMoments = old.moments[leaf.path];
        if (next === undefined) {
          outUpdates.push(np.zerosLike(x[i]));
          moments[leaf.path] = oldMoments;
          return;
        }
        x[i].dispose();
        moments[leaf.path] = Object.fromEntries(
          (Object.entries(next.state) as [keyof typeof STATE_SLOTS, Array][]).map(([s, value]) => {
            const name = STATE_SLOTS[s].name;
            return [name, skipping ? keep(value, oldMoments[name]) : value];
          }),
        );
        outUpdates.push(finite ? np.where(finite.ref, next.update, 0) : next.update);
        stats[leaf.path] = next.stats;
        tree.dispose(old.stats[leaf.path]);
      });
      t.dispose();
      for (const s of scalars) if (s) tree.dispose(s as unknown as JsTree<Array>);
      const skipped = finite ? np.logicalNot(finite).astype(np.int32) : np.zerosLike(old.count.ref);
      const count = old.count.add(1);
      const newState: AdafactorJaxState = {
        count: count.ref,
        skippedSteps: old.skippedSteps.add(skipped.ref),
        lastStep: count,
        lastSkipped: skipped,
        moments,
        stats,
        gradNorm: prepared.gradNorm ?? old.gradNorm.ref,
      };
      old.lastStep.dispose();
      old.lastSkipped.dispose();
      old.gradNorm.dispose();
      const [, def] = tree.flatten(updates);
      return [tree.unflatten(def, outUpdates) as typeof updates, newState];
    },

    async saveState(state) {
      const s = checkState(state, undefined, 'adafactor.saveState');
      const leaves = leavesOfState(s.moments);
      const [step, skippedSteps] = [await s.count.ref.data(), await s.skippedSteps.ref.data()];
      try {
        return await encodeState(leaves, s.moments, { step: step[0], skippedSteps: skippedSteps[0] }, resolved, given);
      } finally {
        tree.dispose(state);
      }
    },

    loadState(bytes, params) {
      const leaves = resolved.leavesOf(params, 'adafactor.loadState');
      const device = deviceOf(params);
      const file = decodeState(bytes, leaves, resolved, device, 'adafactor.loadState');
      tree.dispose(params);
      return stateFor(leaves, file.moments, device, file.step, file.skippedSteps);
    },

    async stats(state) {
      const s = checkState(state, undefined, 'adafactor.stats');
      try {
        const [[step], [skipped]] = await Promise.all([s.lastStep.ref.data(), s.lastSkipped.ref.data()]);
        const held = Object.entries(s.stats);
        // Every tensor's four numbers in one read.
        const read =
          step === 0 || held.length === 0
            ? []
            : await np.stack(held.flatMap(([, values]) => STAT_NAMES.map((key) => values[key].ref))).data();
        const tensors =
          step === 0
            ? []
            : held.map(([name], i) => ({
                name,
                ...(Object.fromEntries(
                  STAT_NAMES.map((key, k) => [key, read[STAT_NAMES.length * i + k]]),
                ) as StepStats),
              }));
        const gradNorm =
          resolved.base.maxGradNorm !== undefined && step > 0 ? { gradNorm: (await s.gradNorm.ref.data())[0] } : {};
        return { step, skipped: skipped === 1, ...gradNorm, tensors };
      } finally {
        tree.dispose(state);
      }
    },
  };

  /**
   * The scalars the host computes: lr(t) where lr is a function, and the loss scale. They need t
   * as a number, read from the state's count: outside jit only (under jit the count is traced).
   */
  function hostScalars(
    count: Array,
    usedGroups: ReadonlySet<number>,
    where: string,
  ): { rho: (number | undefined)[]; gradScale: number } {
    const base = resolved.base;
    const needsStep =
      typeof base.gradScale === 'function' ||
      resolved.options.some((o, g) => usedGroups.has(g) && ((!o.relativeStep && lrIsFunction[g]) || o.decayOffset > 0));
    let step = 0;
    if (needsStep) {
      if (!(count instanceof JaxArray))
        throw new Error(
          `${where}: lr or gradScale is a function of the step (or decayOffset is set), which needs the step count as a number, and under jit it is traced; give them as numbers under jit, or call update outside jit`,
        );
      step = count.ref.item() + 1;
    }
    const rho = resolved.options.map((o, g) => {
      if (!usedGroups.has(g)) return undefined;
      if (o.decayOffset > 0 && o.beta2 === undefined) oneMinusBeta2(o, step, resolved.where(where, g));
      if (o.relativeStep) return undefined;
      return stepSize(o, lrIsFunction[g] ? step : 1, resolved.where(where, g));
    });
    const gradScale = typeof base.gradScale === 'number' ? base.gradScale : gradScaleAt(base, step, where);
    return { rho, gradScale };
  }
}

/**
 * Step t's scalars as f32 arrays computed from t (an f32 array), on its device: rho_t (or the
 * host's lr(t)), beta2_t and 1 - beta2_t (src/core/schedules.ts, in the graph).
 */
function stepScalars(t: Array, o: ResolvedOptions, hostRho: number | undefined): StepScalars {
  const rho =
    hostRho !== undefined
      ? np.fullLike(t.ref, hostRho)
      : np.minimum(o.warmupInit ? t.ref.mul(1e-6) : np.fullLike(t.ref, 1e-2), np.reciprocal(np.sqrt(t.ref)));
  if (o.beta2 !== undefined) return { rho, decay: np.fullLike(t.ref, o.beta2), rate: np.fullLike(t.ref, 1 - o.beta2) };
  const scheduled = np.power(t.ref.sub(o.decayOffset), o.decayRate);
  if (o.beta2Cap === undefined) return { rho, decay: np.subtract(1, scheduled.ref), rate: scheduled };
  return {
    rho,
    decay: np.minimum(np.subtract(1, scheduled.ref), o.beta2Cap),
    rate: np.maximum(scheduled, 1 - o.beta2Cap),
  };
}

/** The device of the first leaf (the default device for a tree without one). */
function deviceOf(params: JsTree<Array>): Device {
  const first = tree.leaves(params)[0] as Array | undefined;
  return first instanceof JaxArray ? first.device : (undefined as unknown as Device);
}
