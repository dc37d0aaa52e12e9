/**
 * Adafactor's options, their defaults (those of Hugging Face transformers' `Adafactor`) and their
 * checks. The per-step schedules that read them are in schedules.ts.
 */
import type { StateDtype } from './half.js';
import type { FactorDims } from './shape.js';
import {
  type AdafactorLimits,
  F32_MIN_NORMAL,
  f32Problem,
  factorDimsOption,
  resolveGradScale,
  resolveLimits,
  stripUndefined,
} from './option_checks.js';

export { type AdafactorLimits, F32_MIN_NORMAL, f32Problem } from './option_checks.js';

/**
 * The kernel variants by name (their geometry is the GPU layer's: KERNEL_VARIANTS in
 * src/gpu/kernels.ts); every variant computes the same step.
 */
export const KERNEL_VARIANT_NAMES = ['wide', 'unsynced'] as const;
export type KernelVariant = (typeof KERNEL_VARIANT_NAMES)[number];

/** Options of `new Adafactor(device, params, options)`; every one is optional. */
export interface AdafactorOptions {
  /** External step size, a number or a function of the step t (1, 2, ...). Only with `relativeStep: false`. */
  lr?: number | ((step: number) => number);
  /**
   * Added to squared gradients (eps_1 in the paper; see `eps1Mode`). Default 1e-30. With
   * `eps1Mode: 'floor'`, the floor of mean(R_t), and its square the floor of the estimate.
   */
  eps1?: number;
  /**
   * 'add' (default; Hugging Face, optax): Q = G^2 + eps1. 'floor' (PyTorch): Q = G^2, mean(R_t) is
   * floored at eps1 and the second-moment estimate (R_t C_t / mean(R_t), or V_t) at eps1^2.
   */
  eps1Mode?: 'add' | 'floor';
  /** Floor of the parameter scale RMS(X) (eps_2 in the paper), >= 0 (0: no floor). Default 1e-3. */
  eps2?: number;
  /** Updates are scaled down to an RMS of at most this (d in the paper); Infinity: no clipping. Default 1.0. */
  clipThreshold?: number;
  /** beta2_t = 1 - (t - decayOffset)^decayRate. Default -0.8. */
  decayRate?: number;
  /**
   * A fixed second-moment decay instead of the schedule (the slow-decay regime the paper warns
   * of, e.g. 0.999), in [0, 1); exclusive with decayRate and decayOffset. Default: none.
   */
  beta2?: number;
  /**
   * Steps before the second-moment decay starts counting (optax's decay_offset, for fine-tuning
   * from a checkpoint): beta2_t = 1 - (t - decayOffset)^decayRate; a step t <= decayOffset is
   * refused. Default 0.
   */
  decayOffset?: number;
  /**
   * A cap on the scheduled decay: beta2_t = min(beta2Cap, 1 - (t - decayOffset)^decayRate)
   * (big_vision and timm's AdafactorBigVision: 0.999), in (0, 1); not with `beta2`. Default: none.
   */
  beta2Cap?: number;
  /** First-moment decay. Default undefined: no first moment is kept. */
  beta1?: number;
  /**
   * With beta1: the first moment averages the clipped update before alpha_t scales it, and the
   * step is alpha_t M_t (big_vision, timm's AdafactorBigVision). Default false: it averages the
   * scaled update, and the step is M_t (Hugging Face, PyTorch, optax, timm's Adafactor).
   */
  momentumBeforeLr?: boolean;
  /**
   * How the first moment M is kept: 'f32' (default), or in 16 bits, 'bf16' or 'f16' (half the
   * memory; timm's AdafactorBigVision keeps bf16, optax's dtype_momentum), rounded to nearest
   * (or stochastically, with `stochasticRounding`); the arithmetic stays f32. Optimizer-wide.
   */
  momentumDtype?: StateDtype;
  /**
   * The first moment's update. 'ema' (default; Hugging Face, PyTorch, optax): M_t = beta1 M +
   * (1 - beta1) U with beta1 M in momentumDtype (optax's product of a 16-bit M by beta1, which jax
   * casts to that type first), and
   * the step uses M_t before it is rounded to be stored. 'lerp' (torch's lerp_ on a 16-bit M: timm):
   * U is rounded to momentumDtype, M_t = M + (1 - beta1)(U - M) is rounded and stored, and the step
   * uses M_t as stored. The two differ only by rounding, and not at all in f32 but for its last bit.
   */
  momentumArithmetic?: 'ema' | 'lerp';
  /**
   * Cautious updates (arXiv 2411.16085, in timm's form; needs beta1): the step keeps only the
   * elements of M_t whose sign agrees with the gradient's (M_t G > 0), times 1 / max(mean of that
   * mask over the tensor, 1e-3). Default false.
   */
  caution?: boolean;
  /** Decoupled weight decay: X -= weightDecay * alpha_t * X. Default 0. */
  weightDecay?: number;
  /**
   * Corrected weight decay (timm's corrected_weight_decay, whose max_lr is the constructor's lr):
   * the decay is also multiplied by alpha_t / weightDecayMaxLr, so that it follows the learning
   * rate's schedule. A number > 0. Default: none.
   */
  weightDecayMaxLr?: number;
  /** alpha_t = rho_t * max(eps2, RMS(X_{t-1})) when true, rho_t when false. Default true. */
  scaleParameter?: boolean;
  /** rho_t = min(1e-2, 1/sqrt(t)) when true; the given `lr` when false. Default true. */
  relativeStep?: boolean;
  /** rho_t = min(1e-6 t, 1/sqrt(t)); needs `relativeStep`. Default false. */
  warmupInit?: boolean;
  /**
   * Which two dims of a tensor of rank >= 2 are factored: 'last2' (default, Hugging Face and
   * PyTorch), 'largest2' (optax and t5x; the later one on a tie), 'conv' (timm: for rank > 2,
   * dims 0 and 1 when both pass minDimSizeToFactor, else the last two), or a function of the shape
   * that returns the two dims, or null to keep a full second moment (checked at construction); the
   * other dims form a batch.
   */
  factorDims?: FactorDims;
  /**
   * Tensors of rank >= 2 are factored only when both of their factored dims are at least this.
   * Default 0 (Hugging Face and PyTorch: always); optax and t5x use 128.
   */
  minDimSizeToFactor?: number;
  /**
   * 'alpha' (default, Hugging Face): X -= weightDecay * alpha_t * X; 'none' (optax and t5x):
   * X -= weightDecay * X.
   */
  weightDecayScale?: 'alpha' | 'none';
  /**
   * f16 parameters and 16-bit momentum are written with unbiased stochastic rounding
   * (deterministic per step and element), so that updates smaller than half an ulp are not lost
   * on average. Default false: round to nearest.
   */
  stochasticRounding?: boolean;
  /**
   * When true, a step whose gradients hold a NaN or an infinity, in any tensor, changes no
   * parameter and no state (the step count still advances); decided on the GPU, counted by
   * `skippedSteps()`. Default false: NaN propagates as in the reference.
   */
  skipNonFinite?: boolean;
  /**
   * Loss scaling: the gradients are divided by gradScale before anything else (a number > 0, or a
   * function of the step t, called when the step is recorded, for a dynamic scale). With
   * skipNonFinite, a step whose scaled gradients overflowed is skipped and counted
   * (`skippedSteps()`), so that the caller can lower the scale. A power of two changes nothing
   * while the gradients stay in range. Optimizer-wide. Default 1.
   */
  gradScale?: number | ((t: number) => number);
  /**
   * Global-norm clipping (optax's clip_by_global_norm): every gradient of the optimizer, after
   * gradScale, is multiplied by maxGradNorm / ||G|| when the norm ||G|| over all of them is at
   * least maxGradNorm, before the second moment sees it; `stats()` reports ||G||. > 0.
   * Optimizer-wide. Default: none.
   */
  maxGradNorm?: number;
  /**
   * Device limits to use instead of the device's own, only ever lower: for tests of the code
   * paths that large tensors take on small devices. Default: the device's limits.
   */
  limits?: AdafactorLimits;
  /**
   * Which shape of the kernels to run (they compute the same step; see KERNEL_VARIANTS): 'auto'
   * (default) picks the one that suits the device's adapter (`device.adapterInfo`), or a name
   * forces one, for tests and benchmarks. Applies to the whole optimizer.
   */
  kernelVariant?: 'auto' | KernelVariant;
}

