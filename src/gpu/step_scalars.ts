/**
 * Per-step scalars as commands. Each step copies its own scalars (per group: beta2_t, 1 - beta2_t,
 * rho_t or lr(t), the rounding seed; and its number t) into place with copy commands recorded in
 * the step's own encoding, from a constant table. `queue.writeBuffer` would instead take effect
 * when the step is recorded, and overwrite the scalars of steps recorded earlier but not yet
 * submitted; copies run in order with the step they belong to, so any number of steps may be
 * recorded into any number of encoders before any is submitted.
 *
 * A copy moves whole 4-byte words at offsets that are multiples of 4, so a value is copied as
 * 16-bit halves, each from the word of the table that holds it: word k of the table is k.
 */
import { BufferUsage } from './usage.js';

const HALF_VALUES = 65536;

/** The table of halves (256 KiB), made once per optimizer; the caller owns and destroys it. */
export function createHalfTable(device: GPUDevice): GPUBuffer {
  const table = device.createBuffer({
    label: 'adafactor halves',
    size: HALF_VALUES * 4,
    usage: BufferUsage.COPY_SRC,
    mappedAtCreation: true,
  });
  const words = new Uint32Array(table.getMappedRange());
  for (let k = 0; k < HALF_VALUES; k++) words[k] = k;
  table.unmap();
  return table;
}

/** The bits of a number rounded to f32, as a u32. */
export function f32Bits(value: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value, true);
  return view.getUint32(0, true);
}

/** Halves that hold a step number (any safe integer), least significant first. */
export const STEP_HALVES = 4;

/** The 16-bit halves of a u32 (an f32's bits, a seed), low first. */
export function wordHalves(bits: number): [number, number] {
  return [bits & 0xffff, bits >>> 16];
}

/** The STEP_HALVES 16-bit halves of a step number, least significant first. */
export function stepHalves(step: number): number[] {
  return Array.from({ length: STEP_HALVES }, (_, k) => Math.floor(step / HALF_VALUES ** k) % HALF_VALUES);
}

/** Records copies that write `values` (each < 2^16) into consecutive u32 words of `target` from `byteOffset` on. */
export function recordHalves(
  encoder: GPUCommandEncoder,
  table: GPUBuffer,
  values: readonly number[],
  target: GPUBuffer,
  byteOffset: number,
): void {
  values.forEach((half, k) => encoder.copyBufferToBuffer(table, half * 4, target, byteOffset + 4 * k, 4));
}
