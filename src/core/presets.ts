/**
 * Presets: each takes the arguments of another library's Adafactor, in that library's own names
 * and with its own defaults, as its users write them (snake_case; `null` where Python has None),
 * and returns the options with which this library steps exactly as that one does. An argument
 * that cannot be reproduced is refused with an Error that says what to do instead.
 *
 *   new Adafactor(device, params, presets.torch({ lr: 0.01, weight_decay: 0.1 }))
 *   new Adafactor(device, params, presets.optax({ learning_rate: 1e-3, momentum: 0.9 }))
 *   new Adafactor(device, params, presets.huggingFace({ lr: 1e-3, relative_step: false, scale_parameter: false }))
 */
import type { AdafactorOptions } from './options.js';

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

/** The given arguments over the library's defaults; refuses names the library does not have. */
function withDefaults<T extends object>(library: string, defaults: Required<T>, args: T | undefined): Required<T> {
  if (args === undefined) return { ...defaults };
  if (typeof args !== 'object' || args === null || Array.isArray(args))
    throw new Error(`${library}: arguments must be an object of its keyword arguments`);
  for (const key of Object.keys(args)) {
    if (!(key in defaults))
      throw new Error(`${library}: unknown argument '${key}' (it takes ${Object.keys(defaults).join(', ')})`);
  }
  const given = Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined));
  return { ...defaults, ...given } as Required<T>;
}

function pair(library: string, name: string, value: unknown): [unknown, unknown] {
  if (!Array.isArray(value) || value.length !== 2)
    throw new Error(`${library}: ${name} must be a pair [eps1, eps2], got ${JSON.stringify(value)}`);
  return [value[0], value[1]];
}

/**
 * `torch.optim.Adafactor(params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0,
 * weight_decay=0.0, foreach=None, maximize=False)`: rho_t = min(lr, 1/sqrt(t)); eps1 floors
 * mean(R) and eps1^2 the estimate (None: float32's machine epsilon, 2^-23, as PyTorch uses for
 * f32 parameters); weight decay multiplies X by 1 - lr * weight_decay.
 */
function torch(args?: TorchAdafactorArgs): AdafactorOptions {
  const library = 'presets.torch (torch.optim.Adafactor)';
  const a = withDefaults<TorchAdafactorArgs>(
    library,
    { lr: 1e-2, beta2_decay: -0.8, eps: [null, 1e-3], d: 1.0, weight_decay: 0.0, foreach: null, maximize: false },
    args,
  );
  if (a.maximize !== false)
    throw new Error(`${library}: maximize=True is not reproduced; negate your gradients instead`);
  if (a.foreach !== null && a.foreach !== false)
    throw new Error(`${library}: foreach selects PyTorch's multi-tensor kernels and means nothing here; leave it out`);
  if (typeof a.lr !== 'number' || !(a.lr >= 0))
    throw new Error(`${library}: lr must be a number >= 0, got ${String(a.lr)}`);
  const [eps1, eps2] = pair(library, 'eps', a.eps);
  const lr = a.lr;
  return {
    // min(1e-2, 1/sqrt(t)) is Hugging Face's relative step: the default lr is exactly it.
    ...(lr === 1e-2
      ? { relativeStep: true }
      : { relativeStep: false, lr: (t: number) => Math.min(lr, 1 / Math.sqrt(t)) }),
    eps1Mode: 'floor',
    eps1: eps1 === null ? FLOAT32_EPS : (eps1 as number),
    eps2: eps2 as number,
    clipThreshold: a.d,
    decayRate: a.beta2_decay,
    weightDecay: lr * a.weight_decay,
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
 * weight_decay_mask=None)`. `learning_rate=None` is a step of 1; a schedule is called, as optax
 * calls it, with optax's count, t - 1.
 */
function optax(args?: OptaxAdafactorArgs): AdafactorOptions {
  const library = 'presets.optax (optax.adafactor)';
  const a = withDefaults<OptaxAdafactorArgs>(
    library,
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
  if (a.weight_decay_mask !== null) {
    throw new Error(
      `${library}: weight_decay_mask is not reproduced; put the tensors it masks out in a parameter group with weightDecay: 0`,
    );
  }
  if (a.dtype_momentum !== 'float32')
    throw new Error(
      `${library}: dtype_momentum '${a.dtype_momentum}' is not reproduced; the first moment is kept in float32`,
    );
  if (typeof a.decay_rate !== 'number')
    throw new Error(`${library}: decay_rate must be a number, got ${String(a.decay_rate)}`);
  const rate = a.learning_rate;
  const lr = rate === null ? 1 : typeof rate === 'function' ? (t: number) => rate(t - 1) : rate;
  return {
    relativeStep: false,
    lr,
    eps1Mode: 'add',
    eps1: a.eps,
    eps2: 1e-3,
    clipThreshold: a.clipping_threshold ?? Infinity,
    decayRate: -a.decay_rate,
    decayOffset: a.decay_offset,
    ...(a.momentum === null ? {} : { beta1: a.momentum }),
    weightDecay: a.weight_decay_rate ?? 0,
    weightDecayScale: 'none',
    scaleParameter: a.multiply_by_parameter_scale,
    factorDims: 'largest2',
    // factored=False keeps a full second moment for every tensor.
    minDimSizeToFactor: a.factored ? a.min_dim_size_to_factor : Number.MAX_SAFE_INTEGER,
  };
}

/**
 * Hugging Face transformers' `Adafactor(params, lr=None, eps=(1e-30, 1e-3), clip_threshold=1.0,
 * decay_rate=-0.8, beta1=None, weight_decay=0.0, scale_parameter=True, relative_step=True,
 * warmup_init=False)`: this library's defaults, under that library's names.
 */
function huggingFace(args?: HuggingFaceAdafactorArgs): AdafactorOptions {
  const library = 'presets.huggingFace (transformers Adafactor)';
  const a = withDefaults<HuggingFaceAdafactorArgs>(
    library,
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
  const [eps1, eps2] = pair(library, 'eps', a.eps);
  return {
    ...(a.lr === null ? {} : { lr: a.lr }),
    eps1: eps1 as number,
    eps2: eps2 as number,
    clipThreshold: a.clip_threshold,
    decayRate: a.decay_rate,
    ...(a.beta1 === null ? {} : { beta1: a.beta1 }),
    weightDecay: a.weight_decay,
    scaleParameter: a.scale_parameter,
    relativeStep: a.relative_step,
    warmupInit: a.warmup_init,
  };
}

export const presets = { torch, optax, huggingFace };