/** Options with every default filled in and every check passed. */
export interface ResolvedOptions {
  lr: ((step: number) => number) | undefined;
  eps1: number;
  eps1Mode: 'add' | 'floor';
  eps2: number;
  clipThreshold: number;
  decayRate: number;
  /** A fixed beta2, or undefined for the schedule. */
  beta2: number | undefined;
  decayOffset: number;
  /** The cap on the scheduled beta2_t, or undefined for none. */
  beta2Cap: number | undefined;
  beta1: number | undefined;
  momentumBeforeLr: boolean;
  momentumDtype: StateDtype;
  momentumArithmetic: 'ema' | 'lerp';
  caution: boolean;
  weightDecay: number;
  weightDecayMaxLr: number | undefined;
  scaleParameter: boolean;
  relativeStep: boolean;
  warmupInit: boolean;
  factorDims: FactorDims;
  minDimSizeToFactor: number;
  weightDecayScale: 'alpha' | 'none';
  stochasticRounding: boolean;
  skipNonFinite: boolean;
  /** The loss scale, or a function of t giving it (1 without gradScale). */
  gradScale: number | ((t: number) => number);
  maxGradNorm: number | undefined;
  limits: AdafactorLimits;
  kernelVariant: 'auto' | KernelVariant;
}

export const DEFAULT_OPTIONS = {
  eps1: 1e-30,
  eps1Mode: 'add',
  eps2: 1e-3,
  clipThreshold: 1.0,
  decayRate: -0.8,
  decayOffset: 0,
  beta2: undefined,
  beta2Cap: undefined,
  beta1: undefined,
  momentumBeforeLr: false,
  momentumDtype: 'f32',
  momentumArithmetic: 'ema',
  caution: false,
  weightDecay: 0,
  weightDecayMaxLr: undefined,
  scaleParameter: true,
  relativeStep: true,
  warmupInit: false,
  factorDims: 'last2',
  minDimSizeToFactor: 0,
  weightDecayScale: 'alpha',
  stochasticRounding: false,
  skipNonFinite: false,
  kernelVariant: 'auto',
} as const;

