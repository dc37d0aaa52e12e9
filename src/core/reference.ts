/**
 * Adafactor in float64 on the CPU: the tests' reference and a fallback without WebGPU, composed
 * of the stages in stages.ts, in the order the paper gives them.
 */
import { type AdafactorOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { gradScaleAt, stepSize } from './schedules.js';
import { type Geometry, geometry, withFactoringRule } from './shape.js';
import {
  type ReferenceState,
  apply,
  caution,
  clip,
  momentum,
  normalize,
  rms,
  scale,
  secondMoment,
  stepSizeOf,
  weightDecay,
} from './stages.js';
import type { StepStats } from './stats.js';

export type { ReferenceState } from './stages.js';

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
  const alpha = stepSizeOf(param, options, rho);
  secondMoment(grad, geom, state, options, step);
  const update = normalize(grad, geom, state, options);
  const clipped = clip(update, options);
  if (!options.momentumBeforeLr) scale(update, alpha);
  let averaged = caution(momentum(update, state, options), grad, options);
  if (options.momentumBeforeLr) {
    averaged = Float64Array.from(averaged); // M itself stays unscaled
    scale(averaged, alpha);
  }
  weightDecay(param, alpha, options);
  apply(param, averaged);
  return { paramRms, stepSize: alpha, ...clipped };
}

/**
 * Stage 0 with maxGradNorm, over every tensor: G / ||G|| * maxGradNorm when ||G|| >= maxGradNorm
 * (optax's clip_by_global_norm), else G.
 */
export function clipByGlobalNorm(
  grads: readonly Float64Array[],
  maxNorm: number,
): { clipped: Float64Array[]; norm: number } {
  let squares = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) squares += g[i] * g[i];
  const norm = Math.sqrt(squares);
  if (norm < maxNorm) return { clipped: [...grads], norm };
  return { clipped: grads.map((g) => g.map((x) => (x / norm) * maxNorm)), norm };
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
  /** ||G|| over every gradient of the last step that ran, after gradScale (with maxGradNorm). */
  lastGradNorm: number | undefined;
  private readonly geometries: Geometry[];

  constructor(params: readonly ReferenceParam[], options: AdafactorOptions = {}) {
    this.options = resolveOptions(options, 'ReferenceAdafactor');
    this.geometries = params.map((p, i) =>
      withFactoringRule(
        geometry(p.shape, `ReferenceAdafactor: tensor ${p.name ?? i}`),
        p.shape,
        this.options.factorDims,
        this.options.minDimSizeToFactor,
        `ReferenceAdafactor: tensor ${p.name ?? i}`,
      ),
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
        throw new Error(
          `ReferenceAdafactor: gradient ${i} has ${g.length} elements, its parameter ${this.params[i].length}`,
        );
      }
    });
    const step = this.stepCount + 1;
    const rho = stepSize(this.options, step); // once per step; a bad learning rate throws before anything changes
    const gradScale = gradScaleAt(this.options, step);
    this.stepCount = step;
    let scaled: Float64Array[] = grads.map((g) => Float64Array.from(g, (x) => x / gradScale));
    if (this.options.skipNonFinite && scaled.some((g) => !allFinite(g))) {
      this.skippedSteps++;
      return;
    }
    if (this.options.maxGradNorm !== undefined) {
      const { clipped, norm } = clipByGlobalNorm(scaled, this.options.maxGradNorm);
      scaled = clipped;
      this.lastGradNorm = norm;
    }
    this.lastStats = this.params.map((p, i) =>
      referenceStep(p, scaled[i], this.geometries[i], this.states[i], this.options, step, rho),
    );
  }
}
