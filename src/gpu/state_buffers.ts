/**
 * The optimizer's own state buffers, and their contents as the host reads and writes them: f32
 * values, a 16-bit M (momentumDtype) decoded from and encoded to its packed bits.
 */
import { type StateDtype, decodeHalves, encodeHalves } from '../core/half.js';
import { readStatus, statusBytes } from './status.js';
import { BufferUsage, MapMode } from './usage.js';

/** The optimizer's state buffers: R and C of factored tensors, V of the others, M with beta1. */
export type StateBuffer = 'factorState' | 'fullState' | 'momentum';
export const STATE_BUFFERS: readonly StateBuffer[] = ['factorState', 'fullState', 'momentum'];

/**
 * The contents of the state buffers as f32 values (a 16-bit M decoded: its values are f32
 * values), with the step and skipped-step counts: what a checkpoint holds.
 */
export interface StateValues {
  values: Record<StateBuffer, Float32Array<ArrayBuffer>>;
  step: number;
  skippedSteps: number;
}

/** A state buffer's bytes as f32 values (a 16-bit M decoded). */
export function decodeStateBuffer(
  momentumDtype: StateDtype,
  buffer: StateBuffer,
  bytes: ArrayBuffer,
): Float32Array<ArrayBuffer> {
  if (buffer !== 'momentum' || momentumDtype === 'f32') return new Float32Array(bytes);
  return decodeHalves(momentumDtype, new Uint16Array(bytes));
}

/**
 * f32 values as a state buffer's bytes: a 16-bit M rounded to nearest (exact for values it
 * holds), padded to whole u32 words.
 */
export function encodeStateBuffer(
  momentumDtype: StateDtype,
  buffer: StateBuffer,
  values: Float32Array,
): Float32Array | Uint16Array {
  if (buffer !== 'momentum' || momentumDtype === 'f32') return values;
  const bits = encodeHalves(momentumDtype, values);
  return bits.length % 2 === 0 ? bits : Uint16Array.from([...bits, 0]);
}

/**
 * The state buffers and counts after the last step submitted before the call: one snapshot,
 * copied into one staging buffer by one submit.
 */
export async function readStateValues(
  device: GPUDevice,
  scratch: GPUBuffer,
  buffers: Readonly<Record<StateBuffer, GPUBuffer>>,
  momentumDtype: StateDtype,
): Promise<StateValues> {
  let end = statusBytes();
  const placed = STATE_BUFFERS.map((name) => {
    const start = end;
    end += buffers[name].size;
    return { name, start, size: buffers[name].size };
  });
  const staging = device.createBuffer({
    label: 'adafactor save',
    size: end,
    usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
  });
  const encoder = device.createCommandEncoder({ label: 'adafactor save' });
  encoder.copyBufferToBuffer(scratch, 0, staging, 0, statusBytes());
  for (const p of placed) encoder.copyBufferToBuffer(buffers[p.name], 0, staging, p.start, p.size);
  device.queue.submit([encoder.finish()]);
  try {
    await staging.mapAsync(MapMode.READ);
    const bytes = staging.getMappedRange().slice(0);
    const values = Object.fromEntries(
      placed.map((p) => [p.name, decodeStateBuffer(momentumDtype, p.name, bytes.slice(p.start, p.start + p.size))]),
    ) as StateValues['values'];
    const { step, skippedSteps } = readStatus(bytes.slice(0, statusBytes()));
    return { values, step, skippedSteps };
  } finally {
    staging.destroy();
  }
}
