/**
 * The jax entry's state as the same safetensors file `Adafactor.saveState()` writes, and back:
 * the same names (`<path>.exp_avg_sq_row`, ...), metadata and checks (src/state/checkpoint.ts),
 * over the state tensors of a pytree's leaves laid end to end.
 */
import { type Array, type Device, numpy as np } from '@jax-js/jax';
import { optionsToJson } from '../core/options_json.js';
import type { StateBuffer, StateValues } from '../gpu/state_buffers.js';
import { decodeCheckpoint, encodeCheckpoint, stateOptionsDifference } from '../state/checkpoint.js';
import type { StateEntry } from '../state/entries.js';
import { SLOTS, STATE_SLOTS, type Slot } from '../state/tensors.js';
import type { Groups, Leaf } from './leaves.js';

/** What the layout needs of a leaf: its path and its state tensors' shapes by slot. */
export type StateLeaf = Pick<Leaf, 'path' | 'slots'>;

/** The leaves a state holds, read from its arrays' names and shapes. */
export function leavesOfState(moments: Record<string, LeafMoments>): StateLeaf[] {
  return Object.entries(moments).map(([path, held]) => ({
    path,
    slots: Object.fromEntries(
      SLOTS.filter((slot) => STATE_SLOTS[slot].name in held).map((slot) => [slot, held[STATE_SLOTS[slot].name].shape]),
    ),
  }));
}

/** A leaf's state tensors by Hugging Face's names (exp_avg_sq_row, exp_avg_sq_col, exp_avg_sq, exp_avg). */
export type LeafMoments = { [name: string]: Array };

/** The state tensors of `leaves`, laid end to end in each state buffer, as the checkpoint code reads them. */
export function stateLayout(leaves: readonly StateLeaf[]): {
  entries: StateEntry[];
  lengths: Record<StateBuffer, number>;
} {
  const lengths: Record<StateBuffer, number> = { factorState: 0, fullState: 0, momentum: 0 };
  const entries = leaves.flatMap((leaf, input) =>
    (Object.entries(leaf.slots) as [Slot, number[]][]).map(([slot, shape]) => {
      const { name, buffer } = STATE_SLOTS[slot];
      const length = shape.reduce((a, b) => a * b, 1);
      const entry: StateEntry = {
        name: `${leaf.path}.${name}`,
        slot,
        input,
        shape,
        buffer,
        offset: lengths[buffer],
        length,
      };
      lengths[buffer] += length;
      return entry;
    }),
  );
  return { entries, lengths };
}

/** The checkpoint of a state: reads each state tensor through a reference (the state stays the caller's). */
export async function encodeState(
  leaves: readonly StateLeaf[],
  moments: Record<string, LeafMoments>,
  counts: { step: number; skippedSteps: number },
  groups: Groups,
  options: object,
): Promise<Uint8Array> {
  const { entries, lengths } = stateLayout(leaves);
  const values = {
    factorState: new Float32Array(lengths.factorState),
    fullState: new Float32Array(lengths.fullState),
    momentum: new Float32Array(lengths.momentum),
  };
  // Every state tensor's read under way at once.
  const read = await Promise.all(
    entries.map((e) => moments[leaves[e.input].path][STATE_SLOTS[e.slot].name].ref.data()),
  );
  entries.forEach((e, k) => values[e.buffer].set(read[k], e.offset));
  const saved = groups.overrides.length > 0 ? { ...options, groups: groups.overrides } : options;
  const checkpoint: StateValues = { values, ...counts };
  return encodeCheckpoint(entries, checkpoint, JSON.stringify(optionsToJson(saved)), groups.base.momentumDtype);
}

/**
 * A checkpoint's state tensors as arrays on `device`, with its counts; checks the whole file first
 * and throws, naming the problem (and the state-shaping options where the file's differ).
 */
export function decodeState(
  bytes: Uint8Array,
  leaves: readonly Leaf[],
  groups: Groups,
  device: Device,
  where: string,
): { moments: Record<string, LeafMoments>; step: number; skippedSteps: number } {
  const { entries, lengths } = stateLayout(leaves);
  let checkpoint: StateValues;
  try {
    checkpoint = decodeCheckpoint(bytes, entries, lengths, where, groups.base.momentumDtype);
  } catch (error) {
    throw new Error((error as Error).message + stateOptionsDifference(bytes, groups.base));
  }
  if (checkpoint.step > 2 ** 31 - 1)
    throw new Error(`${where}: __metadata__.step is ${checkpoint.step}; the jax entry counts steps in int32`);
  const moments: Record<string, LeafMoments> = Object.fromEntries(leaves.map((l) => [l.path, {}]));
  for (const e of entries) {
    const data = checkpoint.values[e.buffer].slice(e.offset, e.offset + e.length);
    moments[leaves[e.input].path][STATE_SLOTS[e.slot].name] = np.array(data, { shape: e.shape, device });
  }
  return { moments, step: checkpoint.step, skippedSteps: checkpoint.skippedSteps };
}
