/**
 * Presets: each takes the arguments of another library's Adafactor, in that library's own names
 * and with its own defaults, as its users write them (snake_case; `null` where Python has None),
 * and returns the options with which this library steps exactly as that one does. Each argument is
 * checked as this library checks its own options (preset_args.ts): a value of the wrong type, one
 * the other library refuses, or one that cannot be reproduced is refused with an Error that names
 * the argument and says what to do instead.
 *
 *   new Adafactor(device, params, presets.torch({ lr: 0.01, weight_decay: 0.1 }))
 *   new Adafactor(device, params, presets.optax({ learning_rate: 1e-3, momentum: 0.9 }))
 *   new Adafactor(device, params, presets.huggingFace({ lr: 1e-3, relative_step: false, scale_parameter: false }))
 *   new Adafactor(device, params, presets.timmBigVision({ lr: 3e-3, caution: true }, (t) => 3e-3 * Math.min(1, t / 100)))
 *
 * The torch-based presets take an optional `schedule(t)`: the lr a torch scheduler sets on the
 * group before step t = 1, 2, ... (the constructor's lr stays what the library keeps as its
 * maximum, where it keeps one).
 */
import { type AdafactorOptions, F32_MIN_NORMAL } from './options.js';
import { PresetArgs, checkedSchedule, describe } from './preset_args.js';
import { timm, timmBigVision } from './presets_timm.js';

export type { TimmAdafactorArgs, TimmBigVisionArgs } from './presets_timm.js';

/** PyTorch's machine epsilon of float32, its default eps1 (`eps=(None, 1e-3)`) for f32 parameters. */
const FLOAT32_EPS = 2 ** -23;

/** Arguments of `torch.optim.Adafactor` (PyTorch 2.5 and later). */
export interface TorchAdafactorArgs {
  lr?: number;
  beta2_decay?: number;
  eps?: [number | null, number];
  d?: number;
  weight_decay?: number;
  foreach?: boolean | null;
  maximize?: boolean;
}

/** Arguments of `optax.adafactor`; a schedule is a function of optax's count (0 at the first step). */
export interface OptaxAdafactorArgs {
  learning_rate?: number | ((count: number) => number) | null;
  min_dim_size_to_factor?: number;
  decay_rate?: number;
  decay_offset?: number;
  multiply_by_parameter_scale?: boolean;
  clipping_threshold?: number | null;
  momentum?: number | null;
  dtype_momentum?: string;
  weight_decay_rate?: number | null;
  eps?: number;
  factored?: boolean;
  weight_decay_mask?: null;
}

/** Arguments of Hugging Face transformers' `Adafactor`. */
export interface HuggingFaceAdafactorArgs {
  lr?: number | null;
  eps?: [number, number];
  clip_threshold?: number;
  decay_rate?: number;
  beta1?: number | null;
  weight_decay?: number;
  scale_parameter?: boolean;
  relative_step?: boolean;
  warmup_init?: boolean;
}

/**
 * The options of a decay exponent e (beta2_t = 1 - (t - offset)^e, e <= 0): e = 0 makes beta2_t = 0
 * at every step, which the fixed `beta2: 0` reproduces.
 */
function decayOptions(exponent: number, offset?: number): AdafactorOptions {
  if (exponent === 0) return { beta2: 0 };
  return offset === undefined ? { decayRate: exponent } : { decayRate: exponent, decayOffset: offset };
}

/**
 * `torch.optim.Adafactor(params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0,
 * weight_decay=0.0, foreach=None, maximize=False)`: rho_t = min(lr, 1/sqrt(t)); eps1 floors
 * mean(R) and eps1^2 the estimate (None: float32's machine epsilon, 2^-23, as PyTorch uses for
 * f32 parameters); weight decay multiplies X by 1 - lr * weight_decay. Its own checks (lr >= 0,
 * beta2_decay <= 0, eps >= 0, d >= 1, weight_decay >= 0) are made here too. With a schedule,
 * rho_t = min(schedule(t), 1/sqrt(t)); weight decay then follows the scheduled lr, which is not
 * reproduced (refused).
 */
