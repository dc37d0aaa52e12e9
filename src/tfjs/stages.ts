/**
 * The tfjs-ops path: one Adafactor step of one variable with TensorFlow.js ops, on any backend,
 * built from the same stages, with the same names and in the same order, as the float64
 * reference (src/core/stages.ts):
 *
 *   0. prepareGradients (gradScale, maxGradNorm: over every variable of the step)
 *   1. secondMoment  2. normalize  3. clip  4. scale  5. momentum (5b. caution)  6. weightDecay  7. apply
 *
 * Each returns new tensors and assigns nothing; `nextValues` composes them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { HALF_FORMATS } from '../core/half.js';
import type { ResolvedOptions } from '../core/options.js';
import type { Geometry } from '../core/shape.js';
import type { Slot } from '../state/tensors.js';

/** A variable's state by slot: tfjs variables (old values) or tensors (new values). */
export type SlotTensors = Partial<Record<Slot, tf.Tensor>>;

const rms = (a: tf.Tensor) => tf.sqrt(tf.mean(tf.square(a)));

/**
 * Stage 0, over every variable of the step: G / gradScale, and with maxGradNorm times
 * maxGradNorm / ||G|| where the norm over all of them is at least maxGradNorm (optax's
 * clip_by_global_norm); the last tensor is the norm, with maxGradNorm.
 */
export function prepareGradients(grads: readonly tf.Tensor[], o: ResolvedOptions, gradScale: number): tf.Tensor[] {
  const scaled = grads.map((g) => tf.div(tf.cast(g, 'float32'), gradScale));
  if (o.maxGradNorm === undefined || scaled.length === 0) return scaled;
  const norm = tf.sqrt(tf.addN(scaled.map((g) => tf.sum(tf.square(g)))));
  const clipping = tf.where(tf.less(norm, o.maxGradNorm), tf.scalar(1), tf.div(o.maxGradNorm, norm));
  // A sum of squares that overflows f32 makes the gradients NaN (skipped with skipNonFinite), as on the GPU.
  const factor = tf.where(tf.isFinite(norm), clipping, tf.scalar(NaN));
  return [...scaled.map((g) => tf.mul(g, factor)), norm];
}

/** Q = G^2 + eps1 (G^2 with eps1Mode 'floor'). */
function squares(g: tf.Tensor, o: ResolvedOptions): tf.Tensor {
  return o.eps1Mode === 'floor' ? tf.square(g) : tf.add(tf.square(g), o.eps1);
}

/** Stage 1, second moment: R, C (factored) or V take an EMA of Q with decay beta2_t (`decay`) and rate 1 - beta2_t. */
export function secondMoment(q: tf.Tensor, geom: Geometry, old: SlotTensors, decay: number, rate: number): SlotTensors {
  if (!geom.factored) return { full: tf.add(tf.mul(old.full!, decay), tf.mul(q, rate)) };
  return {
    row: tf.add(tf.mul(old.row!, decay), tf.mul(tf.mean(q, geom.colDim), rate)),
    col: tf.add(tf.mul(old.col!, decay), tf.mul(tf.mean(q, geom.rowDim), rate)),
  };
}

/**
 * Stage 2, normalize: U = G / sqrt(V), or G * rsqrt(R / mean(R)) * rsqrt(C); with eps1Mode
 * 'floor' (PyTorch) G / sqrt(max(V, eps1^2)), or G / sqrt(max(R C / max(mean(R), eps1), eps1^2)).
 */
export function normalize(g: tf.Tensor, geom: Geometry, state: SlotTensors, o: ResolvedOptions): tf.Tensor {
  const floored = o.eps1Mode === 'floor';
  if (!geom.factored) return tf.mul(g, tf.rsqrt(floored ? tf.maximum(state.full!, o.eps1 * o.eps1) : state.full!));
  const rowMean = tf.mean(state.row!, geom.rowDim, true);
  if (floored) {
    const estimate = tf.mul(
      tf.expandDims(tf.div(state.row!, tf.maximum(rowMean, o.eps1)), geom.colDim),
      tf.expandDims(state.col!, geom.rowDim),
    );
    return tf.mul(g, tf.rsqrt(tf.maximum(estimate, o.eps1 * o.eps1)));
  }
  const rowFactor = tf.rsqrt(tf.div(state.row!, rowMean));
  return tf.mul(tf.mul(g, tf.expandDims(rowFactor, geom.colDim)), tf.expandDims(tf.rsqrt(state.col!), geom.rowDim));
}

