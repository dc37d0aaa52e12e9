/**
 * 16-bit floats as their bits, without Float16Array (not in Node 20) and for bfloat16, which no
 * JavaScript type holds: f16 (IEEE binary16) and bf16 (the top half of an f32). Conversions to
 * them round to nearest, ties to even, as torch's and JAX's casts do; NaN stays NaN and values
 * past the largest finite one become infinities.
 */

/** The 16-bit formats optimizer state may be kept in, and f32. */
export type StateDtype = 'f32' | 'bf16' | 'f16';

/**
 * What the framework paths need to round to a 16-bit format with their own ops: the bits of its
 * mantissa, its smallest normal binary exponent, and its largest finite value.
 */
export const HALF_FORMATS = {
  bf16: { mantissaBits: 7, minExponent: -126, largest: 3.3895313892515355e38 },
  f16: { mantissaBits: 10, minExponent: -14, largest: 65504 },
} as const;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The f32 bits of a number rounded to f32. */
function f32Bits(value: number): number {
  f32[0] = value;
  return u32[0];
}

/** The f16 bits nearest to `value` (rounded to f32 first). */
export function f16Bits(value: number): number {
  const x = f32Bits(value);
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // infinity or NaN
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    if (e < -10) return sign; // underflow to zero
    mantissa |= 0x800000; // subnormal: shift in the implicit bit
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mantissa & ((1 << shift) - 1);
    let result = mantissa >>> shift;
    if (rest > half || (rest === half && result & 1)) result++;
    return sign | result;
  }
  const rest = mantissa & 0x1fff;
  let result = (e << 10) | (mantissa >>> 13);
  if (rest > 0x1000 || (rest === 0x1000 && result & 1)) result++; // may carry into the exponent, as it should
  return sign | result;
}

/** The value of f16 bits. */
export function fromF16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** The bf16 bits nearest to `value` (rounded to f32 first, as torch's cast from double does). */
export function bf16Bits(value: number): number {
  const x = f32Bits(value);
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x40; // NaN stays a (quiet) NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The value of bf16 bits. */
export function fromBf16Bits(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0];
}

/** `value` rounded to the nearest value of `dtype` (f32: Math.fround). */
export function roundTo(dtype: StateDtype, value: number): number {
  if (dtype === 'bf16') return fromBf16Bits(bf16Bits(value));
  if (dtype === 'f16') return fromF16Bits(f16Bits(value));
  return Math.fround(value);
}

/** Bytes of one element of `dtype`. */
export function dtypeSize(dtype: StateDtype): number {
  return dtype === 'f32' ? 4 : 2;
}

/** Values of `dtype` (exactly representable, or rounded to nearest) as its bits. */
export function encodeHalves(dtype: 'bf16' | 'f16', values: ArrayLike<number>): Uint16Array<ArrayBuffer> {
  const bits = dtype === 'bf16' ? bf16Bits : f16Bits;
  return Uint16Array.from({ length: values.length }, (_, i) => bits(values[i]));
}

/** 16-bit values of `dtype` from their bits, as f32. */
export function decodeHalves(dtype: 'bf16' | 'f16', bits: ArrayLike<number>): Float32Array<ArrayBuffer> {
  const value = dtype === 'bf16' ? fromBf16Bits : fromF16Bits;
  return Float32Array.from({ length: bits.length }, (_, i) => value(bits[i]));
}