const KNOWN_OPTIONS = new Set(['lr', 'limits', 'gradScale', 'maxGradNorm', ...Object.keys(DEFAULT_OPTIONS)]);

/** Fills in defaults and checks every option; throws an Error naming the option and the problem. */
export function resolveOptions(options: AdafactorOptions = {}, where = 'Adafactor'): ResolvedOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new Error(
      `${where}: options must be an object of option values, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new Error(`${where}: unknown option '${key}'`);
    }
  }
  const merged = { ...DEFAULT_OPTIONS, ...stripUndefined(options) };
  const number = (
    name: keyof typeof DEFAULT_OPTIONS | 'maxGradNorm',
    ok: (v: number) => boolean,
    domain: string,
  ): number => {
    const value = (merged as Record<string, unknown>)[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
      throw new Error(`${where}: option ${name} must be a finite number ${domain}, got ${String(value)}`);
    }
    // Checked in the precision the GPU computes in, for the options the shaders use.
    const hostOnly = ['decayRate', 'decayOffset', 'minDimSizeToFactor', 'beta2', 'beta2Cap'].includes(name);
    // A value that must stay positive may not be a denormal in f32 (0 itself, where allowed, is exact).
    const problem = hostOnly
      ? undefined
      : f32Problem(value, domain.startsWith('> 0') || (name === 'eps2' && value !== 0));
    if (problem) throw new Error(`${where}: option ${name} is ${value}, which ${problem}`);
    return value;
  };
  const flag = (
    name:
      | 'scaleParameter'
      | 'relativeStep'
      | 'warmupInit'
      | 'skipNonFinite'
      | 'stochasticRounding'
      | 'momentumBeforeLr'
      | 'caution',
  ): boolean => {
    const value = merged[name] as unknown;
    if (typeof value !== 'boolean') throw new Error(`${where}: option ${name} must be a boolean, got ${String(value)}`);
    return value;
  };
  const oneOf = <T extends string>(
    name: 'weightDecayScale' | 'eps1Mode' | 'kernelVariant' | 'momentumDtype' | 'momentumArithmetic',
    values: readonly T[],
  ): T => {
    const value = merged[name] as unknown;
    if (!values.includes(value as T))
      throw new Error(
        `${where}: option ${name} must be one of ${values.map((v) => `'${v}'`).join(', ')}, got ${String(value)}`,
      );
    return value as T;
  };
  const resolved: ResolvedOptions = {
    lr: undefined,
    eps1: number('eps1', (v) => v > 0, '> 0'),
    eps1Mode: oneOf('eps1Mode', ['add', 'floor'] as const),
    eps2: number('eps2', (v) => v >= 0, '>= 0'),
    // Infinity is allowed here, and means no clipping (optax's clipping_threshold=None).
    clipThreshold:
      merged.clipThreshold === Infinity ? Infinity : number('clipThreshold', (v) => v > 0, '> 0 (or Infinity)'),
    decayRate: number('decayRate', (v) => v < 0, '< 0'),
    beta2:
      merged.beta2 === undefined
        ? undefined
        : number('beta2', (v) => v >= 0 && Math.fround(v) < 1, "in [0, 1) (and below 1 in f32, the GPU's precision)"),
    decayOffset: number('decayOffset', (v) => Number.isSafeInteger(v) && v >= 0, 'and an integer >= 0'),
    beta2Cap:
      merged.beta2Cap === undefined
        ? undefined
        : number('beta2Cap', (v) => v > 0 && Math.fround(v) < 1, "in (0, 1) (and below 1 in f32, the GPU's precision)"),
    beta1:
      merged.beta1 === undefined
        ? undefined
        : number('beta1', (v) => v >= 0 && Math.fround(v) < 1, "in [0, 1) (and below 1 in f32, the GPU's precision)"),
    momentumBeforeLr: flag('momentumBeforeLr'),
    momentumDtype: oneOf('momentumDtype', ['f32', 'bf16', 'f16'] as const),
    momentumArithmetic: oneOf('momentumArithmetic', ['ema', 'lerp'] as const),
    caution: flag('caution'),
    weightDecay: number('weightDecay', (v) => v >= 0, '>= 0'),
    weightDecayMaxLr:
      merged.weightDecayMaxLr === undefined ? undefined : number('weightDecayMaxLr', (v) => v > 0, '> 0'),
    scaleParameter: flag('scaleParameter'),
    relativeStep: flag('relativeStep'),
    warmupInit: flag('warmupInit'),
    factorDims: factorDimsOption(merged.factorDims, where),
    minDimSizeToFactor: number('minDimSizeToFactor', (v) => Number.isInteger(v) && v >= 0, 'and an integer >= 0'),
    weightDecayScale: oneOf('weightDecayScale', ['alpha', 'none'] as const),
    stochasticRounding: flag('stochasticRounding'),
    skipNonFinite: flag('skipNonFinite'),
    gradScale: resolveGradScale(options.gradScale, where),
    maxGradNorm:
      options.maxGradNorm === undefined
        ? undefined
        : number('maxGradNorm', (v) => v > 0 && Number.isFinite(v), '> 0 and finite'),
    limits: resolveLimits(options.limits, where),
    kernelVariant: oneOf('kernelVariant', ['auto', ...KERNEL_VARIANT_NAMES]),
  };
  const lr = options.lr;
  if (lr !== undefined) {
    if (resolved.relativeStep) {
      throw new Error(
        `${where}: option lr is given while relativeStep is true (the default); pass relativeStep: false to use an external learning rate`,
      );
    }
    if (typeof lr === 'number') {
      if (!Number.isFinite(lr) || lr < 0)
        throw new Error(`${where}: option lr must be a finite number >= 0, got ${lr}`);
      const problem = f32Problem(lr, false);
      if (problem) throw new Error(`${where}: option lr is ${lr}, which ${problem}`);
      resolved.lr = () => lr;
    } else if (typeof lr === 'function') {
      resolved.lr = lr;
    } else {
      throw new Error(`${where}: option lr must be a number or a function of the step, got ${typeof lr}`);
    }
  } else if (!resolved.relativeStep) {
    throw new Error(`${where}: relativeStep is false but no lr is given; pass lr (a number or a function of the step)`);
  }
  if (resolved.beta2 !== undefined && (options.decayRate !== undefined || options.decayOffset !== undefined)) {
    throw new Error(
      `${where}: option beta2 fixes the second-moment decay; it cannot be given with ${options.decayRate !== undefined ? 'decayRate' : 'decayOffset'}, which shape the schedule it replaces`,
    );
  }
  if (resolved.beta2 !== undefined && resolved.beta2Cap !== undefined) {
    throw new Error(
      `${where}: option beta2Cap caps the scheduled decay; with a fixed beta2 give the smaller value as beta2`,
    );
  }
  if (resolved.caution && resolved.beta1 === undefined) {
    throw new Error(
      `${where}: option caution needs beta1: it masks the first moment's step (timm applies it only with momentum)`,
    );
  }
  if (resolved.warmupInit && !resolved.relativeStep) {
    throw new Error(`${where}: option warmupInit needs relativeStep: true`);
  }
  // With the floor, eps1^2 floors the estimate in f32: it must not be 0 or a denormal there.
  if (resolved.eps1Mode === 'floor' && Math.fround(resolved.eps1 * resolved.eps1) < F32_MIN_NORMAL) {
    throw new Error(
      `${where}: option eps1 is ${resolved.eps1}, too small for eps1Mode 'floor': its square must be a normal f32 (eps1 >= about 1.1e-19)`,
    );
  }
  return resolved;
}