/** Stage 3, clip: U / max(1, RMS(U) / d), NaN staying NaN as with torch's clamp; with RMS(U) before clipping and the divisor. */
export function clip(
  update: tf.Tensor,
  o: ResolvedOptions,
): { clipped: tf.Tensor; updateRms: tf.Tensor; clipDivisor: tf.Tensor } {
  const updateRms = rms(update);
  const ratio = tf.div(updateRms, o.clipThreshold);
  const clipDivisor = tf.where(tf.isNaN(ratio), ratio, tf.maximum(ratio, 1));
  return { clipped: tf.div(update, clipDivisor), updateRms, clipDivisor };
}

/** alpha_t = rho_t * max(eps2, RMS(X_{t-1})) (Python's max, as Hugging Face: eps2 unless RMS > eps2), or rho_t without scaleParameter. */
export function stepSizeOf(x: tf.Tensor, o: ResolvedOptions, rho: number): { paramRms: tf.Tensor; alpha: tf.Tensor } {
  const paramRms = rms(x);
  const alpha = o.scaleParameter
    ? tf.mul(rho, tf.where(tf.greater(paramRms, o.eps2), paramRms, tf.scalar(o.eps2)))
    : tf.scalar(rho);
  return { paramRms, alpha };
}

/** Stage 4, scale: U = alpha_t U. */
export function scale(update: tf.Tensor, alpha: tf.Tensor): tf.Tensor {
  return tf.mul(update, alpha);
}

/**
 * Stage 5, momentum: with beta1, M_t = beta1 M + (1 - beta1) U; `next` is the update and `stored`
 * the new M, which differ for a 16-bit M (see the reference's stage, src/core/stages.ts).
 */
export function momentum(
  update: tf.Tensor,
  old: SlotTensors,
  o: ResolvedOptions,
): { next: tf.Tensor; stored: tf.Tensor } | undefined {
  const m = old.momentum;
  if (!m) return undefined;
  const round = (x: tf.Tensor) => roundToDtype(x, o.momentumDtype);
  const weight = 1 - o.beta1!;
  if (o.momentumArithmetic === 'lerp') {
    const target = round(update);
    const stored = round(
      weight < 0.5
        ? tf.add(m, tf.mul(weight, tf.sub(target, m)))
        : tf.sub(target, tf.mul(tf.sub(target, m), 1 - weight)),
    );
    return { next: stored, stored };
  }
  // As jax multiplies a 16-bit array by a Python float: the float is cast to the array's type first.
  const next = tf.add(round(tf.mul(m, round(tf.scalar(o.beta1!)))), tf.mul(update, weight));
  return { next, stored: round(next) };
}

/**
 * Stage 5b, caution (with `caution`): M_t kept only where M_t G > 0, times 1 / max(the fraction
 * kept over the tensor, 1e-3).
 */
export function caution(update: tf.Tensor, g: tf.Tensor, o: ResolvedOptions): tf.Tensor {
  if (!o.caution) return update;
  const mask = tf.cast(tf.greater(tf.mul(update, g), 0), 'float32');
  return tf.mul(update, tf.div(mask, tf.maximum(tf.mean(mask), 1e-3)));
}

/**
 * `x` rounded to the nearest value of a 16-bit float (ties to even: tf.round is banker's), in
 * f32 tensors, which tfjs has no 16-bit type for: x / ulp rounded, times ulp, where the ulp is
 * 2^(e - mantissa bits) for x's binary exponent e (at least the format's smallest normal one);
 * past the largest finite value, infinity. f32: x itself.
 */
function roundToDtype(x: tf.Tensor, dtype: ResolvedOptions['momentumDtype']): tf.Tensor {
  if (dtype === 'f32') return x;
  const { mantissaBits, minExponent, largest } = HALF_FORMATS[dtype];
  const size = tf.abs(x);
  // log2 can be off by one next to powers of two: correct e so that 2^e <= |x| < 2^(e + 1).
  let e = tf.floor(tf.div(tf.log(size), Math.LN2));
  e = tf.sub(e, tf.cast(tf.greater(tf.pow(2, e), size), 'float32'));
  e = tf.add(e, tf.cast(tf.lessEqual(tf.pow(2, tf.add(e, 1)), size), 'float32'));
  const ulp = tf.pow(2, tf.sub(tf.maximum(e, minExponent), mantissaBits));
  const rounded = tf.mul(tf.round(tf.div(x, ulp)), ulp);
  const finite = tf.where(tf.greater(tf.abs(rounded), largest), tf.mul(tf.sign(x), Infinity), rounded);
  // Zeros, infinities and NaN stay as they are.
  return tf.where(tf.logicalAnd(tf.greater(size, 0), tf.isFinite(x)), finite, x);
}

