import { describe, expect, it } from 'vitest';
import {
  type AdafactorOptions,
  DEFAULT_OPTIONS,
  ReferenceAdafactor,
  beta2,
  oneMinusBeta2,
  optionsToJson,
  resolveOptions,
  stepSize,
} from '../../src/index.js';
import { clipByGlobalNorm } from '../../src/core/reference.js';

describe('options', () => {
  it('defaults are those of Hugging Face transformers', () => {
    const o = resolveOptions();
    expect(o).toMatchObject({
      eps1: 1e-30,
      eps2: 1e-3,
      clipThreshold: 1,
      decayRate: -0.8,
      beta1: undefined,
      weightDecay: 0,
      scaleParameter: true,
      relativeStep: true,
      warmupInit: false,
      lr: undefined,
      minDimSizeToFactor: 0,
      weightDecayScale: 'alpha',
      skipNonFinite: false,
      beta2Cap: undefined,
      momentumBeforeLr: false,
      weightDecayMaxLr: undefined,
    });
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
    // A cap: beta2_t = min(0.9, 1 - t^-0.8), 1 - beta2_t = max(0.1, t^-0.8) kept in full precision.
    const capped = resolveOptions({ beta2Cap: 0.9 });
    expect(beta2(capped, 1)).toBe(0);
    expect(beta2(capped, 10)).toBe(1 - 10 ** -0.8);
    expect(oneMinusBeta2(capped, 10)).toBe(10 ** -0.8);
    expect(beta2(capped, 1000)).toBe(0.9);
    expect(oneMinusBeta2(capped, 1000)).toBe(1 - 0.9);
    expect(beta2(resolveOptions({ beta2Cap: 0.9, decayOffset: 995 }), 1000)).toBe(1 - 5 ** -0.8);
    const external = resolveOptions({ relativeStep: false, lr: (t) => 0.1 / t });
    expect(stepSize(external, 4)).toBeCloseTo(0.025, 15);
  });

  const bad: [string, AdafactorOptions, RegExp][] = [
    ['eps1 <= 0', { eps1: 0 }, /eps1 must be a finite number > 0/],
    ['eps2 < 0', { eps2: -1 }, /eps2 must be a finite number >= 0/],
    ['clipThreshold <= 0', { clipThreshold: 0 }, /clipThreshold/],
    ['decayRate >= 0', { decayRate: 0 }, /decayRate must be a finite number < 0/],
    ['beta1 = 1', { beta1: 1 }, /beta1 must be a finite number in \[0, 1\)/],
    ['beta1 < 0', { beta1: -0.1 }, /beta1/],
    ['weightDecay < 0', { weightDecay: -1 }, /weightDecay/],
    ['a non-finite number', { eps2: Infinity }, /eps2 must be a finite number/],
    [
      'a clipThreshold of -Infinity',
      { clipThreshold: -Infinity },
      /clipThreshold must be a finite number > 0 \(or Infinity\)/,
    ],
    ['an unknown eps1Mode', { eps1Mode: 'clamp' as 'add' }, /eps1Mode must be one of 'add', 'floor', got clamp/],
    [
      'an eps1 whose square is not a normal f32, with the floor',
      { eps1Mode: 'floor', eps1: 1e-20 },
      /eps1 is 1e-20, too small for eps1Mode 'floor'/,
    ],
    ['a fractional decayOffset', { decayOffset: 2.5 }, /decayOffset must be a finite number and an integer >= 0/],
    ['beta2 = 1', { beta2: 1 }, /option beta2 must be a finite number in \[0, 1\)/],
    [
      'beta2 that rounds to 1 in f32',
      { beta2: 0.99999999 },
      /option beta2 must be a finite number in \[0, 1\) \(and below 1 in f32/,
    ],
    [
      'beta2 with decayRate',
      { beta2: 0.999, decayRate: -0.8 },
      /option beta2 fixes the second-moment decay; it cannot be given with decayRate/,
    ],
    ['beta2 with decayOffset', { beta2: 0.999, decayOffset: 3 }, /cannot be given with decayOffset/],
    ['NaN', { eps2: NaN }, /eps2/],
    ['lr with relativeStep', { lr: 0.01 }, /lr is given while relativeStep is true/],
    ['a non-finite lr', { lr: Infinity, relativeStep: false }, /lr must be a finite number/],
    [
      'warmupInit without relativeStep',
      { relativeStep: false, lr: 0.1, warmupInit: true },
      /warmupInit needs relativeStep/,
    ],
    ['no lr without relativeStep', { relativeStep: false }, /no lr is given/],
    ['an unknown option', { learningRate: 0.1 } as AdafactorOptions, /unknown option 'learningRate'/],
    ['a bad limit', { limits: { maxWorkgroupsPerDimension: 0 } }, /maxWorkgroupsPerDimension/],
    [
      'a fractional minDimSizeToFactor',
      { minDimSizeToFactor: 1.5 },
      /minDimSizeToFactor must be a finite number and an integer >= 0/,
    ],
    [
      'an unknown weightDecayScale',
      { weightDecayScale: 'lr' as 'none' },
      /weightDecayScale must be one of 'alpha', 'none', got lr/,
    ],
    ['beta2Cap = 1', { beta2Cap: 1 }, /option beta2Cap must be a finite number in \(0, 1\)/],
    ['beta2Cap = 0', { beta2Cap: 0 }, /option beta2Cap must be a finite number in \(0, 1\)/],
    [
      'beta2Cap with a fixed beta2',
      { beta2Cap: 0.9, beta2: 0.99 },
      /option beta2Cap caps the scheduled decay; with a fixed beta2 give the smaller value as beta2/,
    ],
    ['a momentumBeforeLr string', { momentumBeforeLr: 'true' as never }, /option momentumBeforeLr must be a boolean/],
    ['weightDecayMaxLr = 0', { weightDecayMaxLr: 0 }, /option weightDecayMaxLr must be a finite number > 0, got 0/],
    [
      'an unknown factorDims',
      { factorDims: 'first2' as 'last2' },
      /option factorDims must be one of 'last2', 'largest2', 'conv' or a function of the shape, got first2/,
    ],
    // Fine in float64, not in the GPU's f32.
    ['eps1 below the smallest normal f32', { eps1: 1e-40 }, /option eps1 is 1e-40, which is 0 or a denormal in f32/],
    ['eps1 that rounds to 0 in f32', { eps1: 1e-46 }, /option eps1 is 1e-46, which is 0 or a denormal in f32/],
    ['eps2 below the smallest normal f32', { eps2: 1e-45 }, /option eps2 is 1e-45, which is 0 or a denormal/],
    [
      'a clipThreshold that is infinite in f32',
      { clipThreshold: 1e39 },
      /option clipThreshold is 1e\+39, which rounds to Infinity in f32/,
    ],
    [
      'a clipThreshold that is a denormal in f32',
      { clipThreshold: 1e-39 },
      /option clipThreshold is 1e-39, which is 0 or a denormal/,
    ],
    [
      'a weightDecay that is infinite in f32',
      { weightDecay: 1e39 },
      /option weightDecay is 1e\+39, which rounds to Infinity/,
    ],
    [
      'a beta1 that rounds to 1 in f32',
      { beta1: 0.99999999 },
      /beta1 must be a finite number in \[0, 1\) \(and below 1 in f32/,
    ],
    [
      'an lr that is infinite in f32',
      { relativeStep: false, lr: Number.MAX_VALUE },
      /option lr is 1.7976931348623157e\+308, which rounds to Infinity in f32/,
    ],
    ['null options', null as unknown as AdafactorOptions, /options must be an object of option values, got null/],
    [
      'options that are an array',
      [] as unknown as AdafactorOptions,
      /options must be an object of option values, got an array/,
    ],
  ];
  it.each(bad)('rejects %s', (_, options, message) => {
    expect(() => resolveOptions(options)).toThrow(message);
  });

  it('a learning-rate function returning a bad value throws at that step', () => {
    const o = resolveOptions({ relativeStep: false, lr: (t) => (t > 2 ? -1 : 0.1) });
    expect(stepSize(o, 2)).toBe(0.1);
    expect(() => stepSize(o, 3)).toThrow(/lr\(3\) returned -1/);
  });

  it('a learning-rate function returning a value infinite in f32 throws at that step', () => {
    for (const value of [1e39, Number.MAX_VALUE]) {
      const o = resolveOptions({ relativeStep: false, lr: (t) => (t > 1 ? value : 0.1) });
      expect(stepSize(o, 1)).toBe(0.1);
      expect(() => stepSize(o, 2)).toThrow(
        new RegExp(`lr\\(2\\) returned ${String(value).replace('+', '\\+')}, which rounds to Infinity in f32`),
      );
    }
  });

  it('clipThreshold Infinity means no clipping; decayOffset shifts the decay and refuses earlier steps', () => {
    expect(resolveOptions({ clipThreshold: Infinity }).clipThreshold).toBe(Infinity);
    const shifted = resolveOptions({ decayOffset: 5 });
    expect(oneMinusBeta2(shifted, 6)).toBe(1);
    expect(beta2(shifted, 37)).toBeCloseTo(1 - 32 ** -0.8, 15);
    expect(() => oneMinusBeta2(shifted, 5)).toThrow(/step 5 is not past decayOffset 5/);
  });

  it('a fixed beta2 replaces the schedule at every step', () => {
    const fixed = resolveOptions({ beta2: 0.999 });
    for (const t of [1, 2, 1000]) {
      expect(beta2(fixed, t)).toBe(0.999);
      expect(oneMinusBeta2(fixed, t)).toBeCloseTo(0.001, 15);
    }
  });

  it('values at the edges of f32 that are fine are accepted', () => {
    expect(
      resolveOptions({ eps1: 1.2e-38, eps2: 1e-30, clipThreshold: 3e38, weightDecay: 0, beta1: 0.9999 }).eps1,
    ).toBe(1.2e-38);
  });
});

describe('loss scaling and global-norm clipping in the reference', () => {
  it('gradScale divides the gradients: a power of two gives bit-identical parameters, a bad value throws at its step', () => {
    const run = (gradScale: number | ((t: number) => number) | undefined, factor: (t: number) => number) => {
      const reference = new ReferenceAdafactor([{ data: [1, -2, 3, 0.5], shape: [2, 2] }], { beta1: 0.9, gradScale });
      for (let t = 1; t <= 3; t++) reference.step([[0.1, -0.2, 0.3, 0.4].map((g) => g * factor(t))]);
      return Array.from(reference.params[0]);
    };
    const plain = run(undefined, () => 1);
    expect(run(1024, () => 1024)).toEqual(plain);
    expect(
      run(
        (t) => 2 ** t,
        (t) => 2 ** t,
      ),
    ).toEqual(plain);
    // The norm the step sees is of the gradients divided by the scale.
    const scaled = new ReferenceAdafactor([{ data: [1, 1], shape: [2] }], { gradScale: 4, maxGradNorm: 100 });
    scaled.step([[12, 16]]);
    expect(scaled.lastGradNorm).toBe(5);
    const bad = new ReferenceAdafactor([{ data: [1], shape: [1] }], { gradScale: (t) => (t === 2 ? -1 : 1) });
    bad.step([[1]]);
    expect(() => bad.step([[1]])).toThrow(/gradScale\(2\) returned -1; a loss scale must be a finite number > 0/);
    expect(bad.stepCount).toBe(1);
  });

  it("maxGradNorm scales every gradient by maxGradNorm / ||G|| when ||G|| >= maxGradNorm (optax's clip_by_global_norm)", () => {
    const grads = [Float64Array.from([3, 0]), Float64Array.from([0, 4])];
    expect(clipByGlobalNorm(grads, 10)).toEqual({ clipped: grads, norm: 5 });
    const { clipped, norm } = clipByGlobalNorm(grads, 1);
    expect(norm).toBe(5);
    expect(clipped.map((g) => Array.from(g))).toEqual([
      [0.6, 0],
      [0, 0.8],
    ]);
    const reference = new ReferenceAdafactor(
      [
        { data: [1, 2], shape: [2] },
        { data: [3, 4], shape: [2] },
      ],
      { maxGradNorm: 1 },
    );
    reference.step(grads);
    expect(reference.lastGradNorm).toBe(5);
  });

  it('options: gradScale and maxGradNorm are checked, optimizer-wide, and cross JSON', () => {
    expect(() => resolveOptions({ gradScale: Infinity })).toThrow(/option gradScale must be a finite number > 0/);
    expect(() => resolveOptions({ gradScale: 1e-40 })).toThrow(
      /option gradScale is 1e-40, whose inverse rounds to Infinity/,
    );
    expect(() => resolveOptions({ maxGradNorm: 0 })).toThrow(/option maxGradNorm must be a finite number > 0/);
    expect(resolveOptions({}).gradScale).toBe(1);
    expect(optionsToJson({ gradScale: () => 2, maxGradNorm: 1 })).toEqual({ gradScale: 'function', maxGradNorm: 1 });
  });
});
