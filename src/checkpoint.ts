/**
 * The optimizer state as a safetensors file, and back: where each named state tensor lives in the
 * optimizer's buffers, the file's metadata, and every check a file passes before it may replace
 * a state. Pure CPU code: `Adafactor.saveState` and `loadState` move the bytes.
 */
import { SHADER } from './layout.js';
import type { Plan } from './plan.js';
import { decodeSafetensors, encodeSafetensors, float32Values, type NamedTensor } from './safetensors.js';
import type { Geometry } from './shape.js';
import { checkStateValues, stateKindOf } from './state_values.js';
import { STEP_HALVES, stepHalves } from './step_scalars.js';
import { tensorName } from './validate.js';

/** Version written into saved state, checked on load. */
export const STATE_FORMAT = 'webgpu-adafactor/1';

/** One tensor of optimizer state, as saved: where it lives and what Hugging Face calls it. */
export interface StateEntry {
  name: string;
  shape: number[];
  buffer: StateBuffer;
  /** f32 elements into that buffer. */
  offset: number;
  length: number;
  /** Where each kept element goes in `shape`, when not in the same order. */
  order?: Uint32Array;
}

export type StateBuffer = 'factorState' | 'fullState' | 'momentum';
export const STATE_BUFFERS: readonly StateBuffer[] = ['factorState', 'fullState', 'momentum'];

/** What a checkpoint holds: the contents of the state buffers, and the step and skipped-step counts. */
export interface Checkpoint {
  values: Record<StateBuffer, Float32Array<ArrayBuffer>>;
  step: number;
  skippedSteps: number;
}

/** The file `saveState` writes: every state tensor under its name, the counts and the options in `__metadata__`. */
export function encodeCheckpoint(entries: readonly StateEntry[], checkpoint: Checkpoint, options: string): Uint8Array {
  const tensors: NamedTensor[] = entries.map((e) => {
    const kept = checkpoint.values[e.buffer].subarray(e.offset, e.offset + e.length);
    if (!e.order) return { name: e.name, shape: e.shape, data: kept };
    const data = new Float32Array(e.length);
    e.order.forEach((to, from) => (data[to] = kept[from]));
    return { name: e.name, shape: e.shape, data };
  });
  return encodeSafetensors(tensors, {
    format: STATE_FORMAT,
    step: String(checkpoint.step),
    skipped_steps: String(checkpoint.skippedSteps),
    options,
  });
}

/**
 * Decodes a file for an optimizer whose state tensors are `entries` and whose state buffers hold
 * `lengths` floats. Checks everything first (the safetensors rules, the format, the counts, every
 * tensor's name, dtype, shape and values) and throws an Error naming the first problem.
 */
export function decodeCheckpoint(bytes: Uint8Array, entries: readonly StateEntry[], lengths: Record<StateBuffer, number>, where: string): Checkpoint {
  let file;
  try {
    file = decodeSafetensors(bytes);
  } catch (error) {
    throw new Error(`${where}: ${(error as Error).message}`);
  }
  const { metadata } = file;
  if (metadata.format !== STATE_FORMAT) {
    throw new Error(`${where}: __metadata__.format is ${metadata.format === undefined ? 'missing' : JSON.stringify(metadata.format)}, expected '${STATE_FORMAT}'`);
  }
  const step = count(metadata.step, 'step', where);
  const skippedSteps = metadata.skipped_steps === undefined ? 0 : count(metadata.skipped_steps, 'skipped_steps', where);
  if (skippedSteps > step) throw new Error(`${where}: __metadata__.skipped_steps (${skippedSteps}) is more than step (${step})`);

  const values = Object.fromEntries(STATE_BUFFERS.map((b) => [b, new Float32Array(lengths[b])])) as Checkpoint['values'];
  for (const e of entries) {
    const found = file.tensors.get(e.name);
    if (!found) throw new Error(`${where}: the state has no tensor '${e.name}'`);
    if (found.dtype !== 'F32') throw new Error(`${where}: tensor '${e.name}' is ${found.dtype}, expected F32`);
    if (found.shape.length !== e.shape.length || found.shape.some((d, i) => d !== e.shape[i])) {
      throw new Error(`${where}: tensor '${e.name}' has shape [${found.shape.join(', ')}], expected [${e.shape.join(', ')}]`);
    }
    const saved = float32Values(found);
    checkStateValues(where, `tensor '${e.name}'`, stateKindOf(e.name), saved);
    values[e.buffer].set(e.order ? Float32Array.from(e.order, (at) => saved[at]) : saved, e.offset);
  }
  const expected = new Set(entries.map((e) => e.name));
  for (const name of file.tensors.keys()) {
    if (!expected.has(name)) throw new Error(`${where}: tensor '${name}' in the state belongs to no tensor of this optimizer`);
  }
  return { values, step, skippedSteps };
}