function torch(args?: TorchAdafactorArgs, schedule?: (t: number) => number): AdafactorOptions {
  const p = new PresetArgs('presets.torch (torch.optim.Adafactor)');
  const scheduled = checkedSchedule(p, schedule);
  const a = p.withDefaults<TorchAdafactorArgs>(
    { lr: 1e-2, beta2_decay: -0.8, eps: [null, 1e-3], d: 1.0, weight_decay: 0.0, foreach: null, maximize: false },
    args,
  );
  if (p.boolean('maximize', a.maximize)) p.refuse('maximize=True', 'is not reproduced; negate your gradients instead');
  if (a.foreach !== null) p.boolean('foreach', a.foreach); // which of torch's kernels runs: the same step here
  const lr = p.number('lr', a.lr, (v) => v >= 0, '>= 0, as torch requires');
  const exponent = p.number('beta2_decay', a.beta2_decay, (v) => v <= 0, '<= 0, as torch requires');
  if (exponent === -Infinity)
    p.refuse(
      'beta2_decay',
      'is -Infinity, which makes beta2_t = 1 after the first step (a second moment that never changes): not reproduced; give a finite beta2_decay',
    );
  const [eps1, eps2] = p.pair(
    'eps',
    a.eps,
    (v) => p.numberOrNull('eps[0]', v, (x) => x >= 0, '>= 0, as torch requires'),
    (v) => p.number('eps[1]', v, (x) => x >= 0, '>= 0, as torch requires'),
  );
  const floor = eps1 ?? FLOAT32_EPS;
  if (!(Math.fround(floor * floor) >= F32_MIN_NORMAL) || !Number.isFinite(Math.fround(floor)))
    p.refuse(
      'eps[0]',
      `is ${floor}: torch floors the estimate at eps[0]^2, which in f32 is ${Math.fround(floor * floor)} (0, a denormal or infinite), and a zero gradient then gives 0 / 0; give eps[0] from about 1.1e-19 to 1.8e19, or None`,
    );
  p.f32('eps[1]', eps2, { positive: true, zero: true });
  const d = p.number('d', a.d, (v) => v >= 1, '>= 1, as torch requires');
  const weightDecay = p.number('weight_decay', a.weight_decay, (v) => v >= 0 && Number.isFinite(v), 'finite and >= 0');
  // torch multiplies parameters by 1 - lr * weight_decay (and skips it when weight_decay is 0).
  const decay = weightDecay === 0 ? 0 : p.f32('lr * weight_decay', lr * weightDecay);
  if (scheduled && weightDecay !== 0)
    p.refuse(
      'weight_decay',
      'is not 0 with a schedule: torch then decays by 1 - lr(t) * weight_decay, which this library does not reproduce (its decay follows alpha_t = lr(t) * RMS(X) or nothing); give the decay to a parameter group without a schedule, or use presets.timmBigVision',
    );
  return {
    // min(1e-2, 1/sqrt(t)) is Hugging Face's relative step: the default lr is exactly it.
    ...(scheduled
      ? { relativeStep: false, lr: (t: number) => Math.min(scheduled(t), 1 / Math.sqrt(t)) }
      : lr === 1e-2
        ? { relativeStep: true }
        : { relativeStep: false, lr: (t: number) => Math.min(lr, 1 / Math.sqrt(t)) }),
    eps1Mode: 'floor',
    eps1: floor,
    eps2,
    clipThreshold: d,
    ...decayOptions(exponent),
    weightDecay: decay,
    weightDecayScale: 'none',
    scaleParameter: true,
    factorDims: 'last2',
    minDimSizeToFactor: 0,
  };
}

/**
 * `optax.adafactor(learning_rate=None, min_dim_size_to_factor=128, decay_rate=0.8,
 * decay_offset=0, multiply_by_parameter_scale=True, clipping_threshold=1.0, momentum=None,
 * dtype_momentum=jnp.float32, weight_decay_rate=None, eps=1e-30, factored=True,
 * weight_decay_mask=None)`; dtype_momentum as its name, 'float32', 'bfloat16' or 'float16' (optax's
 * ema: beta1 M in the 16-bit type, the step with M_t before it is cast). `learning_rate=None` is a step of 1; a schedule is called, as optax
 * calls it, with optax's count, t - 1. optax checks none of these; values that make its step
 * meaningless (a negative decay_rate, a clipping threshold <= 0, momentum outside [0, 1)) are
 * refused here.
 */
