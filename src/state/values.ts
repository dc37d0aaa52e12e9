/**
 * Checks of optimizer-state values restored from outside (a checkpoint, tfjs setWeights): no
 * step ever produces a NaN or an infinity, nor a negative second moment, and a state holding one
 * would turn the next step's parameters into NaN. Shared by every entry that restores state.
 */

import type { StateKind } from './tensors.js';

/**
 * Throws an Error naming `what` and its first bad element (flat index, row-major) when `values`
 * hold a NaN, an infinity, or, for a second moment, a negative number.
 */
export function checkStateValues(where: string, what: string, kind: StateKind, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v) && (kind === 'momentum' || v >= 0)) continue;
    const problem = Number.isFinite(v) ? 'a negative second moment' : 'a value no step produces';
    throw new Error(`${where}: ${what} holds ${v} at element ${i}, ${problem}; the state is corrupt`);
  }
}
