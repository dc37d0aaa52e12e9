import { describe, expect, it } from 'vitest';
import { type AdafactorOptions, DEFAULT_OPTIONS, beta2, resolveOptions, stepSize } from '../../src/index.js';

describe('options', () => {
  it('defaults are those of Hugging Face transformers', () => {
    const o = resolveOptions();
    expect(o).toMatchObject({ eps1: 1e-30, eps2: 1e-3, clipThreshold: 1, decayRate: -0.8, beta1: undefined, weightDecay: 0, scaleParameter: true, relativeStep: true, warmupInit: false, lr: undefined, minDimSizeToFactor: 0, weightDecayScale: 'alpha', skipNonFinite: false });
    expect(DEFAULT_OPTIONS.decayRate).toBe(-0.8);
  });

  it('schedules are functions of the step', () => {
    const o = resolveOptions();
    expect(beta2(o, 1)).toBe(0);
    expect(beta2(o, 32)).toBeCloseTo(1 - 32 ** -0.8, 15);
    expect(stepSize(o, 1)).toBe(1e-2);
    expect(stepSize(o, 40000)).toBeCloseTo(1 / 200, 15);
    const warm = resolveOptions({ warmupInit: true });
    expect(stepSize(warm, 10)).toBeCloseTo(1e-5, 20);
    const external = resolveOptions({ relativeStep: false, lr: (t) => 0.1 / t });
    expect(stepSize(external, 4)).toBeCloseTo(0.025, 15);
  });

  const bad: [string, AdafactorOptions, RegExp][] = [
    ['eps1 <= 0', { eps1: 0 }, /eps1 must be a finite number > 0/],
    ['eps2 <= 0', { eps2: -1 }, /eps2 must be a finite number > 0/],
    ['clipThreshold <= 0', { clipThreshold: 0 }, /clipThreshold/],
    ['decayRate >= 0', { decayRate: 0 }, /decayRate must be a finite number < 0/],
    ['beta1 = 1', { beta1: 1 }, /beta1 must be a finite number in \[0, 1\)/],
    ['beta1 < 0', { beta1: -0.1 }, /beta1/],
    ['weightDecay < 0', { weightDecay: -1 }, /weightDecay/],
    ['a non-finite number', { clipThreshold: Infinity }, /clipThreshold must be a finite number/],
    ['NaN', { eps2: NaN }, /eps2/],
    ['lr with relativeStep', { lr: 0.01 }, /lr is given while relativeStep is true/],
    ['a non-finite lr', { lr: Infinity, relativeStep: false }, /lr must be a finite number/],
    ['warmupInit without relativeStep', { relativeStep: false, lr: 0.1, warmupInit: true }, /warmupInit needs relativeStep/],
    ['no lr without relativeStep', { relativeStep: false }, /no lr is given/],
    ['an unknown option', { learningRate: 0.1 } as AdafactorOptions, /unknown option 'learningRate'/],
    ['a bad limit', { limits: { maxWorkgroupsPerDimension: 0 } }, /maxWorkgroupsPerDimension/],
    ['a fractional minDimSizeToFactor', { minDimSizeToFactor: 1.5 }, /minDimSizeToFactor must be a finite number and an integer >= 0/],
    ['an unknown weightDecayScale', { weightDecayScale: 'lr' as 'none' }, /weightDecayScale must be one of 'alpha', 'none', got lr/],
  ];
  it.each(bad)('rejects %s', (_, options, message) => {
    expect(() => resolveOptions(options)).toThrow(message);
  });

  it('a learning-rate function returning a bad value throws at that step', () => {
    const o = resolveOptions({ relativeStep: false, lr: (t) => (t > 2 ? -1 : 0.1) });
    expect(stepSize(o, 2)).toBe(0.1);
    expect(() => stepSize(o, 3)).toThrow(/lr\(3\) returned -1/);
  });
});
