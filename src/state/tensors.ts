/**
 * The optimizer's state tensors, in one place: for each tensor of the model, by slot, the name
 * Hugging Face gives the state (saved state is named `<tensor>.<name>`), the kind of values it
 * holds, the state buffer that holds it on the GPU, and its shape.
 */
import type { Geometry } from '../core/shape.js';
import type { StateBuffer } from '../gpu/state_buffers.js';

/** Which state a tensor holds: a second moment (R, C or V: finite and >= 0) or the first moment M (finite). */
export type StateKind = 'secondMoment' | 'momentum';

export const STATE_SLOTS = {
  /** R, the row second moment of a factored tensor. */
  row: { name: 'exp_avg_sq_row', kind: 'secondMoment', buffer: 'factorState' },
  /** C, the column second moment of a factored tensor. */
  col: { name: 'exp_avg_sq_col', kind: 'secondMoment', buffer: 'factorState' },
  /** V, the full second moment of a tensor that is not factored. */
  full: { name: 'exp_avg_sq', kind: 'secondMoment', buffer: 'fullState' },
  /** M, the first moment (with beta1 only). */
  momentum: { name: 'exp_avg', kind: 'momentum', buffer: 'momentum' },
} as const satisfies Record<string, { name: string; kind: StateKind; buffer: StateBuffer }>;

export type Slot = keyof typeof STATE_SLOTS;
export const SLOTS = Object.keys(STATE_SLOTS) as Slot[];

/** The slot whose state Hugging Face calls `name`, if any. */
export function slotNamed(name: string): Slot | undefined {
  return SLOTS.find((slot) => STATE_SLOTS[slot].name === name);
}

/**
 * The shapes of a tensor's state, by slot: R has the tensor's shape without its column dim, C
 * without its row dim (Hugging Face's layout); V and M have the tensor's shape.
 */
export function stateShapes(
  shape: readonly number[],
  geom: Geometry,
  momentum: boolean,
): Partial<Record<Slot, number[]>> {
  const without = (dim: number) => shape.filter((_, i) => i !== dim);
  const shapes: Partial<Record<Slot, number[]>> = geom.factored
    ? { row: without(geom.colDim), col: without(geom.rowDim) }
    : { full: [...shape] };
  if (momentum) shapes.momentum = [...shape];
  return shapes;
}
