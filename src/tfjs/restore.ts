/**
 * Restoring the tfjs optimizer's state: the weights setWeights takes (as getWeights gives them),
 * their checks, and the names tfjs-layers gives variables of a model loaded beside another.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SLOTS, STATE_SLOTS, type Slot, slotNamed } from '../state/tensors.js';
import { type StateDtype, roundTo } from '../core/half.js';
import { checkStateValues } from '../state/values.js';

/** State of one variable held on the CPU (restored by setWeights, not yet used), by slot. */
export type HostState = Partial<Record<Slot, { shape: number[]; data: Float32Array }>>;

/** A named tensor, as tfjs optimizers exchange them (not exported by tfjs-core's index). */
export type NamedTensor = { name: string; tensor: tf.Tensor };

/**
 * The step count and each variable's state from setWeights' argument: the step count first,
 * then every slot as `<variable>/<Hugging Face name>`. Checks each weight and its values; a
 * 16-bit M (momentumDtype) is rounded to nearest, and refused where a value does not fit.
 */
export async function parseWeights(
  where: string,
  weightValues: NamedTensor[],
  momentumDtype: StateDtype = 'f32',
): Promise<{ iterations: number; given: Map<string, HostState> }> {
  if (!Array.isArray(weightValues) || weightValues.length === 0) {
    throw new Error(
      `${where}: expected a non-empty array of { name, tensor }, the step count first, as getWeights returns`,
    );
  }
  weightValues.forEach((w, i) => {
    if (typeof w?.name !== 'string' || !(w.tensor instanceof tf.Tensor))
      throw new Error(`${where}: weight ${i} ('${String(w?.name)}') is not a { name, tensor }`);
    if (w.tensor.isDisposed) throw new Error(`${where}: the tensor of '${w.name}' is disposed`);
  });
  const [first, ...rest] = weightValues;
  const counts = await first.tensor.data();
  const iterations = counts[0];
  if (counts.length !== 1 || typeof iterations !== 'number' || !Number.isSafeInteger(iterations) || iterations < 0) {
    const value = counts.length === 1 ? String(iterations) : `${counts.length} values`;
    throw new Error(
      `${where}: the first weight ('${first.name}') is the step count and holds ${value}; it must be one integer >= 0`,
    );
  }
  const given = new Map<string, HostState>();
  for (const { name, tensor } of rest) {
    const at = name.lastIndexOf('/');
    const slot = slotNamed(name.slice(at + 1));
    if (at <= 0 || !slot)
      throw new Error(
        `${where}: '${name}' is not '<variable>/<slot>' with a slot of ${SLOTS.map((s) => STATE_SLOTS[s].name).join(', ')}`,
      );
    const variableName = name.slice(0, at);
    const state = given.get(variableName) ?? {};
    if (state[slot]) throw new Error(`${where}: '${name}' is given twice`);
    let data = Float32Array.from(await tensor.data());
    checkStateValues(where, `'${name}'`, STATE_SLOTS[slot].kind, data);
    if (slot === 'momentum' && momentumDtype !== 'f32') {
      data = data.map((v) => roundTo(momentumDtype, v));
      const at = data.findIndex((v) => !Number.isFinite(v));
      if (at >= 0)
        throw new Error(
          `${where}: '${name}' holds a value past the largest ${momentumDtype} (momentumDtype) at element ${at}; the state does not fit`,
        );
    }
    state[slot] = { shape: [...tensor.shape], data };
    given.set(variableName, state);
  }
  return { iterations, given };
}

/**
 * Restored state must be whole: a slot left out would restart at zero, which no step produces
 * (and a lone row or column second moment cannot even be used).
 */
export function checkSlotsPresent(where: string, name: string, state: HostState, withMomentum: boolean): void {
  const has = (slot: Slot) => state[slot] !== undefined;
  const slotName = (slot: Slot) => STATE_SLOTS[slot].name;
  if (has('full') && (has('row') || has('col'))) {
    throw new Error(
      `${where}: '${name}' has both ${slotName('full')} and ${has('row') ? slotName('row') : slotName('col')}; its second moment is factored or not, never both`,
    );
  }
  if (has('row') !== has('col')) {
    const [present, missing] = has('row') ? [slotName('row'), slotName('col')] : [slotName('col'), slotName('row')];
    throw new Error(`${where}: '${name}' has ${present} but no ${missing}; a factored second moment needs both`);
  }
  if (!has('full') && !has('row')) {
    throw new Error(
      `${where}: '${name}' has no second moment (${slotName('full')}, or ${slotName('row')} and ${slotName('col')})`,
    );
  }
  if (has('momentum') && !withMomentum)
    throw new Error(`${where}: '${name}' has ${slotName('momentum')}, which these options (no beta1) do not keep`);
  if (!has('momentum') && withMomentum)
    throw new Error(`${where}: '${name}' has no ${slotName('momentum')}, which these options (beta1) keep`);
}