function optax(args?: OptaxAdafactorArgs): AdafactorOptions {
  const p = new PresetArgs('presets.optax (optax.adafactor)');
  const a = p.withDefaults<OptaxAdafactorArgs>(
    {
      learning_rate: null,
      min_dim_size_to_factor: 128,
      decay_rate: 0.8,
      decay_offset: 0,
      multiply_by_parameter_scale: true,
      clipping_threshold: 1.0,
      momentum: null,
      dtype_momentum: 'float32',
      weight_decay_rate: null,
      eps: 1e-30,
      factored: true,
      weight_decay_mask: null,
    },
    args,
  );
  if (a.weight_decay_mask !== null)
    p.refuse(
      'weight_decay_mask',
      'is not reproduced; put the tensors it masks out in a parameter group with weightDecay: 0',
    );
  if (typeof a.dtype_momentum !== 'string')
    p.refuse('dtype_momentum', `must be a dtype's name such as 'float32', got ${describe(a.dtype_momentum)}`);
  const momentumDtypes: Record<string, 'f32' | 'bf16' | 'f16'> = { float32: 'f32', bfloat16: 'bf16', float16: 'f16' };
  if (!(a.dtype_momentum in momentumDtypes))
    p.refuse(`dtype_momentum '${a.dtype_momentum}'`, "is not reproduced; give 'float32', 'bfloat16' or 'float16'");
  const rate = a.learning_rate;
  let lr: AdafactorOptions['lr'];
  if (rate === null) lr = 1;
  else if (typeof rate === 'function') {
    lr = (t: number) => {
      const value = rate(t - 1);
      if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(Math.fround(value)))
        p.refuse(`learning_rate(${t - 1})`, `returned ${describe(value)}; a schedule must return a finite number >= 0`);
      return value;
    };
  } else
    lr = p.f32(
      'learning_rate',
      p.number('learning_rate', rate, (v) => v >= 0, '>= 0 (or null, or a schedule)'),
    );
  const minDim = p.number('min_dim_size_to_factor', a.min_dim_size_to_factor);
  const exponent = p.number(
    'decay_rate',
    a.decay_rate,
    (v) => v >= 0 && Number.isFinite(v),
    'finite and >= 0 (beta2_t = 1 - t^-decay_rate would be negative)',
  );
  // optax takes any offset; this library counts whole steps from it.
  const offset = p.number(
    'decay_offset',
    a.decay_offset,
    (v) => Number.isSafeInteger(v) && v >= 0,
    'a whole number >= 0 (this library counts whole steps from it)',
  );
  const clip = p.numberOrNull(
    'clipping_threshold',
    a.clipping_threshold,
    (v) => v > 0,
    '> 0 (0 or less divides by 0 or never clips)',
  );
  const momentum = p.numberOrNull('momentum', a.momentum, (v) => v >= 0 && Math.fround(v) < 1, 'in [0, 1)');
  const weightDecay = p.numberOrNull('weight_decay_rate', a.weight_decay_rate, (v) => v >= 0, '>= 0');
  const eps = p.f32(
    'eps',
    p.number('eps', a.eps, (v) => v > 0, '> 0 (eps 0 gives 0 / 0 for a zero gradient)'),
    { positive: true },
  );
  const factored = p.boolean('factored', a.factored);
  return {
    relativeStep: false,
    lr,
    eps1Mode: 'add',
    eps1: eps,
    eps2: 1e-3,
    clipThreshold: clip ?? Infinity,
    ...decayOptions(-exponent, offset),
    ...(momentum === null
      ? {}
      : { beta1: momentum, momentumDtype: momentumDtypes[a.dtype_momentum], momentumArithmetic: 'ema' }),
    weightDecay: weightDecay === null ? 0 : p.f32('weight_decay_rate', weightDecay),
    weightDecayScale: 'none',
    scaleParameter: p.boolean('multiply_by_parameter_scale', a.multiply_by_parameter_scale),
    factorDims: 'largest2',
    // optax factors when the second largest dim is >= min_dim_size_to_factor; factored=False never does.
    minDimSizeToFactor: !factored || minDim === Infinity ? Number.MAX_SAFE_INTEGER : Math.max(0, Math.ceil(minDim)),
  };
}

