import { describe, expect, it } from 'vitest';
import { type AdafactorOptions, ReferenceAdafactor, presets, resolveOptions, stepSize } from '../../src/index.js';
import goldenJson from '../data/hf-adafactor.json';
import optaxJson from '../data/optax-adafactor.json';
import torchJson from '../data/torch-adafactor.json';
import { decodeGolden, decodeTrace } from '../gpu/golden.js';
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
    const o = presets.torch({ lr: 3e-3, weight_decay: 0.1, eps: [1e-6, 1e-2], d: 0.5, beta2_decay: -0.5 });
    const resolved = resolveOptions(o);
    expect([1, 4, 1e6].map((t) => stepSize(resolved, t))).toEqual([3e-3, 3e-3, 1e-3]);
    expect(o).toMatchObject({
      weightDecay: 3e-3 * 0.1,
      weightDecayScale: 'none',
      eps1: 1e-6,
      eps2: 1e-2,
      clipThreshold: 0.5,
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
    // Hugging Face's own conflicts are refused as it refuses them.
    expect(() => resolveOptions(presets.huggingFace({ lr: 1e-3 }))).toThrow(/lr is given while relativeStep is true/);
  });

  it.each([
    [
      'torch maximize',
      () => presets.torch({ maximize: true }),
      /maximize=True is not reproduced; negate your gradients instead/,
    ],
    ['torch foreach', () => presets.torch({ foreach: true }), /foreach selects PyTorch's multi-tensor kernels/],
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
      () => presets.optax({ dtype_momentum: 'bfloat16' }),
      /dtype_momentum 'bfloat16' is not reproduced/,
    ],
    ['optax a camelCase name', () => presets.optax({ learningRate: 0.1 } as object), /unknown argument 'learningRate'/],
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
