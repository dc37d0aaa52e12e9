/**
 * Presets for timm's two Adafactors (timm 1.0): `timm.optim.Adafactor` (Hugging Face's algorithm
 * with timm's factoring rule and caution) and `timm.optim.AdafactorBigVision` (big_vision's). Each
 * takes timm's keyword arguments, in timm's names and with timm's defaults, and an optional
 * `schedule(t)`: the lr a torch scheduler sets on the group before step t = 1, 2, ..., while the
 * constructor's `lr` stays what timm keeps as the maximum (corrected weight decay's max_lr).
 */
import type { AdafactorOptions } from './options.js';
import { PresetArgs, checkedSchedule, describe } from './preset_args.js';

/** Arguments of `timm.optim.Adafactor`. */
export interface TimmAdafactorArgs {
  lr?: number | null;
  eps?: number;
  eps_scale?: number;
  clip_threshold?: number;
  decay_rate?: number;
  betas?: [number, number] | null;
  weight_decay?: number;
  scale_parameter?: boolean;
  warmup_init?: boolean;
  min_dim_size_to_factor?: number;
  caution?: boolean;
}

/** Arguments of `timm.optim.AdafactorBigVision`. */
export interface TimmBigVisionArgs {
  lr?: number;
  min_dim_size_to_factor?: number;
  decay_rate?: number;
  decay_offset?: number;
  beta2_cap?: number;
  momentum?: number | null;
  momentum_dtype?: 'bfloat16' | 'float16' | 'float32';
  eps?: number | null;
  weight_decay?: number;
  clipping_threshold?: number | null;
  unscaled_wd?: boolean;
  caution?: boolean;
  corrected_weight_decay?: boolean;
  foreach?: boolean | null;
}

/**
 * `timm.optim.Adafactor(params, lr=None, eps=1e-30, eps_scale=1e-3, clip_threshold=1.0,
 * decay_rate=-0.8, betas=None, weight_decay=0.0, scale_parameter=True, warmup_init=False,
 * min_dim_size_to_factor=16, caution=False)`. A falsy lr (None or 0) means the relative step, and
 * then timm, like Hugging Face, computes its own step size (a schedule would be overwritten: it is
 * refused). Unlike Hugging Face, timm scales by RMS(X) only with the relative step. It factors
 * dims 0 and 1 of a tensor of rank > 2 when both exceed min_dim_size_to_factor, else the last two
 * when both exceed it ('conv'); caution acts only with betas.
 */
export function timm(args?: TimmAdafactorArgs, schedule?: (t: number) => number): AdafactorOptions {
  const p = new PresetArgs('presets.timm (timm.optim.Adafactor)');
  const a = p.withDefaults<TimmAdafactorArgs>(
    {
      lr: null,
      eps: 1e-30,
      eps_scale: 1e-3,
      clip_threshold: 1.0,
      decay_rate: -0.8,
      betas: null,
      weight_decay: 0.0,
      scale_parameter: true,
      warmup_init: false,
      min_dim_size_to_factor: 16,
      caution: false,
    },
    args,
  );
  const lr = p.numberOrNull('lr', a.lr, (v) => v >= 0, '>= 0');
  const relativeStep = !lr; // timm: relative_step = not lr
  const warmupInit = p.boolean('warmup_init', a.warmup_init);
  if (warmupInit && !relativeStep)
    p.refuse('warmup_init', "is True with an lr, which timm refuses too ('warmup_init requires relative_step=True')");
  const scheduled = checkedSchedule(p, schedule);
  if (scheduled && relativeStep)
    p.refuse(
      'schedule',
      'is given without an lr: timm then computes its own relative step and overwrites the group lr a scheduler sets; pass lr',
    );
  let beta1: number | null = null;
  if (a.betas !== null) {
    if (!Array.isArray(a.betas) || a.betas.length !== 2)
      p.refuse('betas', `must be a pair (beta1, beta2) or None, got ${describe(a.betas)}`);
    beta1 = p.number('betas[0]', a.betas[0], (v) => v >= 0 && Math.fround(v) < 1, 'in [0, 1)');
  }
  const minDim = p.number('min_dim_size_to_factor', a.min_dim_size_to_factor);
  const caution = p.boolean('caution', a.caution);
  return {
    ...(relativeStep ? { relativeStep: true, warmupInit } : { relativeStep: false, lr: scheduled ?? p.f32('lr', lr!) }),
    eps1Mode: 'add',
    eps1: p.f32(
      'eps',
      p.number('eps', a.eps, (v) => v > 0, '> 0 (0 gives 0 / 0 for a zero gradient)'),
      { positive: true },
    ),
    eps2: p.f32(
      'eps_scale',
      p.number('eps_scale', a.eps_scale, (v) => v >= 0, '>= 0'),
      { positive: true, zero: true },
    ),
    clipThreshold: p.number(
      'clip_threshold',
      a.clip_threshold,
      (v) => v > 0,
      '> 0 (0 or less divides by 0 or never clips)',
    ),
    decayRate: p.number('decay_rate', a.decay_rate, (v) => v < 0 && Number.isFinite(v), 'finite and < 0'),
    ...(beta1 === null ? {} : { beta1, caution }),
    weightDecay: p.f32(
      'weight_decay',
      p.number('weight_decay', a.weight_decay, (v) => v >= 0, '>= 0'),
    ),
    weightDecayScale: 'alpha',
    // timm applies scale_parameter only inside its relative step.
    scaleParameter: relativeStep && p.boolean('scale_parameter', a.scale_parameter),
    factorDims: 'conv',
    // timm factors dims that exceed the size; this library's rule takes those at least its own.
    minDimSizeToFactor: minDim === Infinity ? Number.MAX_SAFE_INTEGER : Math.max(0, Math.floor(minDim) + 1),
  };
}

