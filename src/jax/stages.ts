/**
 * The jax-js path: one Adafactor step of one tensor with jax-js operations, so that `jit` fuses
 * it into jax-js's own kernels on every backend; the same stages, with the same names and in the
 * same order, as the float64 reference (src/core/stages.ts) and the tfjs ops path:
 *
 *   0. prepareGradients (gradScale, maxGradNorm: over every tensor of the step)
 *   1. secondMoment  2. normalize  3. clip  4. scale  5. momentum (5b. caution)  6. weightDecay  7. apply
 *
 * jax-js arrays are reference counted and every function takes ownership of the arrays passed to
 * it: each stage consumes its arguments, and an array used twice is passed as `a.ref` first.
 */
import { type Array, numpy as np } from '@jax-js/jax';
import { HALF_FORMATS, roundTo } from '../core/half.js';
import type { ResolvedOptions } from '../core/options.js';
import type { Geometry } from '../core/shape.js';
import type { Slot } from '../state/tensors.js';

/** A tensor's state by slot (old values going in, new values coming out). */
export type SlotArrays = Partial<Record<Slot, Array>>;

const rms = (a: Array) => np.sqrt(np.mean(np.square(a)));
const rsqrt = (a: Array) => np.reciprocal(np.sqrt(a));

/**
 * Stage 0, over every tensor of the step: G / gradScale, and with maxGradNorm times
 * maxGradNorm / ||G|| where the norm over all of them is at least maxGradNorm (optax's
 * clip_by_global_norm; a norm that overflows f32 makes them NaN). Returns the gradients and, with
 * maxGradNorm, the norm.
 */
export function prepareGradients(
  grads: Array[],
  o: ResolvedOptions,
  gradScale: number,
): { grads: Array[]; gradNorm?: Array } {
  const scaled = grads.map((g) => (gradScale === 1 ? g.astype(np.float32) : g.astype(np.float32).div(gradScale)));
  if (o.maxGradNorm === undefined || scaled.length === 0) return { grads: scaled };
  const norm = np.sqrt(scaled.map((g) => np.sum(np.square(g.ref))).reduce((a, b) => a.add(b)));
  // A sum of squares that overflows f32 makes the gradients NaN (skipped with skipNonFinite), as on the GPU.
  const clipping = np.where(np.less(norm.ref, o.maxGradNorm), 1, np.divide(o.maxGradNorm, norm.ref));
  const factor = np.where(np.isfinite(norm.ref), clipping, NaN);
  const clipped = scaled.map((g) => g.mul(factor.ref));
  factor.dispose();
  return { grads: clipped, gradNorm: norm };
}

/** Q = G^2 + eps1 (G^2 with eps1Mode 'floor'). */
function squares(g: Array, o: ResolvedOptions): Array {
  return o.eps1Mode === 'floor' ? np.square(g) : np.square(g).add(o.eps1);
}

/** Stage 1, second moment: R, C (factored) or V take an EMA of Q with decay beta2_t and rate 1 - beta2_t. */
export function secondMoment(q: Array, geom: Geometry, old: SlotArrays, decay: Array, rate: Array): SlotArrays {
  if (!geom.factored) return { full: old.full!.mul(decay).add(q.mul(rate)) };
  return {
    row: old.row!.mul(decay.ref).add(np.mean(q.ref, geom.colDim).mul(rate.ref)),
    col: old.col!.mul(decay).add(np.mean(q, geom.rowDim).mul(rate)),
  };
}

/**
 * Stage 2, normalize: U = G / sqrt(V), or G * rsqrt(R / mean(R)) * rsqrt(C); with eps1Mode
 * 'floor' (PyTorch) G / sqrt(max(V, eps1^2)), or G / sqrt(max(R C / max(mean(R), eps1), eps1^2)).
 * Reads the state through references: `state` stays the caller's.
 */
export function normalize(g: Array, geom: Geometry, state: SlotArrays, o: ResolvedOptions): Array {
  const floored = o.eps1Mode === 'floor';
  if (!geom.factored) {
    const v = state.full!.ref;
    return g.mul(rsqrt(floored ? np.maximum(v, o.eps1 * o.eps1) : v));
  }
  const row = state.row!.ref;
  const rowMean = np.mean(row.ref, geom.rowDim, { keepdims: true });
  if (floored) {
    const estimate = np
      .expandDims(row.div(np.maximum(rowMean, o.eps1)), geom.colDim)
      .mul(np.expandDims(state.col!.ref, geom.rowDim));
    return g.mul(rsqrt(np.maximum(estimate, o.eps1 * o.eps1)));
  }
  const rowFactor = rsqrt(row.div(rowMean));
  return g.mul(np.expandDims(rowFactor, geom.colDim)).mul(np.expandDims(rsqrt(state.col!.ref), geom.rowDim));
}