/**
 * Hugging Face transformers' `Adafactor(params, lr=None, eps=(1e-30, 1e-3), clip_threshold=1.0,
 * decay_rate=-0.8, beta1=None, weight_decay=0.0, scale_parameter=True, relative_step=True,
 * warmup_init=False)`: this library's defaults, under that library's names, with its own checks
 * (an lr only without relative_step, warmup_init only with it). A schedule takes lr's place
 * from step 1 on (only without relative_step: with it, Hugging Face overwrites the group's lr).
 */
function huggingFace(args?: HuggingFaceAdafactorArgs, schedule?: (t: number) => number): AdafactorOptions {
  const p = new PresetArgs('presets.huggingFace (transformers Adafactor)');
  const scheduled = checkedSchedule(p, schedule);
  const a = p.withDefaults<HuggingFaceAdafactorArgs>(
    {
      lr: null,
      eps: [1e-30, 1e-3],
      clip_threshold: 1.0,
      decay_rate: -0.8,
      beta1: null,
      weight_decay: 0.0,
      scale_parameter: true,
      relative_step: true,
      warmup_init: false,
    },
    args,
  );
  const relativeStep = p.boolean('relative_step', a.relative_step);
  const warmupInit = p.boolean('warmup_init', a.warmup_init);
  const lr = p.numberOrNull('lr', a.lr, (v) => v >= 0, '>= 0');
  if (lr !== null && relativeStep)
    p.refuse(
      'lr',
      "is given while relative_step is True, which Hugging Face refuses too ('Cannot combine manual `lr` and `relative_step=True` options'): pass relative_step=False",
    );
  if (lr === null && !relativeStep)
    p.refuse('lr', 'is None while relative_step is False: there is no step size; pass lr');
  if (scheduled && relativeStep)
    p.refuse(
      'schedule',
      'is given with relative_step=True: Hugging Face then computes its own step size and overwrites the group lr a scheduler sets; pass relative_step=False and lr',
    );
  if (warmupInit && !relativeStep)
    p.refuse(
      'warmup_init',
      "is True while relative_step is False, which Hugging Face refuses too ('`warmup_init=True` requires `relative_step=True`')",
    );
  const [eps1, eps2] = p.pair(
    'eps',
    a.eps,
    (v) => p.number('eps[0]', v, (x) => x > 0, '> 0 (eps[0] 0 gives 0 / 0 for a zero gradient)'),
    (v) => p.number('eps[1]', v, (x) => x >= 0, '>= 0'),
  );
  const exponent = p.number(
    'decay_rate',
    a.decay_rate,
    (v) => v <= 0 && Number.isFinite(v),
    'finite and <= 0 (beta2_t = 1 - t^decay_rate would be negative)',
  );
  const beta1 = p.numberOrNull('beta1', a.beta1, (v) => v >= 0 && Math.fround(v) < 1, 'in [0, 1)');
  return {
    ...(lr === null ? {} : { lr: scheduled ?? p.f32('lr', lr) }),
    eps1: p.f32('eps[0]', eps1, { positive: true }),
    eps2: p.f32('eps[1]', eps2, { positive: true, zero: true }),
    clipThreshold: p.number(
      'clip_threshold',
      a.clip_threshold,
      (v) => v > 0,
      '> 0 (0 or less divides by 0 or never clips)',
    ),
    ...decayOptions(exponent),
    ...(beta1 === null ? {} : { beta1 }),
    weightDecay: p.f32(
      'weight_decay',
      p.number('weight_decay', a.weight_decay, (v) => v >= 0, '>= 0'),
    ),
    scaleParameter: p.boolean('scale_parameter', a.scale_parameter),
    relativeStep,
    warmupInit,
  };
}

export const presets = { torch, optax, huggingFace, timm, timmBigVision };
