/**
 * The stages of one Adafactor step of one tensor, in float64 (Shazeer & Stern 2018, Algorithms 4
 * and 5, with Hugging Face transformers' choices). Each stage has one job and the same name in
 * the tfjs ops path (src/tfjs/stages.ts); docs/internals.md maps each to the GPU passes that
 * compute it. In order:
 *
 *   1. secondMoment  R, C (factored) or V take an EMA of Q = G^2 + eps1
 *   2. normalize     U = G / sqrt(estimate of E[G^2])
 *   3. clip          U = U / max(1, RMS(U) / d)
 *   4. scale         U = alpha_t U, alpha_t = rho_t max(eps2, RMS(X_{t-1}))
 *   5. momentum      M = beta1 M + (1 - beta1) U; U = M        (with beta1)
 *   6. weightDecay   X = X - weightDecay alpha_t X              (or weightDecay X)
 *   7. apply         X = X - U
 *
 * With momentumBeforeLr, stage 4 follows stage 5: M averages the clipped update, U = alpha_t M.
 */
import { roundTo } from './half.js';
import type { ResolvedOptions } from './options.js';
import { beta2, oneMinusBeta2 } from './schedules.js';
import { type Geometry, elementIndex } from './shape.js';

/** Optimizer state of one tensor, with Hugging Face's names in the comments. */
export interface ReferenceState {
  /** exp_avg_sq_row: R, shape [...batch, rows] (factored only). */
  row?: Float64Array;
  /** exp_avg_sq_col: C, shape [...batch, cols] (factored only). */
  col?: Float64Array;
  /** exp_avg_sq: V, the tensor's shape (unfactored only). */
  full?: Float64Array;
  /** exp_avg: M, the tensor's shape (with beta1 only). */
  momentum?: Float64Array;
}

/** RMS(A) = sqrt(mean(A^2)). */
export function rms(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  return values.length === 0 ? 0 : Math.sqrt(sum / values.length);
}

/** Stage 1, second moment: R, C (factored) or V (unfactored) take an EMA of Q = G^2 + eps1 (G^2 with eps1Mode 'floor'). */
export function secondMoment(
  grad: ArrayLike<number>,
  geom: Geometry,
  state: ReferenceState,
  options: ResolvedOptions,
  step: number,
): void {
  const decay = beta2(options, step);
  const rate = oneMinusBeta2(options, step);
  const added = options.eps1Mode === 'add' ? options.eps1 : 0;
  const q = (i: number) => grad[i] * grad[i] + added;
  if (!geom.factored) {
    const v = state.full as Float64Array;
    for (let i = 0; i < geom.numel; i++) v[i] = decay * v[i] + rate * q(i);
    return;
  }
  const { batch, rows, cols } = geom;
  const row = state.row as Float64Array;
  const col = state.col as Float64Array;
  for (let b = 0; b < batch; b++) {
    const rowSums = new Float64Array(rows);
    const colSums = new Float64Array(cols);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const value = q(elementIndex(geom, b, i, j));
        rowSums[i] += value;
        colSums[j] += value;
      }
    }
    for (let i = 0; i < rows; i++) row[b * rows + i] = decay * row[b * rows + i] + rate * (rowSums[i] / cols);
    for (let j = 0; j < cols; j++) col[b * cols + j] = decay * col[b * cols + j] + rate * (colSums[j] / rows);
  }
}

/**
 * Stage 2, normalize: U = G / sqrt(V), or U = G * rsqrt(R / mean(R)) * rsqrt(C) per matrix. With
 * eps1Mode 'floor' (PyTorch): U = G / sqrt(max(V, eps1^2)), or
 * U = G / sqrt(max(R C / max(mean(R), eps1), eps1^2)).
 */
export function normalize(
  grad: ArrayLike<number>,
  geom: Geometry,
  state: ReferenceState,
  options: ResolvedOptions,
): Float64Array {
  const update = new Float64Array(geom.numel);
  // A floor that keeps a NaN a NaN, as torch's clamp does.
  const atLeast = (x: number, floor: number) => (x < floor ? floor : x);
  const floored = options.eps1Mode === 'floor';
  const eps1 = options.eps1;
  if (!geom.factored) {
    const v = state.full as Float64Array;
    for (let i = 0; i < geom.numel; i++) update[i] = grad[i] / Math.sqrt(floored ? atLeast(v[i], eps1 * eps1) : v[i]);
    return update;
  }
  const { batch, rows, cols } = geom;
  const row = state.row as Float64Array;
  const col = state.col as Float64Array;
  for (let b = 0; b < batch; b++) {
    let rowMean = 0;
    for (let i = 0; i < rows; i++) rowMean += row[b * rows + i];
    rowMean /= rows;
    for (let i = 0; i < rows; i++) {
      const rowFactor = 1 / Math.sqrt(row[b * rows + i] / rowMean);
      for (let j = 0; j < cols; j++) {
        const k = elementIndex(geom, b, i, j);
        update[k] = floored
          ? grad[k] / Math.sqrt(atLeast((row[b * rows + i] * col[b * cols + j]) / atLeast(rowMean, eps1), eps1 * eps1))
          : grad[k] * rowFactor * (1 / Math.sqrt(col[b * cols + j]));
      }
    }
  }
  return update;
}

