/** What the last step on the tfjs-ops path did, kept as tensors until the next step and read back only when asked. */
import * as tf from '@tensorflow/tfjs-core';
import type { AdafactorStats } from '../core/stats.js';

export class OpsStats {
  constructor(
    readonly step: number,
    /** Per variable: [RMS(X_{t-1}), alpha_t, RMS(U) before clipping, the clip divisor]. */
    private readonly tensors: { name: string; values: tf.Tensor }[],
    /** With skipNonFinite: a bool scalar, whether the step was skipped. */
    private readonly skipped?: tf.Tensor,
    /** With maxGradNorm: ||G|| over every gradient of the step. */
    private readonly gradNorm?: tf.Tensor,
  ) {}

  async read(): Promise<AdafactorStats> {
    const tensors = await Promise.all(
      this.tensors.map(async ({ name, values }) => {
        const [paramRms, alpha, updateRms, clipDivisor] = await values.data();
        return { name, paramRms, stepSize: alpha, updateRms, clipDivisor };
      }),
    );
    const skipped = this.skipped ? Boolean((await this.skipped.data())[0]) : false;
    const gradNorm = this.gradNorm ? { gradNorm: (await this.gradNorm.data())[0] } : {};
    return { step: this.step, skipped, ...gradNorm, tensors };
  }

  dispose(): void {
    tf.dispose([
      ...this.tensors.map((t) => t.values),
      ...(this.skipped ? [this.skipped] : []),
      ...(this.gradNorm ? [this.gradNorm] : []),
    ]);
  }
}
