/**
 * The settings table: each parameter group's options as the shaders' GroupSettings (written once,
 * at construction), and each step's scalars (beta2_t, 1 - beta2_t, rho_t or lr(t), the rounding
 * seed), which the step's own commands copy into it (step_scalars.ts).
 */
import type { ResolvedOptions } from '../core/options.js';
import { beta2, gradScaleAt, oneMinusBeta2, stepSize } from '../core/schedules.js';
import { SHADER } from './interface.js';
import { f32Bits, wordHalves } from './step_scalars.js';

/** Every group's options, as the settings buffer holds them before any step's scalars are copied in. */
export function settingsData(groupOptions: readonly ResolvedOptions[], skipNonFinite: boolean): ArrayBuffer {
  const { GroupSettings } = SHADER.structs;
  const data = new DataView(new ArrayBuffer(GroupSettings.size * groupOptions.length));
  const stepScalars = {
    beta2Low: 0,
    beta2High: 0,
    oneMinusBeta2Low: 0,
    oneMinusBeta2High: 0,
    rhoLow: 0,
    rhoHigh: 0,
    roundingSeedLow: 0,
    roundingSeedHigh: 0,
    invGradScaleLow: 0,
    invGradScaleHigh: 0,
  };
  groupOptions.forEach((o, g) => {
    GroupSettings.write(data, g * GroupSettings.size, {
      eps1: o.eps1,
      eps2: o.eps2,
      clipThreshold: o.clipThreshold,
      beta1: o.beta1 ?? 0,
      oneMinusBeta1: 1 - (o.beta1 ?? 0),
      weightDecay: o.weightDecay,
      weightDecayMaxLr: o.weightDecayMaxLr ?? 0,
      scaleParameter: o.scaleParameter ? 1 : 0,
      skipNonFinite: skipNonFinite ? 1 : 0,
      weightDecayScaled: o.weightDecayScale === 'alpha' ? 1 : 0,
      epsFloor: o.eps1Mode === 'floor' ? 1 : 0,
      // Without a first moment there is nothing to scale after: alpha_t scales U as usual.
      momentumBeforeLr: o.momentumBeforeLr && o.beta1 !== undefined ? 1 : 0,
      momentumLerp: o.momentumArithmetic === 'lerp' ? 1 : 0,
      caution: o.caution && o.beta1 !== undefined ? 1 : 0,
      maxGradNorm: o.maxGradNorm ?? 0,
      ...stepScalars,
    });
  });
  return data.buffer;
}

/**
 * The scalars of step `step` for each group, as the 16-bit halves of the GroupSettings words
 * from beta2Low to invGradScaleHigh; computes (and checks) every lr(t) and gradScale(t) before
 * returning any.
 */
export function stepScalarHalves(groupOptions: readonly ResolvedOptions[], step: number): number[][] {
  return groupOptions.map((o, g) => {
    const where = groupWhere('Adafactor', g, groupOptions.length);
    const rho = stepSize(o, step, where);
    const invGradScale = 1 / gradScaleAt(o, step, where);
    // Any seed but the 'off' value works; the step keeps the seeds of a run the same each run.
    const seed = o.stochasticRounding
      ? step % SHADER.constants.NO_STOCHASTIC_ROUNDING
      : SHADER.constants.NO_STOCHASTIC_ROUNDING;
    return [
      f32Bits(beta2(o, step, where)),
      f32Bits(oneMinusBeta2(o, step, where)),
      f32Bits(rho),
      seed,
      f32Bits(invGradScale),
    ].flatMap(wordHalves);
  });
}

/** Where an error of group g's options happened: the group is named when there are several. */
export function groupWhere(where: string, g: number, groupCount: number): string {
  return groupCount > 1 ? `${where}: parameter group ${g}` : where;
}