/** Stage 6, weight decay: X - weightDecay * alpha_t * X (or weightDecay * X), times alpha_t / weightDecayMaxLr when corrected. */
export function weightDecay(x: tf.Tensor, alpha: tf.Tensor, o: ResolvedOptions): tf.Tensor {
  let decayFactor = tf.mul(o.weightDecay, o.weightDecayScale === 'alpha' ? alpha : tf.scalar(1));
  if (o.weightDecayMaxLr !== undefined) decayFactor = tf.mul(decayFactor, tf.div(alpha, o.weightDecayMaxLr));
  return tf.sub(x, tf.mul(decayFactor, x));
}

/** Stage 7, apply: X - U. */
export function apply(x: tf.Tensor, update: tf.Tensor): tf.Tensor {
  return tf.sub(x, update);
}

/** What one step computes for one variable. */
export interface NextValues {
  param: tf.Tensor;
  /** [RMS(X_{t-1}), alpha_t, RMS(U) before clipping, the clip divisor], for stats(). */
  stats: tf.Tensor;
  state: SlotTensors;
  /** With skipNonFinite: a bool scalar, whether every number of this step is finite. */
  finite?: tf.Tensor;
}

/** The step's schedules: rho_t, beta2_t and 1 - beta2_t. */
export interface StepScalars {
  rho: number;
  decay: number;
  rate: number;
}

/**
 * One step of one variable: its new value and new state, nothing assigned. With skipNonFinite,
 * also whether everything the step computed is finite, in f32 as on the GPU: the gradient, the
 * squares and their row, column and whole sums, alpha, the new state and value.
 */
export function nextValues(
  x: tf.Tensor,
  grad: tf.Tensor,
  geom: Geometry,
  old: SlotTensors,
  o: ResolvedOptions,
  { rho, decay, rate }: StepScalars,
): NextValues {
  const g = tf.cast(grad, 'float32');
  const { paramRms, alpha } = stepSizeOf(x, o, rho);
  const q = squares(g, o);
  const state = secondMoment(q, geom, old, decay, rate);
  const normalized = normalize(g, geom, state, o);
  const { clipped, updateRms, clipDivisor } = clip(normalized, o);
  const stats = tf.stack([paramRms, alpha, updateRms, clipDivisor]);
  let update = o.momentumBeforeLr ? clipped : scale(clipped, alpha);
  const averaged = momentum(update, old, o);
  if (averaged) {
    update = caution(averaged.next, g, o);
    state.momentum = averaged.stored;
  }
  if (o.momentumBeforeLr) update = scale(update, alpha);
  const param = apply(weightDecay(x, alpha, o), update);
  if (!o.skipNonFinite) return { param, state, stats };
  // tfjs's mean divides before it sums, so the sums that overflow in f32 on the GPU are formed here.
  const squareSums = geom.factored ? [tf.sum(q, geom.colDim), tf.sum(q, geom.rowDim)] : [q];
  const checked = [
    g,
    ...squareSums,
    tf.sum(tf.square(x)),
    tf.sum(tf.square(normalized)),
    alpha,
    param,
    ...Object.values(state),
  ];
  const finite = checked.map((t) => tf.all(tf.isFinite(t))).reduce((all, f) => tf.logicalAnd(all, f));
  return { param, state, stats, finite };
}

/** A variable, its gradient and its state, checked for one step. */
export interface Planned {
  variable: tf.Variable;
  slots: Partial<Record<Slot, tf.Variable>>;
}

/** Assigns a step's new values; given `ok` (a bool scalar), only where it is true: all or nothing. */
export function assignStep(p: Planned, next: NextValues, ok?: tf.Tensor): void {
  const keep = (variable: tf.Variable, value: tf.Tensor) => variable.assign(ok ? tf.where(ok, value, variable) : value);
  for (const [slot, value] of Object.entries(next.state) as [Slot, tf.Tensor][]) keep(p.slots[slot]!, value);
  keep(p.variable, next.param);
}
