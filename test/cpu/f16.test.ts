import { describe, expect, it } from 'vitest';
import { fromF16Bits, toF16Bits } from '../gpu/f16.js';

describe('f16 conversion in tests', () => {
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
  ])('%f is 0x%s', (value, bits) => {
    expect(toF16Bits(value)).toBe(bits);
  });
  it('round-trips every finite f16', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = fromF16Bits(bits);
      if (Number.isFinite(value) && !(value === 0 && bits === 0x8000)) expect(toF16Bits(value)).toBe(bits);
    }
  });
});
