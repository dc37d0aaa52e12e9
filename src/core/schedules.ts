/**
 * The per-step schedules, pure functions of the options and the step number t = 1, 2, ...:
 * the second-moment decay beta2_t and the step size rho_t (or lr(t)).
 */
import { type ResolvedOptions, f32Problem } from './options.js';

/**
 * 1 - beta2_t = (t - decayOffset)^decayRate, or 1 - beta2Cap where that is larger. Kept
 * separately from beta2_t so that it keeps full precision. Throws for a step at or before
 * decayOffset.
 */
export function oneMinusBeta2(options: ResolvedOptions, step: number, where = 'Adafactor'): number {
  if (options.beta2 !== undefined) return 1 - options.beta2;
  if (step <= options.decayOffset) {
    throw new Error(
      `${where}: step ${step} is not past decayOffset ${options.decayOffset}; the second-moment decay counts steps from decayOffset + 1 (set the step count with loadState, or lower decayOffset)`,
    );
  }
  const scheduled = Math.pow(step - options.decayOffset, options.decayRate);
  return options.beta2Cap === undefined ? scheduled : Math.max(1 - options.beta2Cap, scheduled);
}

/** beta2_t = 1 - (t - decayOffset)^decayRate (at most beta2Cap), or the fixed beta2. */
export function beta2(options: ResolvedOptions, step: number, where = 'Adafactor'): number {
  if (options.beta2 !== undefined) return options.beta2;
  const scheduled = 1 - oneMinusBeta2({ ...options, beta2Cap: undefined }, step, where);
  return options.beta2Cap === undefined ? scheduled : Math.min(options.beta2Cap, scheduled);
}

/**
 * rho_t: the relative step size min(1e-2, 1/sqrt(t)) (or min(1e-6 t, 1/sqrt(t)) with warmupInit),
 * or lr(t) without relativeStep. Throws if a learning-rate function returns a bad value.
 */
export function stepSize(options: ResolvedOptions, step: number, where = 'Adafactor'): number {
  if (options.relativeStep) {
    const floor = options.warmupInit ? 1e-6 * step : 1e-2;
    return Math.min(floor, 1 / Math.sqrt(step));
  }
  const lr = (options.lr as (step: number) => number)(step);
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) {
    throw new Error(`${where}: lr(${step}) returned ${String(lr)}; the learning rate must be a finite number >= 0`);
  }
  const problem = f32Problem(lr, false);
  if (problem) throw new Error(`${where}: lr(${step}) returned ${lr}, which ${problem}`);
  return lr;
}

/** The loss scale of step t (gradScale; 1 without it). Throws if a function returns a bad value. */
export function gradScaleAt(options: ResolvedOptions, step: number, where = 'Adafactor'): number {
  const scale = typeof options.gradScale === 'number' ? options.gradScale : options.gradScale(step);
  if (typeof scale !== 'number' || !(scale > 0) || !Number.isFinite(scale)) {
    throw new Error(`${where}: gradScale(${step}) returned ${String(scale)}; a loss scale must be a finite number > 0`);
  }
  const problem = f32Problem(1 / scale, true);
  if (problem) throw new Error(`${where}: gradScale(${step}) returned ${scale}, whose inverse ${problem}`);
  return scale;
}
