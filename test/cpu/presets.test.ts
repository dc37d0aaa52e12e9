import { describe, expect, it } from 'vitest';
import { type AdafactorOptions, ReferenceAdafactor, presets, resolveOptions, stepSize } from '../../src/index.js';
import goldenJson from '../data/hf-adafactor.json';
import optaxJson from '../data/optax-adafactor.json';
import torchJson from '../data/torch-adafactor.json';
import edgeJson from '../data/edge-traces.json';
import { decodeEdgeTraces, decodeGolden, decodeTrace } from '../gpu/golden.js';
import { relativeError } from '../gpu/harness.js';

describe("presets: other libraries' arguments, in their own names, to these options", () => {
  it('torch: its defaults are the relative step with its epsilon floor', () => {
    expect(presets.torch()).toEqual({
      relativeStep: true,
      eps1Mode: 'floor',
      eps1: 2 ** -23,
      eps2: 1e-3,
      clipThreshold: 1,
      decayRate: -0.8,
      weightDecay: 0,
      weightDecayScale: 'none',
      scaleParameter: true,
      factorDims: 'last2',
      minDimSizeToFactor: 0,
    });
  });

  it('torch: another lr caps 1/sqrt(t); weight decay is lr * weight_decay, not scaled by the step size', () => {
    const o = presets.torch({ lr: 3e-3, weight_decay: 0.1, eps: [1e-6, 1e-2], d: 2, beta2_decay: -0.5 });
    const resolved = resolveOptions(o);
    expect([1, 4, 1e6].map((t) => stepSize(resolved, t))).toEqual([3e-3, 3e-3, 1e-3]);
    expect(o).toMatchObject({
      weightDecay: 3e-3 * 0.1,
      weightDecayScale: 'none',
      eps1: 1e-6,
      eps2: 1e-2,
      clipThreshold: 2,
      decayRate: -0.5,
    });
  });

  it('optax: a schedule is called with its count, t - 1; None means a step of 1 and no clipping', () => {
    const counts: number[] = [];
    const o = presets.optax({
      learning_rate: (count) => (counts.push(count), 0.1 * (count + 1)),
      clipping_threshold: null,
      momentum: 0.9,
      weight_decay_rate: 0.01,
    });
    expect(stepSize(resolveOptions(o), 1)).toBeCloseTo(0.1, 15);
    expect(counts).toEqual([0]);
    expect(o).toMatchObject({
      relativeStep: false,
      clipThreshold: Infinity,
      beta1: 0.9,
      weightDecay: 0.01,
      weightDecayScale: 'none',
      factorDims: 'largest2',
      minDimSizeToFactor: 128,
      eps1: 1e-30,
      eps1Mode: 'add',
      decayRate: -0.8,
      decayOffset: 0,
    });
    expect(presets.optax()).toMatchObject({ lr: 1, clipThreshold: 1, scaleParameter: true });
    expect(presets.optax({ factored: false }).minDimSizeToFactor).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('huggingFace: its names to ours, the defaults untouched', () => {
    expect(resolveOptions(presets.huggingFace())).toEqual(resolveOptions({}));
    expect(
      presets.huggingFace({ lr: 1e-3, relative_step: false, scale_parameter: false, beta1: 0.9, eps: [1e-20, 1e-2] }),
    ).toMatchObject({ lr: 1e-3, relativeStep: false, scaleParameter: false, beta1: 0.9, eps1: 1e-20, eps2: 1e-2 });
    // Hugging Face's own conflicts are refused as it refuses them, in its names.
    expect(() => presets.huggingFace({ lr: 1e-3 })).toThrow(
      /presets.huggingFace \(transformers Adafactor\): lr is given while relative_step is True, which Hugging Face refuses too/,
    );
  });

  it.each([
    [
      'torch maximize',
      () => presets.torch({ maximize: true }),
      /maximize=True is not reproduced; negate your gradients instead/,
    ],
    [
      'torch an unknown argument',
      () => presets.torch({ betas: [0.9, 0.99] } as object),
      /presets.torch \(torch.optim.Adafactor\): unknown argument 'betas'/,
    ],
    [
      'torch a bad eps',
      () => presets.torch({ eps: [1e-3] as unknown as [number, number] }),
      /eps must be a pair \[eps1, eps2\]/,
    ],
    [
      'optax weight_decay_mask',
      () => presets.optax({ weight_decay_mask: (() => true) as unknown as null }),
      /weight_decay_mask is not reproduced; put the tensors it masks out in a parameter group/,
    ],
    [
      'optax dtype_momentum',
      () => presets.optax({ dtype_momentum: 'int8' }),
      /dtype_momentum 'int8' is not reproduced; give 'float32', 'bfloat16' or 'float16'/,
    ],
    ['optax a camelCase name', () => presets.optax({ learningRate: 0.1 } as object), /unknown argument 'learningRate'/],
    [
      'timmBigVision clipping_threshold',
      () => presets.timmBigVision({ clipping_threshold: 1.0 }),
      /clipping_threshold is not None: timm divides the update by min\(1, RMS\(U\) \* clipping_threshold\), which enlarges/,
    ],
    [
      'timmBigVision decay_offset',
      () => presets.timmBigVision({ decay_offset: 10 }),
      /decay_offset is not 0: timm takes decay_offset but never uses it/,
    ],
    [
      'timmBigVision foreach',
      () => presets.timmBigVision({ foreach: true }),
      /foreach=True is not implemented in timm/,
    ],
    [
      'timmBigVision a bad momentum_dtype',
      () => presets.timmBigVision({ momentum_dtype: 'bf16' as never }),
      /momentum_dtype must be 'bfloat16', 'float16' or 'float32', got the string 'bf16'/,
    ],
    [
      'timm a schedule without lr',
      () => presets.timm({}, (t) => 0.01 / t),
      /schedule is given without an lr: timm then computes its own relative step/,
    ],
    ['timm warmup_init with lr', () => presets.timm({ lr: 0.1, warmup_init: true }), /warmup_init is True with an lr/],
    [
      'torch a schedule with weight decay',
      () => presets.torch({ weight_decay: 0.1 }, (t) => 0.01 / t),
      /weight_decay is not 0 with a schedule: torch then decays by 1 - lr\(t\) \* weight_decay/,
    ],
    [
      'huggingFace a schedule with the relative step',
      () => presets.huggingFace({}, (t) => 0.01 / t),
      /schedule is given with relative_step=True/,
    ],
    [
      'a schedule that is not a function',
      () => presets.timmBigVision({}, 0.1 as never),
      /schedule must be a function of the step/,
    ],
    [
      'huggingFace an unknown argument',
      () => presets.huggingFace({ relative_steps: false } as object),
      /unknown argument 'relative_steps'/,
    ],
  ] as [string, () => AdafactorOptions, RegExp][])('refuses %s, saying what to do', (_, make, message) => {
    expect(make).toThrow(message);
  });

  it("Hugging Face's golden traces through presets.huggingFace, in the float64 reference", () => {
    for (const golden of decodeGolden(goldenJson as Parameters<typeof decodeGolden>[0], (o) =>
      presets.huggingFace(o),
    )) {
      const reference = new ReferenceAdafactor(
        golden.params.map((p) => ({ data: p.init, shape: p.shape })),
        golden.options,
      );
      for (const step of golden.steps) {
        reference.step(step.grads);
        step.expected?.forEach((expected, i) =>
          expect(relativeError(reference.params[i], expected), golden.name).toBeLessThan(1e-12),
        );
      }
    }
  });
});

describe("the float64 reference reproduces PyTorch's and optax's traces through the presets", () => {
  const traces = {
    torch: decodeTrace(torchJson as Parameters<typeof decodeTrace>[0], 'torch'),
    optax: decodeTrace(optaxJson as Parameters<typeof decodeTrace>[0], 'optax'),
  };
  for (const [library, cases] of Object.entries(traces)) {
    for (const golden of cases.filter((c) => !c.refused)) {
      it(`${library}: ${golden.name}`, () => {
        const reference = new ReferenceAdafactor(
          golden.params.map((p) => ({ data: p.init, shape: p.shape })),
          golden.options,
        );
        reference.stepCount = golden.initialCount;
        let checked = 0;
        for (const step of golden.steps) {
          reference.step(step.grads);
          step.expected?.forEach((expected, i) => {
            expect(
              relativeError(reference.params[i], expected),
              `${golden.params[i].name} after step ${reference.stepCount}`,
            ).toBeLessThan(1e-5);
            checked++;
          });
        }
        expect(checked).toBeGreaterThan(0);
      });
    }
  }
});

describe('edge values each library accepts, through the presets, in the float64 reference', () => {
  const traces = decodeEdgeTraces(edgeJson as Parameters<typeof decodeEdgeTraces>[0]);
  it("has every library's edge cases", () => {
    expect([traces.torch.length, traces.optax.length, traces.huggingFace.length]).toEqual([9, 8, 8]);
  });
  for (const [library, cases] of Object.entries(traces)) {
    for (const golden of cases) {
      it(`${library}: ${golden.name} (${JSON.stringify(golden.hfOptions)})`, () => {
        expect(golden.refused).toBeUndefined();
        const reference = new ReferenceAdafactor(
          golden.params.map((p) => ({ data: p.init, shape: p.shape })),
          golden.options,
        );
        let checked = 0;
        for (const step of golden.steps) {
          reference.step(step.grads);
          step.expected?.forEach((expected, i) => {
            expect(
              relativeError(reference.params[i], expected),
              `${golden.params[i].name} after step ${reference.stepCount}`,
            ).toBeLessThan(1e-5);
            checked++;
          });
        }
        expect(checked).toBeGreaterThan(0);
      });
    }
  }
});

describe('preset arguments are checked as strictly as the options they make', () => {
  const torch = 'presets.torch \\(torch.optim.Adafactor\\): ';
  const optax = 'presets.optax \\(optax.adafactor\\): ';
  const hf = 'presets.huggingFace \\(transformers Adafactor\\): ';
  const wrongTypes: [string, () => unknown, RegExp][] = [
    [
      'torch lr',
      () => presets.torch({ lr: '0.01' as never }),
      /lr must be a number >= 0, as torch requires, got the string '0.01'/,
    ],
    ['torch beta2_decay', () => presets.torch({ beta2_decay: '-0.8' as never }), /beta2_decay must be a number/],
    [
      'torch eps[0]',
      () => presets.torch({ eps: ['1e-7' as never, 1e-3] }),
      /eps\[0\] must be a number >= 0, as torch requires \(or null\), got the string '1e-7'/,
    ],
    [
      'torch eps[1]',
      () => presets.torch({ eps: [null, true as never] }),
      /eps\[1\] must be a number >= 0, as torch requires, got true/,
    ],
    ['torch d', () => presets.torch({ d: true as never }), /d must be a number >= 1, as torch requires, got true/],
    ['torch weight_decay', () => presets.torch({ weight_decay: '0' as never }), /weight_decay must be a number/],
    [
      'torch foreach',
      () => presets.torch({ foreach: 'yes' as never }),
      /foreach must be true or false, got the string 'yes'/,
    ],
    [
      'torch maximize',
      () => presets.torch({ maximize: 'false' as never }),
      /maximize must be true or false, got the string 'false'/,
    ],
    [
      'optax learning_rate',
      () => presets.optax({ learning_rate: '1e-3' as never }),
      /learning_rate must be a number >= 0 \(or null, or a schedule\), got the string '1e-3'/,
    ],
    [
      'optax min_dim_size_to_factor',
      () => presets.optax({ min_dim_size_to_factor: '128' as never }),
      /min_dim_size_to_factor must be a number, got the string '128'/,
    ],
    ['optax decay_rate', () => presets.optax({ decay_rate: true as never }), /decay_rate must be a number/],
    ['optax decay_offset', () => presets.optax({ decay_offset: '0' as never }), /decay_offset must be a number/],
    [
      'optax multiply_by_parameter_scale',
      () => presets.optax({ multiply_by_parameter_scale: 'no' as never }),
      /multiply_by_parameter_scale must be true or false, got the string 'no'/,
    ],
    [
      'optax clipping_threshold',
      () => presets.optax({ clipping_threshold: '1' as never }),
      /clipping_threshold must be a number/,
    ],
    [
      'optax momentum',
      () => presets.optax({ momentum: '0.9' as never }),
      /momentum must be a number in \[0, 1\) \(or null\), got the string '0.9'/,
    ],
    [
      'optax dtype_momentum',
      () => presets.optax({ dtype_momentum: 32 as never }),
      /dtype_momentum must be a dtype's name such as 'float32', got 32/,
    ],
    [
      'optax weight_decay_rate',
      () => presets.optax({ weight_decay_rate: '0' as never }),
      /weight_decay_rate must be a number/,
    ],
    ['optax eps', () => presets.optax({ eps: '1e-30' as never }), /eps must be a number/],
    [
      'optax factored',
      () => presets.optax({ factored: 'no' as never }),
      /factored must be true or false, got the string 'no'/,
    ],
    [
      'huggingFace lr',
      () => presets.huggingFace({ lr: '1e-3' as never, relative_step: false }),
      /lr must be a number >= 0 \(or null\), got the string '1e-3'/,
    ],
    [
      'huggingFace eps',
      () => presets.huggingFace({ eps: 'tiny' as never }),
      /eps must be a pair \[eps1, eps2\], got the string 'tiny'/,
    ],
    ['huggingFace eps[0]', () => presets.huggingFace({ eps: [null as never, 1e-3] }), /eps\[0\] must be a number > 0/],
    [
      'huggingFace clip_threshold',
      () => presets.huggingFace({ clip_threshold: '1' as never }),
      /clip_threshold must be a number/,
    ],
    [
      'huggingFace decay_rate',
      () => presets.huggingFace({ decay_rate: '-0.8' as never }),
      /decay_rate must be a number/,
    ],
    [
      'huggingFace beta1',
      () => presets.huggingFace({ beta1: '0.9' as never }),
      /beta1 must be a number in \[0, 1\) \(or null\)/,
    ],
    [
      'huggingFace weight_decay',
      () => presets.huggingFace({ weight_decay: '0' as never }),
      /weight_decay must be a number/,
    ],
    [
      'huggingFace scale_parameter',
      () => presets.huggingFace({ scale_parameter: 'false' as never }),
      /scale_parameter must be true or false, got the string 'false'/,
    ],
    [
      'huggingFace relative_step',
      () => presets.huggingFace({ relative_step: 'false' as never }),
      /relative_step must be true or false, got the string 'false'/,
    ],
    [
      'huggingFace warmup_init',
      () => presets.huggingFace({ warmup_init: 1 as never }),
      /warmup_init must be true or false, got 1/,
    ],
  ];
  it.each(wrongTypes)('%s of the wrong type is refused, naming the argument', (_, make, message) => {
    expect(make).toThrow(message);
  });

  const refusedValues: [string, () => unknown, RegExp][] = [
    ['torch lr < 0', () => presets.torch({ lr: -1 }), new RegExp(`${torch}lr must be >= 0, as torch requires, got -1`)],
    [
      'torch beta2_decay > 0',
      () => presets.torch({ beta2_decay: 0.5 }),
      new RegExp(`${torch}beta2_decay must be <= 0`),
    ],
    [
      'torch beta2_decay -Infinity',
      () => presets.torch({ beta2_decay: -Infinity }),
      /beta2_decay is -Infinity, which makes beta2_t = 1 after the first step.*give a finite beta2_decay/,
    ],
    [
      'torch eps[0] = 0',
      () => presets.torch({ eps: [0, 1e-3] }),
      /eps\[0\] is 0: torch floors the estimate at eps\[0\]\^2.*give eps\[0\] from about 1.1e-19/,
    ],
    [
      'torch eps[0] too small for f32',
      () => presets.torch({ eps: [1e-30, 1e-3] }),
      /eps\[0\] is 1e-30: torch floors the estimate at eps\[0\]\^2/,
    ],
    ['torch eps[1] < 0', () => presets.torch({ eps: [null, -1] }), /eps\[1\] must be >= 0, as torch requires, got -1/],
    [
      'torch eps[1] denormal',
      () => presets.torch({ eps: [null, 1e-45] }),
      /eps\[1\] is 1e-45, which is 0 or a denormal in f32/,
    ],
    ['torch d < 1', () => presets.torch({ d: 0.5 }), /d must be >= 1, as torch requires, got 0.5/],
    [
      'torch weight_decay < 0',
      () => presets.torch({ weight_decay: -0.1 }),
      /weight_decay must be finite and >= 0, got -0.1/,
    ],
    [
      'torch weight_decay Infinity',
      () => presets.torch({ weight_decay: Infinity }),
      /weight_decay must be finite and >= 0, got Infinity/,
    ],
    [
      'torch lr * weight_decay past f32',
      () => presets.torch({ lr: 1e30, weight_decay: 1e30 }),
      /lr \* weight_decay is 1.0000000000000001e\+60, which rounds to Infinity in f32/,
    ],
    [
      'optax learning_rate < 0',
      () => presets.optax({ learning_rate: -0.1 }),
      new RegExp(`${optax}learning_rate must be >= 0`),
    ],
    [
      'optax learning_rate past f32',
      () => presets.optax({ learning_rate: 1e39 }),
      /learning_rate is 1e\+39, which rounds to Infinity in f32/,
    ],
    [
      'optax decay_rate < 0',
      () => presets.optax({ decay_rate: -0.5 }),
      /decay_rate must be finite and >= 0 \(beta2_t = 1 - t\^-decay_rate would be negative\), got -0.5/,
    ],
    ['optax decay_rate Infinity', () => presets.optax({ decay_rate: Infinity }), /decay_rate must be finite and >= 0/],
    [
      'optax fractional decay_offset',
      () => presets.optax({ decay_offset: 1.5 }),
      /decay_offset must be a whole number >= 0 \(this library counts whole steps from it\), got 1.5/,
    ],
    [
      'optax negative decay_offset',
      () => presets.optax({ decay_offset: -2 }),
      /decay_offset must be a whole number >= 0/,
    ],
    [
      'optax clipping_threshold 0',
      () => presets.optax({ clipping_threshold: 0 }),
      /clipping_threshold must be > 0 \(0 or less divides by 0 or never clips\) \(or null\), got 0/,
    ],
    ['optax clipping_threshold < 0', () => presets.optax({ clipping_threshold: -1 }), /clipping_threshold must be > 0/],
    ['optax momentum 1', () => presets.optax({ momentum: 1 }), /momentum must be in \[0, 1\) \(or null\), got 1/],
    ['optax momentum < 0', () => presets.optax({ momentum: -0.1 }), /momentum must be in \[0, 1\)/],
    [
      'optax eps 0',
      () => presets.optax({ eps: 0 }),
      /eps must be > 0 \(eps 0 gives 0 \/ 0 for a zero gradient\), got 0/,
    ],
    ['optax eps denormal', () => presets.optax({ eps: 1e-40 }), /eps is 1e-40, which is 0 or a denormal in f32/],
    [
      'optax weight_decay_rate < 0',
      () => presets.optax({ weight_decay_rate: -0.01 }),
      /weight_decay_rate must be >= 0 \(or null\), got -0.01/,
    ],
    [
      'huggingFace lr with relative_step',
      () => presets.huggingFace({ lr: 1e-3 }),
      new RegExp(`${hf}lr is given while relative_step is True`),
    ],
    [
      'huggingFace relative_step=False without lr',
      () => presets.huggingFace({ relative_step: false }),
      /lr is None while relative_step is False: there is no step size; pass lr/,
    ],
    [
      'huggingFace warmup_init without relative_step',
      () => presets.huggingFace({ warmup_init: true, relative_step: false, lr: 1e-3 }),
      /warmup_init is True while relative_step is False/,
    ],
    [
      'huggingFace eps[0] = 0',
      () => presets.huggingFace({ eps: [0, 1e-3] }),
      /eps\[0\] must be > 0 \(eps\[0\] 0 gives 0 \/ 0 for a zero gradient\), got 0/,
    ],
    [
      'huggingFace decay_rate > 0',
      () => presets.huggingFace({ decay_rate: 0.5 }),
      /decay_rate must be finite and <= 0 \(beta2_t = 1 - t\^decay_rate would be negative\), got 0.5/,
    ],
    ['huggingFace clip_threshold 0', () => presets.huggingFace({ clip_threshold: 0 }), /clip_threshold must be > 0/],
    ['huggingFace beta1 1', () => presets.huggingFace({ beta1: 1 }), /beta1 must be in \[0, 1\) \(or null\), got 1/],
    [
      'huggingFace weight_decay < 0',
      () => presets.huggingFace({ weight_decay: -1 }),
      /weight_decay must be >= 0, got -1/,
    ],
  ];
  it.each(refusedValues)('%s is refused, naming the argument and what to do', (_, make, message) => {
    expect(make).toThrow(message);
  });

  it('an optax schedule that returns a bad value is refused at that step, in its own name', () => {
    const options = resolveOptions(presets.optax({ learning_rate: (count) => (count < 2 ? 0.1 : NaN) }));
    expect(stepSize(options, 2)).toBe(0.1);
    expect(() => stepSize(options, 3)).toThrow(
      /presets.optax \(optax.adafactor\): learning_rate\(2\) returned NaN; a schedule must return a finite number >= 0/,
    );
  });

  it('edge values each library accepts become the options that reproduce them', () => {
    expect(presets.torch({ beta2_decay: 0 })).toMatchObject({ beta2: 0 });
    expect(presets.torch({ beta2_decay: 0 })).not.toHaveProperty('decayRate');
    expect(presets.torch({ d: Infinity, eps: [null, 0], foreach: true })).toMatchObject({
      clipThreshold: Infinity,
      eps2: 0,
    });
    expect(stepSize(resolveOptions(presets.torch({ lr: Infinity })), 4)).toBe(0.5);
    expect(presets.optax({ decay_rate: 0, decay_offset: 3 })).toMatchObject({ beta2: 0 });
    expect(presets.optax({ decay_rate: 0, decay_offset: 3 })).not.toHaveProperty('decayOffset');
    expect(presets.optax({ min_dim_size_to_factor: 16.5 }).minDimSizeToFactor).toBe(17);
    expect(presets.optax({ min_dim_size_to_factor: -3 }).minDimSizeToFactor).toBe(0);
    expect(presets.optax({ min_dim_size_to_factor: Infinity }).minDimSizeToFactor).toBe(Number.MAX_SAFE_INTEGER);
    expect(presets.optax({ momentum: 0, clipping_threshold: Infinity, learning_rate: 0 })).toMatchObject({
      beta1: 0,
      clipThreshold: Infinity,
      lr: 0,
    });
    expect(presets.huggingFace({ decay_rate: 0, eps: [1e-30, 0], clip_threshold: Infinity, beta1: 0 })).toMatchObject({
      beta2: 0,
      eps2: 0,
      clipThreshold: Infinity,
      beta1: 0,
    });
    for (const o of [
      presets.torch({ beta2_decay: 0, eps: [null, 0] }),
      presets.optax({ decay_rate: 0 }),
      presets.huggingFace({ decay_rate: 0, eps: [1e-30, 0] }),
    ])
      expect(() => resolveOptions(o)).not.toThrow();
  });
});

describe('timm presets map to the options that reproduce timm', () => {
  it('timm.optim.Adafactor: conv factoring past the size, scale only with the relative step, caution only with betas', () => {
    expect(presets.timm()).toMatchObject({
      relativeStep: true,
      scaleParameter: true,
      factorDims: 'conv',
      minDimSizeToFactor: 17,
    });
    expect(presets.timm({ lr: 0.01, betas: [0.9, 0.999], caution: true })).toMatchObject({
      relativeStep: false,
      lr: 0.01,
      scaleParameter: false,
      beta1: 0.9,
      caution: true,
    });
    expect(presets.timm({ caution: true })).not.toHaveProperty('caution');
    const schedule = presets.timm({ lr: 0.01 }, (t) => 0.01 / t).lr as (t: number) => number;
    expect(schedule(4)).toBe(0.0025);
  });
  it('timm.optim.AdafactorBigVision: its defaults, and each weight-decay form', () => {
    expect(presets.timmBigVision()).toMatchObject({
      relativeStep: false,
      lr: 1,
      scaleParameter: false,
      clipThreshold: Infinity,
      decayRate: -0.8,
      beta2Cap: 0.999,
      beta1: 0.9,
      momentumBeforeLr: true,
      momentumDtype: 'bf16',
      momentumArithmetic: 'lerp',
      factorDims: 'largest2',
      minDimSizeToFactor: 16,
      eps1: 1e-30,
    });
    expect(presets.timmBigVision({ momentum: null, momentum_dtype: 'float16' })).not.toHaveProperty('beta1');
    const decay = (args: object) => {
      const o = presets.timmBigVision({ lr: 0.5, weight_decay: 0.1, ...args });
      return [o.weightDecayScale, o.weightDecayMaxLr];
    };
    expect(decay({})).toEqual(['alpha', undefined]);
    expect(decay({ unscaled_wd: true })).toEqual(['none', undefined]);
    expect(decay({ corrected_weight_decay: true })).toEqual(['alpha', 0.5]);
    expect(decay({ unscaled_wd: true, corrected_weight_decay: true })).toEqual(['none', 0.5]);
  });
  it('optax dtype_momentum', () => {
    expect(presets.optax({ momentum: 0.9, dtype_momentum: 'bfloat16' })).toMatchObject({
      beta1: 0.9,
      momentumDtype: 'bf16',
      momentumArithmetic: 'ema',
    });
  });
});