/**
 * Stage 3, clip: U /= max(1, RMS(U) / clipThreshold); NaN when RMS(U) is (torch's clamp).
 * Returns RMS(U) before clipping and the divisor.
 */
export function clip(update: Float64Array, options: ResolvedOptions): { updateRms: number; clipDivisor: number } {
  const updateRms = rms(update);
  const clipDivisor = Math.max(1, updateRms / options.clipThreshold);
  for (let i = 0; i < update.length; i++) update[i] /= clipDivisor;
  return { updateRms, clipDivisor };
}

/**
 * alpha_t = rho_t * max(eps2, RMS(X_{t-1})), or rho_t without scaleParameter. The max is
 * Python's, as in Hugging Face: eps2 unless RMS(X) > eps2, so eps2 when RMS(X) is NaN.
 */
export function stepSizeOf(param: ArrayLike<number>, options: ResolvedOptions, rho: number): number {
  const paramRms = rms(param);
  return options.scaleParameter ? rho * (paramRms > options.eps2 ? paramRms : options.eps2) : rho;
}

/** Stage 4, scale: U = alpha_t U. */
export function scale(update: Float64Array, alpha: number): void {
  for (let i = 0; i < update.length; i++) update[i] *= alpha;
}

/**
 * Stage 5, momentum: with beta1, M_t = beta1 M + (1 - beta1) U, and the update is M_t; else U.
 * A 16-bit M (momentumDtype) is stored rounded to it: with momentumArithmetic 'ema' (optax's
 * order) beta1 M is computed with beta1 rounded to the format and rounded itself and the update is M_t before rounding; with 'lerp' (torch's
 * lerp_ on the 16-bit M) U is rounded first, M_t = M + (1 - beta1)(U - M), and the update is M_t
 * as stored. An f32 M is kept in float64 here.
 */
export function momentum(update: Float64Array, state: ReferenceState, options: ResolvedOptions): Float64Array {
  const m = state.momentum;
  if (options.beta1 === undefined || m === undefined) return update;
  const dtype = options.momentumDtype;
  const round = dtype === 'f32' ? (x: number) => x : (x: number) => roundTo(dtype, x);
  const beta1 = options.beta1;
  const weight = 1 - beta1;
  if (options.momentumArithmetic === 'lerp') {
    for (let i = 0; i < update.length; i++) {
      const target = round(update[i]);
      // torch's lerp: from the nearer end, so that a weight of 1 gives the end exactly.
      m[i] = round(weight < 0.5 ? m[i] + weight * (target - m[i]) : target - (target - m[i]) * (1 - weight));
    }
    return m;
  }
  // As jax multiplies a 16-bit array by a Python float: the float is cast to the array's type first.
  const decay = round(beta1);
  const averaged = new Float64Array(update.length);
  for (let i = 0; i < update.length; i++) {
    averaged[i] = round(decay * m[i]) + weight * update[i];
    m[i] = round(averaged[i]);
  }
  return averaged;
}

/**
 * Stage 5b, caution (with `caution`): the momentum's update M_t kept only where M_t G > 0, times
 * 1 / max(the fraction kept, 1e-3), the fraction over the whole tensor (timm). A new array: M
 * itself is not masked.
 */
export function caution(update: Float64Array, grad: ArrayLike<number>, options: ResolvedOptions): Float64Array {
  if (!options.caution || options.beta1 === undefined) return update;
  let kept = 0;
  for (let i = 0; i < update.length; i++) if (update[i] * grad[i] > 0) kept++;
  const factor = 1 / Math.max(kept / update.length, 1e-3);
  return update.map((u, i) => (u * grad[i] > 0 ? u * factor : 0));
}

/**
 * The factor of X in stage 6: weightDecay * alpha_t (or weightDecay with weightDecayScale
 * 'none'), times alpha_t / weightDecayMaxLr with the corrected decay.
 */
export function decayFactor(alpha: number, options: ResolvedOptions): number {
  const corrected = options.weightDecayMaxLr === undefined ? 1 : alpha / options.weightDecayMaxLr;
  return options.weightDecay * (options.weightDecayScale === 'alpha' ? alpha : 1) * corrected;
}

/** Stage 6, weight decay: X -= decayFactor * X. */
export function weightDecay(param: Float64Array, alpha: number, options: ResolvedOptions): void {
  const decay = decayFactor(alpha, options);
  for (let i = 0; i < param.length; i++) param[i] = param[i] - decay * param[i];
}

/** Stage 7, apply: X -= U. */
export function apply(param: Float64Array, update: ArrayLike<number>): void {
  for (let i = 0; i < param.length; i++) param[i] = param[i] - update[i];
}
