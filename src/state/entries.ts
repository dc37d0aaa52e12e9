/**
 * Where each state tensor lives: for every tensor of an optimizer, in the caller's order, each of
 * its state tensors (state/tensors.ts), named `<tensor>.<Hugging Face name>`, with the buffer,
 * offset and length that hold it on the GPU. R and C are kept there matrix by matrix; where the
 * factored dims are not the last two, `order` maps each kept element to its place in the state's
 * shape (Hugging Face's layout).
 */
import type { Geometry } from '../core/shape.js';
import type { StateBuffer } from '../gpu/state_buffers.js';
import { SHADER } from '../gpu/interface.js';
import { tensorName } from '../gpu/params.js';
import type { Plan } from '../gpu/plan.js';
import { STATE_SLOTS, type Slot, stateShapes } from './tensors.js';

/** One tensor of optimizer state: its name and shape as saved, and where it lives. */
export interface StateEntry {
  name: string;
  slot: Slot;
  /** The index of its tensor in the caller's list. */
  input: number;
  shape: number[];
  buffer: StateBuffer;
  /** f32 elements into that buffer. */
  offset: number;
  length: number;
  /** Where each kept element goes in `shape`, when not in the same order. */
  order?: Uint32Array;
}

export function stateEntries<B>(
  plan: Plan<B>,
  params: readonly { name?: string; shape: readonly number[] }[],
  geometries: readonly Geometry[],
): StateEntry[] {
  const entries: StateEntry[] = [];
  const byInput = [...plan.tensors].sort((a, b) => a.input - b.input);
  for (const { input, fields: f } of byInput) {
    const g = geometries[input];
    const shapes = stateShapes(params[input].shape, g, f.momentum !== SHADER.constants.NO_MOMENTUM);
    const trailing = g.middle === 1 && g.inner === 1;
    const where: Record<Slot, { offset: number; length: number; order?: Uint32Array }> = {
      row: { offset: f.rowState, length: f.batch * f.rows, order: trailing ? undefined : stateOrder(g, 'row') },
      col: { offset: f.colState, length: f.batch * f.cols, order: trailing ? undefined : stateOrder(g, 'col') },
      full: { offset: f.fullState, length: f.cols },
      momentum: { offset: f.momentum, length: f.batch * f.rows * f.cols },
    };
    for (const [slot, shape] of Object.entries(shapes) as [Slot, number[]][]) {
      const { name, buffer } = STATE_SLOTS[slot];
      entries.push({ name: `${tensorName(params[input], input)}.${name}`, slot, input, shape, buffer, ...where[slot] });
    }
  }
  return entries;
}

/** A state tensor's values in its shape's order, from the contents of the state buffers. */
export function entryValues(e: StateEntry, values: Record<StateBuffer, Float32Array>): Float32Array {
  const kept = values[e.buffer].subarray(e.offset, e.offset + e.length);
  if (!e.order) return kept;
  const data = new Float32Array(e.length);
  e.order.forEach((to, from) => (data[to] = kept[from]));
  return data;
}

/** A state tensor's values (in its shape's order) in the order its buffer keeps them. */
export function keptValues(e: StateEntry, data: Float32Array): Float32Array {
  return e.order ? Float32Array.from(e.order, (at) => data[at]) : data;
}

/** For R (or C) kept as [matrix][row] (or [matrix][col]): each element's index in the tensor's shape without the other factored dim. */
function stateOrder(g: Geometry, which: 'row' | 'col'): Uint32Array {
  const lines = which === 'row' ? g.rows : g.cols;
  const order = new Uint32Array(g.batch * lines);
  for (let matrix = 0; matrix < g.batch; matrix++) {
    const inner = matrix % g.inner;
    const middle = Math.floor(matrix / g.inner) % g.middle;
    const outer = Math.floor(matrix / (g.inner * g.middle));
    for (let k = 0; k < lines; k++) {
      order[matrix * lines + k] =
        which === 'row'
          ? ((outer * g.rows + k) * g.middle + middle) * g.inner + inner
          : ((outer * g.middle + middle) * g.cols + k) * g.inner + inner;
    }
  }
  return order;
}