/**
 * `timm.optim.AdafactorBigVision(params, lr=1.0, min_dim_size_to_factor=16, decay_rate=0.8,
 * decay_offset=0, beta2_cap=0.999, momentum=0.9, momentum_dtype=torch.bfloat16, eps=None,
 * weight_decay=0.0, clipping_threshold=None, unscaled_wd=False, caution=False,
 * corrected_weight_decay=False, foreach=False)`: beta2_t = min(beta2_cap, 1 - t^-decay_rate), the
 * two largest dims factored when the smaller is at least min_dim_size_to_factor, no parameter
 * scale, M kept in momentum_dtype (torch's lerp_) as an average of the update before lr, and
 * weight decay times lr (unscaled_wd: not), times lr / max_lr when corrected. eps None is timm's
 * choice for f32 gradients, 1e-30 (for f16 gradients timm takes 1e-7: pass it).
 */
export function timmBigVision(args?: TimmBigVisionArgs, schedule?: (t: number) => number): AdafactorOptions {
  const p = new PresetArgs('presets.timmBigVision (timm.optim.AdafactorBigVision)');
  const a = p.withDefaults<TimmBigVisionArgs>(
    {
      lr: 1.0,
      min_dim_size_to_factor: 16,
      decay_rate: 0.8,
      decay_offset: 0,
      beta2_cap: 0.999,
      momentum: 0.9,
      momentum_dtype: 'bfloat16',
      eps: null,
      weight_decay: 0.0,
      clipping_threshold: null,
      unscaled_wd: false,
      caution: false,
      corrected_weight_decay: false,
      foreach: false,
    },
    args,
  );
  if (a.foreach !== null && p.boolean('foreach', a.foreach))
    p.refuse(
      'foreach=True',
      "is not implemented in timm (it asserts 'multi-tensor fn (foreach=True) not implemented yet'); leave it False",
    );
  const lr = p.f32(
    'lr',
    p.number('lr', a.lr, (v) => v >= 0, '>= 0, as timm requires'),
  );
  if (p.number('decay_offset', a.decay_offset) !== 0)
    p.refuse(
      'decay_offset',
      "is not 0: timm takes decay_offset but never uses it, so it is not reproduced here; leave it 0 (this library's own decayOffset option shifts the schedule)",
    );
  if (a.clipping_threshold !== null)
    p.refuse(
      'clipping_threshold',
      "is not None: timm divides the update by min(1, RMS(U) * clipping_threshold), which enlarges every update whose RMS is below 1 / clipping_threshold instead of clipping large ones (big_vision divides by max(1, RMS(U) / clipping_threshold)); it is not reproduced: leave it None, or use this library's clipThreshold for big_vision's clipping",
    );
  const dtypes = { bfloat16: 'bf16', float16: 'f16', float32: 'f32' } as const;
  const dtype = a.momentum_dtype as unknown;
  if (typeof dtype !== 'string' || !(dtype in dtypes))
    p.refuse('momentum_dtype', `must be 'bfloat16', 'float16' or 'float32', got ${describe(dtype)}`);
  const momentum = p.numberOrNull('momentum', a.momentum, (v) => v >= 0 && Math.fround(v) < 1, 'in [0, 1)');
  const cap = p.number('beta2_cap', a.beta2_cap, (v) => v > 0, '> 0');
  const exponent = p.number('decay_rate', a.decay_rate, (v) => v > 0 && Number.isFinite(v), 'finite and > 0');
  const eps = a.eps === null ? 1e-30 : p.number('eps', a.eps, (v) => v > 0, '> 0 (or None)');
  const weightDecay = p.f32(
    'weight_decay',
    p.number('weight_decay', a.weight_decay, (v) => v >= 0, '>= 0, as timm requires'),
  );
  const corrected = p.boolean('corrected_weight_decay', a.corrected_weight_decay);
  if (corrected && weightDecay !== 0 && lr === 0)
    p.refuse('lr', 'is 0 with corrected_weight_decay: timm divides by it (max_lr); give lr > 0');
  const minDim = p.number('min_dim_size_to_factor', a.min_dim_size_to_factor);
  const caution = p.boolean('caution', a.caution);
  return {
    relativeStep: false,
    lr: checkedSchedule(p, schedule) ?? lr,
    scaleParameter: false,
    eps1Mode: 'add',
    eps1: p.f32('eps', eps, { positive: true }),
    clipThreshold: Infinity,
    decayRate: -exponent,
    // A cap of 1 or more never binds: min(cap, beta2_t) is beta2_t < 1.
    ...(cap < 1 ? { beta2Cap: cap } : {}),
    ...(momentum === null
      ? {}
      : {
          beta1: momentum,
          momentumBeforeLr: true,
          momentumDtype: dtypes[dtype as keyof typeof dtypes],
          momentumArithmetic: 'lerp',
          caution,
        }),
    weightDecay,
    weightDecayScale: p.boolean('unscaled_wd', a.unscaled_wd) ? 'none' : 'alpha',
    ...(corrected && weightDecay !== 0 ? { weightDecayMaxLr: lr } : {}),
    factorDims: 'largest2',
    minDimSizeToFactor: minDim === Infinity ? Number.MAX_SAFE_INTEGER : Math.max(0, Math.ceil(minDim)),
  };
}
