/** fast-check generators of shapes and options for the property tests. */
import fc from 'fast-check';
import { type AdafactorOptions, presets } from '../../src/index.js';

/** Dims that are rarely a multiple of a workgroup or tile size, sometimes 1. */
const dim = fc.oneof(
  { weight: 1, arbitrary: fc.constant(1) },
  { weight: 3, arbitrary: fc.integer({ min: 2, max: 9 }) },
  { weight: 3, arbitrary: fc.integer({ min: 10, max: 150 }) },
);

/** Shapes of rank 0 to 4 with at most `maxElements` elements. */
export function shape(maxElements = 40_000): fc.Arbitrary<number[]> {
  return fc
    .integer({ min: 0, max: 4 })
    .chain((rank) => fc.array(dim, { minLength: rank, maxLength: rank }))
    .filter((s) => s.reduce((a, b) => a * b, 1) <= maxElements);
}

/** A factoring rule of the user's own: the first and the last dim, when both have at least 4 elements. */
const firstAndLast = (shape: readonly number[]) =>
  shape[0] >= 4 && shape[shape.length - 1] >= 4 ? ([0, shape.length - 1] as const) : null;

/** Options as this library's own names give them. */
const ownOptions: fc.Arbitrary<AdafactorOptions> = fc
  .record({
    relativeStep: fc.boolean(),
    warmupInit: fc.boolean(),
    lr: fc.double({ min: 1e-4, max: 0.1, noNaN: true }),
    lrDecays: fc.boolean(),
    beta1: fc.option(fc.double({ min: 0, max: 0.99, noNaN: true }), { nil: undefined }),
    momentumBeforeLr: fc.boolean(),
    // Mostly f32: each format is a shader module of its own, which a CPU adapter takes seconds to compile.
    momentumDtype: fc.oneof(
      { weight: 8, arbitrary: fc.constant('f32' as const) },
      { weight: 1, arbitrary: fc.constantFrom('bf16' as const, 'f16' as const) },
    ),
    momentumArithmetic: fc.constantFrom('ema' as const, 'lerp' as const),
    // Global-norm clipping, usually off; when on, often binding (gradients here have norms of 1 to 500).
    maxGradNorm: fc.option(fc.double({ min: 0.5, max: 200, noNaN: true }), { nil: undefined, freq: 3 }),
    // A loss scale: a power of two, fixed or per step, or none.
    gradScale: fc.option(
      fc.oneof(
        fc.integer({ min: -4, max: 16 }).map((k) => 2 ** k),
        fc.constant((t: number) => 2 ** (t % 5)),
      ),
      { nil: undefined, freq: 3 },
    ),
    // Only where beta1 is drawn (caution needs it).
    caution: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    weightDecay: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.5, noNaN: true })),
    weightDecayMaxLr: fc.option(fc.double({ min: 1e-3, max: 1, noNaN: true }), { nil: undefined }),
    // Caps the schedule only: dropped where the case draws a fixed beta2.
    beta2Cap: fc.option(fc.constantFrom(0.5, 0.9, 0.999), { nil: undefined }),
    clipThreshold: fc.oneof(
      fc.constant(1),
      fc.double({ min: 0.05, max: 5, noNaN: true }),
      fc.constant(1e9),
      fc.constant(Infinity),
    ),
    // The schedule's exponent, or a fixed beta2 (the paper's slow-decay regime among them).
    decay: fc.oneof(
      fc.double({ min: -1, max: -0.2, noNaN: true }).map((decayRate) => ({ decayRate })),
      fc.constantFrom(0, 0.9, 0.999).map((beta2) => ({ beta2 })),
    ),
    scaleParameter: fc.boolean(),
    // Hugging Face's and optax's eps1 added to G^2, or PyTorch's floors (its default eps1 for f32).
    epsilon: fc.constantFrom(
      { eps1Mode: 'add' as const, eps1: 1e-30 },
      { eps1Mode: 'add' as const, eps1: 1e-20 },
      { eps1Mode: 'floor' as const, eps1: 1.1920929e-7 },
      { eps1Mode: 'floor' as const, eps1: 1e-3 },
    ),
    eps2: fc.constantFrom(1e-3, 1e-2),
    factorDims: fc.constantFrom<AdafactorOptions['factorDims']>('last2', 'largest2', 'conv', firstAndLast),
    minDimSizeToFactor: fc.constantFrom(0, 0, 8, 128),
    weightDecayScale: fc.constantFrom('alpha' as const, 'none' as const),
  })
  .map(({ relativeStep, warmupInit, lr, lrDecays, epsilon, decay, beta2Cap, caution, ...rest }) => {
    const base = {
      ...rest,
      ...epsilon,
      ...decay,
      ...('beta2' in decay ? {} : { beta2Cap }),
      caution: caution && rest.beta1 !== undefined,
    };
    return relativeStep
      ? { ...base, relativeStep, warmupInit }
      : { ...base, relativeStep, lr: lrDecays ? (t: number) => lr / Math.sqrt(t) : lr };
  });

/** PyTorch's arguments, through presets.torch. */
const torchOptions: fc.Arbitrary<AdafactorOptions> = fc
  .record({
    lr: fc.constantFrom(1e-2, 3e-3, 0.2),
    beta2_decay: fc.constantFrom(-0.8, -0.5),
    eps: fc.constantFrom<[number | null, number]>([null, 1e-3], [1e-6, 1e-2]),
    d: fc.constantFrom(1, 1.5),
    weight_decay: fc.constantFrom(0, 0.1),
  })
  .map((args) => presets.torch(args));

/** optax's arguments, through presets.optax. */
const optaxOptions: fc.Arbitrary<AdafactorOptions> = fc
  .record({
    learning_rate: fc.constantFrom<number | null | ((count: number) => number)>(
      0.01,
      null,
      (count) => 0.02 / Math.sqrt(count + 1),
    ),
    min_dim_size_to_factor: fc.constantFrom(128, 8),
    multiply_by_parameter_scale: fc.boolean(),
    clipping_threshold: fc.constantFrom<number | null>(1, null),
    momentum: fc.constantFrom<number | null>(null, 0.9),
    weight_decay_rate: fc.constantFrom<number | null>(null, 0.01),
    factored: fc.boolean(),
  })
  .map((args) => presets.optax(args));

export const options: fc.Arbitrary<AdafactorOptions> = fc.oneof(
  { weight: 4, arbitrary: ownOptions },
  { weight: 1, arbitrary: torchOptions },
  { weight: 1, arbitrary: optaxOptions },
);
