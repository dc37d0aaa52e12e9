/** f16 values in tests, without Float16Array (not in Node 20): conversion through the bits. */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The f16 bits nearest to `value` (ties to even). */
export function toF16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // infinity or NaN
  let e = exponent - 127 + 15;
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

export function fromF16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

export function toF16(values: ArrayLike<number>): Uint16Array<ArrayBuffer> {
  return Uint16Array.from({ length: values.length }, (_, i) => toF16Bits(values[i]));
}

export function fromF16(bits: Uint16Array): Float32Array<ArrayBuffer> {
  return Float32Array.from(bits, fromF16Bits);
}

/** Values rounded to the nearest f16, as f32. */
export function roundToF16(values: ArrayLike<number>): Float32Array<ArrayBuffer> {
  return fromF16(toF16(values));
}