/** Stage 3, clip: U / max(1, RMS(U) / d), NaN staying NaN as with torch's clamp; with RMS(U) before clipping and the divisor. */
export function clip(update: Array, o: ResolvedOptions): { clipped: Array; updateRms: Array; clipDivisor: Array } {
  const updateRms = rms(update.ref);
  const ratio = updateRms.ref.div(o.clipThreshold);
  const clipDivisor = np.where(np.isnan(ratio.ref), ratio.ref, np.maximum(ratio, 1));
  return { clipped: update.div(clipDivisor.ref), updateRms, clipDivisor };
}

/** alpha_t = rho_t * max(eps2, RMS(X_{t-1})) (Python's max, as Hugging Face: eps2 unless RMS > eps2), or rho_t without scaleParameter. */
export function stepSizeOf(x: Array, o: ResolvedOptions, rho: Array): { paramRms: Array; alpha: Array } {
  const paramRms = rms(x);
  if (!o.scaleParameter) return { paramRms, alpha: rho };
  const scale = np.where(np.greater(paramRms.ref, o.eps2), paramRms.ref, o.eps2);
  return { paramRms, alpha: rho.mul(scale) };
}

/** Stage 4, scale: U = alpha_t U. */
export function scale(update: Array, alpha: Array): Array {
  return update.mul(alpha);
}

/**
 * Stage 5, momentum: with beta1, M_t = beta1 M + (1 - beta1) U; `next` is the update and `stored`
 * the new M, which differ for a 16-bit M (see the reference's stage, src/core/stages.ts).
 */
export function momentum(update: Array, m: Array, o: ResolvedOptions): { next: Array; stored: Array } {
  const round = (x: Array) => roundToDtype(x, o.momentumDtype);
  const weight = 1 - o.beta1!;
  if (o.momentumArithmetic === 'lerp') {
    const target = round(update);
    const lerped = weight < 0.5 ? m.ref.add(target.sub(m).mul(weight)) : target.ref.sub(target.sub(m).mul(1 - weight));
    const stored = round(lerped);
    return { next: stored.ref, stored };
  }
  // As jax multiplies a 16-bit array by a Python float: the float is cast to the array's type first.
  const decay = o.momentumDtype === 'f32' ? o.beta1! : roundTo(o.momentumDtype, o.beta1!);
  const next = round(m.mul(decay)).add(update.mul(weight));
  return { next: next.ref, stored: round(next) };
}

/**
 * Stage 5b, caution (with `caution`): M_t kept only where M_t G > 0, times 1 / max(the fraction
 * kept over the tensor, 1e-3).
 */
export function caution(update: Array, g: Array, o: ResolvedOptions): Array {
  if (!o.caution) {
    g.dispose();
    return update;
  }
  const mask = np.greater(update.ref.mul(g), 0).astype(np.float32);
  return update.mul(mask.ref.div(np.maximum(np.mean(mask), 1e-3)));
}

/**
 * `x` rounded to the nearest value of a 16-bit float, ties to even (rint), in f32 arrays: jax-js
 * has no bfloat16, and an f32 M rounded keeps one code for both formats. With x = f 2^e
 * (frexp: 0.5 <= |f| < 1), the format's ulp at x is 2^u, u = max(e - 1, its smallest normal
 * exponent) - its mantissa bits: x is rint(x 2^-u) 2^u, or infinity past its largest finite
 * value. f32: x itself.
 */
export function roundToDtype(x: Array, dtype: ResolvedOptions['momentumDtype']): Array {
  if (dtype === 'f32') return x;
  const { mantissaBits, minExponent, largest } = HALF_FORMATS[dtype];
  const [fraction, exponent] = np.frexp(x.ref);
  fraction.dispose();
  // Clamped before anything is subtracted: wasm's frexp gives -2^31 for an f32 subnormal.
  const u = np.maximum(exponent, minExponent + 1).sub(1 + mantissaBits);
  const rounded = timesPowerOfTwo(np.rint(timesPowerOfTwo(x.ref, np.negative(u.ref))), u);
  const finite = np.where(np.greater(np.absolute(rounded.ref), largest), np.sign(x.ref).mul(Infinity), rounded);
  // Zeros, infinities and NaN stay as they are.
  return np.where(np.logicalAnd(np.greater(np.absolute(x.ref), 0), np.isfinite(x.ref)), finite, x);
}

