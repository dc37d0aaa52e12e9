/** f16 arrays in tests, through the library's own conversions (src/core/half.ts). */
import { f16Bits, fromF16Bits } from '../../src/core/half.js';

export { fromF16Bits, f16Bits as toF16Bits };

export function toF16(values: ArrayLike<number>): Uint16Array<ArrayBuffer> {
  return Uint16Array.from({ length: values.length }, (_, i) => f16Bits(values[i]));
}

export function fromF16(bits: Uint16Array): Float32Array<ArrayBuffer> {
  return Float32Array.from(bits, fromF16Bits);
}

/** Values rounded to the nearest f16, as f32. */
export function roundToF16(values: ArrayLike<number>): Float32Array<ArrayBuffer> {
  return fromF16(toF16(values));
}
