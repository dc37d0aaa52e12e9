import { describe, expect, it } from 'vitest';
import { bf16Bits, f16Bits, fromBf16Bits, fromF16Bits, roundTo } from '../../src/core/half.js';

describe('16-bit conversions (src/core/half.ts)', () => {
  it.each([
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [65520, 0x7c00],
    [2 ** -24, 0x0001],
    [2 ** -14, 0x0400],
    [0.1, 0x2e66],
    [1 + 2 ** -11, 0x3c00],
    [1 + 3 * 2 ** -11, 0x3c02],
  ])('f16: %f is 0x%s', (value, bits) => {
    expect(f16Bits(value)).toBe(bits);
  });
  it('f16: round-trips every finite value', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = fromF16Bits(bits);
      if (Number.isFinite(value) && !(value === 0 && bits === 0x8000)) expect(f16Bits(value)).toBe(bits);
    }
  });
  // The bits torch 2.13 gives for tensor([value], dtype=float32).to(bfloat16).
  it.each([
    [1, 0x3f80],
    [-2, 0xc000],
    [0.1, 0x3dcd],
    [1 + 2 ** -8, 0x3f80],
    [1 + 3 * 2 ** -8, 0x3f82],
    [3.3895313892515355e38, 0x7f7f],
    [3.4e38, 0x7f80],
    [1e-40, 0x0001],
    [Infinity, 0x7f80],
  ])('bf16: %f is 0x%s, as torch casts it', (value, bits) => {
    expect(bf16Bits(value)).toBe(bits);
  });
  it('bf16: round-trips every finite value, keeps NaN a NaN', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = fromBf16Bits(bits);
      if (Number.isFinite(value) && !(value === 0 && bits === 0x8000)) expect(bf16Bits(value)).toBe(bits);
    }
    expect(Number.isNaN(fromBf16Bits(bf16Bits(NaN)))).toBe(true);
    expect(roundTo('bf16', 1 + 2 ** -8 + 2 ** -12)).toBe(1 + 2 ** -7);
    expect(roundTo('bf16', 1 + 2 ** -9)).toBe(1);
    expect(roundTo('f32', 0.1)).toBe(Math.fround(0.1));
  });
});
