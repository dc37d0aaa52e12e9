/**
 * Adafactor in float64 on the CPU: the tests' reference and a fallback without WebGPU.
 * It reads like the paper (Shazeer & Stern 2018, Algorithms 4 and 5) with Hugging Face
 * transformers' choices, one function per stage of the update, the same stages as the shaders.
 */
import { type AdafactorOptions, type ResolvedOptions, beta2, oneMinusBeta2, resolveOptions, stepSize } from './options.js';
import { type Geometry, elementIndex, geometry, withFactoringRule } from './shape.js';

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

export function initialState(geom: Geometry, options: ResolvedOptions): ReferenceState {
  const state: ReferenceState = {};
  if (geom.factored) {
    state.row = new Float64Array(geom.batch * geom.rows);
    state.col = new Float64Array(geom.batch * geom.cols);
  } else {
    state.full = new Float64Array(geom.numel);
  }
  if (options.beta1 !== undefined) state.momentum = new Float64Array(geom.numel);
  return state;
}

/** RMS(A) = sqrt(mean(A^2)). */
export function rms(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  return values.length === 0 ? 0 : Math.sqrt(sum / values.length);
}

/** Stage 1, the second moment: R, C (factored) or V (unfactored) take an EMA of Q = G^2 + eps1 (G^2 with eps1Mode 'floor'). */
export function updateSecondMoment(grad: ArrayLike<number>, geom: Geometry, state: ReferenceState, options: ResolvedOptions, step: number): void {
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
 * Stage 2, normalise: U = G / sqrt(V), or U = G * rsqrt(R / mean(R)) * rsqrt(C) per matrix. With
 * eps1Mode 'floor' (PyTorch): U = G / sqrt(max(V, eps1^2)), or
 * U = G / sqrt(max(R C / max(mean(R), eps1), eps1^2)).
 */
export function normalizedUpdate(grad: ArrayLike<number>, geom: Geometry, state: ReferenceState, options: ResolvedOptions): Float64Array {
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
export function clipUpdate(update: Float64Array, options: ResolvedOptions): { updateRms: number; clipDivisor: number } {
  const updateRms = rms(update);
  const clipDivisor = Math.max(1, updateRms / options.clipThreshold);
  for (let i = 0; i < update.length; i++) update[i] /= clipDivisor;
  return { updateRms, clipDivisor };
}

/** What one step of one tensor did, as `Adafactor.stats()` reports it. */
export interface StepStats {
  /** RMS(X_{t-1}), the parameters' scale before the step. */
  paramRms: number;
  /** alpha_t = rho_t * max(eps2, RMS(X_{t-1})) (rho_t without scaleParameter). */
  stepSize: number;
  /** RMS(U) of the normalized update, before clipping. */
  updateRms: number;
  /** max(1, RMS(U) / clipThreshold): what the update was divided by. */
  clipDivisor: number;
}

/**
 * alpha_t = rho_t * max(eps2, RMS(X_{t-1})), or rho_t without scaleParameter. The max is
 * Python's, as in Hugging Face: eps2 unless RMS(X) > eps2, so eps2 when RMS(X) is NaN.
 */
export function scaledStepSize(param: ArrayLike<number>, options: ResolvedOptions, rho: number): number {
  const paramRms = rms(param);
  return options.scaleParameter ? rho * (paramRms > options.eps2 ? paramRms : options.eps2) : rho;
}

/** Stage 4, scale and momentum: U = alpha_t U; with beta1, M = beta1 M + (1 - beta1) U and U = M. */
export function scaleAndAverage(update: Float64Array, alpha: number, state: ReferenceState, options: ResolvedOptions): Float64Array {
  for (let i = 0; i < update.length; i++) update[i] *= alpha;
  const m = state.momentum;
  if (options.beta1 === undefined || m === undefined) return update;
  for (let i = 0; i < update.length; i++) m[i] = options.beta1 * m[i] + (1 - options.beta1) * update[i];
  return m;
}

/** Stage 5, apply: X -= weightDecay * alpha_t * X (or weightDecay * X), then X -= U. */
export function applyUpdate(param: Float64Array, update: ArrayLike<number>, alpha: number, options: ResolvedOptions): void {
  const decay = options.weightDecay * (options.weightDecayScale === 'alpha' ? alpha : 1);
  for (let i = 0; i < param.length; i++) param[i] = param[i] - decay * param[i] - update[i];
}

/**
 * One Adafactor step of one tensor, in place on `param` and `state`. `step` is t = 1, 2, ...
 * Returns what the step did (undefined for a tensor with no element).
 */
export function referenceStep(
  param: Float64Array,
  grad: ArrayLike<number>,
  geom: Geometry,
  state: ReferenceState,
  options: ResolvedOptions,
  step: number,
  rho = stepSize(options, step),
): StepStats | undefined {
  if (geom.numel === 0) return undefined;
  const paramRms = rms(param);
  const alpha = scaledStepSize(param, options, rho);
  updateSecondMoment(grad, geom, state, options, step);
  const update = normalizedUpdate(grad, geom, state, options);
  const clipped = clipUpdate(update, options);
  applyUpdate(param, scaleAndAverage(update, alpha, state, options), alpha, options);
  return { paramRms, stepSize: alpha, ...clipped };
}

function allFinite(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}

export interface ReferenceParam {
  data: ArrayLike<number>;
  shape: readonly number[];
  name?: string;
}

/** Float64 Adafactor over plain arrays, with the same options as the WebGPU `Adafactor`. */
export class ReferenceAdafactor {
  readonly params: Float64Array[];
  readonly states: ReferenceState[];
  readonly options: ResolvedOptions;
  stepCount = 0;
  /** Steps skipped for non-finite gradients (with skipNonFinite). */
  skippedSteps = 0;
  /** What the last step that ran did to each tensor (undefined for tensors with no element). */
  lastStats: (StepStats | undefined)[] = [];
  private readonly geometries: Geometry[];

  constructor(params: readonly ReferenceParam[], options: AdafactorOptions = {}) {
    this.options = resolveOptions(options, 'ReferenceAdafactor');
    this.geometries = params.map((p, i) =>
      withFactoringRule(geometry(p.shape, `ReferenceAdafactor: tensor ${p.name ?? i}`), p.shape, this.options.factorDims, this.options.minDimSizeToFactor),
    );
    this.params = params.map((p) => Float64Array.from(p.data));
    this.states = this.geometries.map((g) => initialState(g, this.options));
  }

  /** One step with one gradient per parameter, in the order the parameters were given. */
  step(grads: readonly ArrayLike<number>[]): void {
    if (grads.length !== this.params.length) {
      throw new Error(`ReferenceAdafactor: step needs ${this.params.length} gradients, got ${grads.length}`);
    }
    grads.forEach((g, i) => {
      if (g.length !== this.params[i].length) {
        throw new Error(`ReferenceAdafactor: gradient ${i} has ${g.length} elements, its parameter ${this.params[i].length}`);
      }
    });
    const step = this.stepCount + 1;
    const rho = stepSize(this.options, step); // once per step; a bad learning rate throws before anything changes
    this.stepCount = step;
    if (this.options.skipNonFinite && grads.some((g) => !allFinite(g))) {
      this.skippedSteps++;
      return;
    }
    this.lastStats = this.params.map((p, i) => referenceStep(p, grads[i], this.geometries[i], this.states[i], this.options, step, rho));
  }
}
