/** The jax entry's optimizer state: its fields, in one place. */
import type { Array } from '@jax-js/jax';
import type { LeafMoments } from './checkpoint.js';
import type { StatArrays } from './stages.js';

/** The optimizer state: jax-js arrays only, so that `jit` traces it as it traces the parameters. */
export type AdafactorJaxState = {
  /** Steps taken: t of the last step (int32 scalar). */
  count: Array;
  /** Steps skipNonFinite skipped (int32 scalar). */
  skippedSteps: Array;
  /** The step the stats are of: 0 before a step since init or loadState (int32 scalar). */
  lastStep: Array;
  /** 1 if skipNonFinite skipped that step, else 0 (int32 scalar). */
  lastSkipped: Array;
  /** Per parameter path, its state tensors under Hugging Face's names. */
  moments: { [path: string]: LeafMoments };
  /** Per parameter path with elements: RMS(X_{t-1}), alpha_t, RMS(U) before clipping, the clip divisor. */
  stats: { [path: string]: StatArrays };
  /** ||G|| over every gradient of the last step, after gradScale (with maxGradNorm; else 0). */
  gradNorm: Array;
};