/** A count in the metadata: a decimal integer string, at most Number.MAX_SAFE_INTEGER. */
function count(text: string | undefined, key: string, where: string): number {
  const value = Number(text);
  if (typeof text !== 'string' || !/^(0|[1-9][0-9]*)$/.test(text) || !Number.isSafeInteger(value)) {
    throw new Error(`${where}: __metadata__.${key} is ${text === undefined ? 'missing' : JSON.stringify(text)}, not a count (a decimal integer from 0 to 2^53 - 1)`);
  }
  return value;
}

/**
 * The state tensors of every planned tensor, in the caller's order, with Hugging Face's names:
 * R has the tensor's shape without its column dim, C without its row dim. R and C are kept
 * matrix by matrix; where the factored dims are not the last two, `order` maps each kept
 * element to its place in that shape.
 */
export function stateEntries<B>(plan: Plan<B>, params: readonly { name?: string; shape: readonly number[] }[], geometries: readonly Geometry[]): StateEntry[] {
  const entries: StateEntry[] = [];
  const byInput = [...plan.tensors].sort((a, b) => a.input - b.input);
  for (const { input, fields: f } of byInput) {
    const name = tensorName(params[input], input);
    const shape = [...params[input].shape];
    const g = geometries[input];
    if (f.factored) {
      const without = (dim: number) => shape.filter((_, i) => i !== dim);
      const trailing = g.middle === 1 && g.inner === 1;
      entries.push({ name: `${name}.exp_avg_sq_row`, shape: without(g.colDim), buffer: 'factorState', offset: f.rowState, length: f.batch * f.rows, order: trailing ? undefined : stateOrder(g, 'row') });
      entries.push({ name: `${name}.exp_avg_sq_col`, shape: without(g.rowDim), buffer: 'factorState', offset: f.colState, length: f.batch * f.cols, order: trailing ? undefined : stateOrder(g, 'col') });
    } else {
      entries.push({ name: `${name}.exp_avg_sq`, shape, buffer: 'fullState', offset: f.fullState, length: f.cols });
    }
    if (f.momentum !== SHADER.constants.NO_MOMENTUM) {
      entries.push({ name: `${name}.exp_avg`, shape, buffer: 'momentum', offset: f.momentum, length: f.batch * f.rows * f.cols });
    }
  }
  return entries;
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
        which === 'row' ? ((outer * g.rows + k) * g.middle + middle) * g.inner + inner : ((outer * g.middle + middle) * g.cols + k) * g.inner + inner;
    }
  }
  return order;
}

/**
 * The status words at the start of the scratch buffer, as the shaders keep them: whether the
 * last step was skipped, the skipped-step count in base-2^24 digits (f32), the number of the
 * last step that ran in 16-bit halves (u32).
 */
export function readStatus(words: ArrayBuffer): { step: number; skippedSteps: number } {
  const { STATUS_SKIPPED_STEPS, SKIPPED_DIGITS, SKIPPED_DIGIT_BASE, STATUS_STEP } = SHADER.constants;
  const floats = new Float32Array(words);
  const halves = new Uint32Array(words);
  let skippedSteps = 0;
  for (let k = SKIPPED_DIGITS - 1; k >= 0; k--) skippedSteps = skippedSteps * SKIPPED_DIGIT_BASE + floats[STATUS_SKIPPED_STEPS + k];
  let step = 0;
  for (let k = STEP_HALVES - 1; k >= 0; k--) step = step * 65536 + halves[STATUS_STEP + k];
  return { step, skippedSteps };
}

/** Status words holding the given counts (and no pending skip), for loadState. */
export function statusWords(step: number, skippedSteps: number): ArrayBuffer {
  const { STATUS_WORDS, STATUS_SKIPPED_STEPS, SKIPPED_DIGITS, SKIPPED_DIGIT_BASE, STATUS_STEP } = SHADER.constants;
  const words = new ArrayBuffer(STATUS_WORDS * 4);
  const floats = new Float32Array(words);
  const halves = new Uint32Array(words);
  for (let k = 0; k < SKIPPED_DIGITS; k++) floats[STATUS_SKIPPED_STEPS + k] = Math.floor(skippedSteps / SKIPPED_DIGIT_BASE ** k) % SKIPPED_DIGIT_BASE;
  halves.set(stepHalves(step), STATUS_STEP);
  return words;
}