/**
 * x 2^n exactly for int32 n in [-254, 254], as two factors 2^a 2^b built from their f32 bits
 * (2^k is the float with exponent field k + 127): each factor stays a normal float.
 */
function timesPowerOfTwo(x: Array, n: Array): Array {
  const a = np.floor(n.ref.astype(np.float32).mul(0.5)).astype(np.int32);
  const b = n.sub(a.ref);
  const power = (k: Array) =>
    k
      .add(127)
      .mul(2 ** 23)
      .view(np.float32);
  return x.mul(power(a)).mul(power(b));
}

/**
 * Stages 6 and 7, weight decay and apply, as the update optax adds to X: -(decay X + U), so that
 * X + it = X - decay X - U. The decay is weightDecay * alpha_t (or weightDecay with
 * weightDecayScale 'none'), times alpha_t / weightDecayMaxLr with the corrected decay.
 */
export function applied(x: Array, update: Array, alpha: Array, o: ResolvedOptions): Array {
  if (o.weightDecay === 0) {
    x.dispose();
    alpha.dispose();
    return np.negative(update);
  }
  let decay: Array | number = o.weightDecayScale === 'alpha' ? alpha.ref.mul(o.weightDecay) : o.weightDecay;
  if (o.weightDecayMaxLr !== undefined) decay = alpha.ref.div(o.weightDecayMaxLr).mul(decay);
  alpha.dispose();
  return np.negative(update.add(x.mul(decay)));
}

/** What one step computes for one tensor. */
export interface NextValues {
  /** The update optax's applyUpdates adds to X. */
  update: Array;
  state: SlotArrays;
  /** What the step did, for stats(): scalars, kept apart (jax-js 0.1.25's jit miscomputes np.stack of a fullLike scalar). */
  stats: StatArrays;
}

/** RMS(X_{t-1}), alpha_t, RMS(U) before clipping and the clip divisor, as f32 scalars. */
export type StatArrays = { paramRms: Array; stepSize: Array; updateRms: Array; clipDivisor: Array };

/** The step's scalars as f32 arrays: rho_t, beta2_t and 1 - beta2_t. */
export interface StepScalars {
  rho: Array;
  decay: Array;
  rate: Array;
}

/**
 * One step of one tensor from X, G (f32, prepared) and its old state; consumes `x`, `g` and
 * `old`, and reads `scalars` through references. With skipNonFinite, also whether everything
 * the step computed is finite in f32, as the GPU decides: G, the sums of Q over rows and columns
 * (V's Q for a vector), the sums of X^2 and U^2, alpha_t, the new state and the update.
 */
export function nextValues(
  x: Array,
  g: Array,
  geom: Geometry,
  old: SlotArrays,
  o: ResolvedOptions,
  scalars: StepScalars,
): NextValues & { finite?: Array } {
  const checked: Array[] = [];
  // Consumes `a`: pass a reference to keep it.
  const check = (a: Array) => checked.push(np.all(np.isfinite(a)));
  const { paramRms, alpha } = stepSizeOf(x.ref, o, scalars.rho.ref);
  if (o.skipNonFinite) {
    check(g.ref);
    check(np.sum(np.square(x.ref)));
    check(alpha.ref);
  }
  const { momentum: oldMomentum, ...oldMoments } = old;
  const q = squares(g.ref, o);
  if (o.skipNonFinite) {
    // Sums, not means: the sums are what overflow f32 on the GPU.
    const sums = geom.factored ? [np.sum(q.ref, geom.colDim), np.sum(q.ref, geom.rowDim)] : [q.ref];
    sums.forEach(check);
  }
  const state = secondMoment(q, geom, oldMoments, scalars.decay.ref, scalars.rate.ref);
  const normalized = normalize(g.ref, geom, state, o);
  if (o.skipNonFinite) check(np.sum(np.square(normalized.ref)));
  const { clipped, updateRms, clipDivisor } = clip(normalized, o);
  const stats = { paramRms, stepSize: alpha.ref, updateRms, clipDivisor };
  let update = o.momentumBeforeLr ? clipped : scale(clipped, alpha.ref);
  if (oldMomentum) {
    const averaged = momentum(update, oldMomentum, o);
    update = caution(averaged.next, g, o);
    state.momentum = averaged.stored;
  } else {
    g.dispose();
  }
  if (o.momentumBeforeLr) update = scale(update, alpha.ref);
  const result = { update: applied(x, update, alpha, o), state, stats };
  if (!o.skipNonFinite) return result;
  [result.update, ...Object.values(state)].forEach((value) => check(value.ref));
  return { ...result, finite: checked.reduce((all, f) => np.logicalAnd(all, f)) };
}