/** Restored state must have exactly the slots, and the shapes, that the variable's state has. */
export function checkStateShapes(
  where: string,
  name: string,
  expected: Partial<Record<Slot, number[]>>,
  state: HostState,
): void {
  const slotNames = (slots: Partial<Record<Slot, unknown>>) =>
    SLOTS.filter((slot) => slots[slot])
      .map((slot) => STATE_SLOTS[slot].name)
      .join(', ');
  if (slotNames(state) !== slotNames(expected)) {
    throw new Error(
      `${where}: the state of '${name}' has ${slotNames(state)}; with these options it keeps ${slotNames(expected)}`,
    );
  }
  for (const slot of Object.keys(expected) as Slot[]) {
    const [want, got] = [expected[slot]!, state[slot]!.shape];
    if (want.join() !== got.join())
      throw new Error(
        `${where}: the ${STATE_SLOTS[slot].name} state of '${name}' has shape [${got.join(', ')}], expected [${want.join(', ')}]`,
      );
  }
}

/**
 * Where the state of each variable of a step that has none yet was restored, when that is
 * another name (else the variable's own name is used). `restored` are the names state was
 * restored under and not yet used; `hasState(name)` says whether a variable has state already.
 *
 * tfjs-layers names a layer's variable `<layer>/<weight>`, and when that name was taken before
 * in this page adds `_<n>` (getUniqueTensorName, tfjs-layers' common.js): a model loaded while
 * the saved one lives has `dense_Dense1/kernel_1` where the state saved is
 * `dense_Dense1/kernel/...`, and a model saved after such a load has it the other way round.
 * tfjs-layers' own loadWeights matches the model's weights by the name without the suffix
 * (`originalName`); its loadLayersModel hands the saved optimizer weights to setWeights as they
 * are, and the optimizer sees only the engine's names. So state restored under a name that is
 * the variable's but for that suffix is the variable's, when it is not the state of another
 * variable of the step; where more than one could be meant, the step is refused.
 */
export function renamedRestores(
  entries: readonly { name: string }[],
  restored: ReadonlySet<string>,
  hasState: (name: string) => boolean,
): Map<string, string> {
  const renamed = new Map<string, string>();
  if (restored.size === 0) return renamed;
  const stepped = new Set(entries.map((e) => e.name));
  const unclaimed = [...restored].filter((name) => !stepped.has(name));
  const claimedBy = new Map<string, string>();
  for (const { name } of entries) {
    if (hasState(name)) continue;
    const originals = layersOriginalNames(name);
    const candidates = unclaimed.filter((saved) => layersOriginalNames(saved).some((n) => originals.includes(n)));
    if (candidates.length === 0) continue;
    const why =
      "tfjs-layers adds '_<n>' to the name of a variable whose name is taken; setWeights with the state under the variable's own name";
    if (candidates.length > 1)
      throw new Error(
        `AdafactorOptimizer: the state of '${name}' could be that restored under ${candidates.map((c) => `'${c}'`).join(' or ')} (${why})`,
      );
    const other = claimedBy.get(candidates[0]);
    if (other)
      throw new Error(
        `AdafactorOptimizer: the state restored under '${candidates[0]}' could be that of '${other}' or of '${name}' (${why})`,
      );
    claimedBy.set(candidates[0], name);
    renamed.set(name, candidates[0]);
  }
  return renamed;
}

/**
 * The names a variable may have been saved under by tfjs-layers: its own, and, for a layer's
 * `<layer>/<weight>_<n>`, the name before tfjs-layers made it unique (see renamedRestores).
 */
function layersOriginalNames(name: string): string[] {
  const unique = /^(.*\/[^/]+)_\d+$/.exec(name);
  return unique ? [name, unique[1]] : [name];
}
