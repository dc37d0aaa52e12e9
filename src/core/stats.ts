/** What `stats()` reports of a step, on every path (GPU, tfjs ops, the float64 reference). */

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

/** What `stats()` reports: the last step that ran, and what it did to each tensor. */
export interface AdafactorStats {
  /** t of the last step that ran (0 before any). */
  step: number;
  /** Whether skipNonFinite skipped it. */
  skipped: boolean;
  /** With maxGradNorm: ||G|| over every gradient of the step, after gradScale, before clipping. */
  gradNorm?: number;
  /** Per tensor with elements, in the order given; empty until a step recorded since construction or loadState has run. */
  tensors: (StepStats & { name: string })[];
}
