/**
 * The WebGPU Adafactor: the public facade. It checks what callers give it and keeps the step
 * count; the engine (src/gpu/engine.ts) owns the GPU objects and records each step as the step
 * program's dispatches; the state layer (src/state/) turns the state into a file and back.
 */
import type { AdafactorParamGroup } from './core/groups.js';
import type { AdafactorOptions, KernelVariant } from './core/options.js';
import { optionsToJson } from './core/options_json.js';
import type { AdafactorStats } from './core/stats.js';
import { AdafactorEngine } from './gpu/engine.js';
import { type AdafactorParam, rebindParams } from './gpu/params.js';
import { decodeCheckpoint, encodeCheckpoint, stateOptionsDifference } from './state/checkpoint.js';
import { type StateEntry, stateEntries } from './state/entries.js';

export type { AdafactorStats } from './core/stats.js';

export class Adafactor {
  /** The kernel variant the optimizer runs (see the kernelVariant option). */
  readonly kernelVariant: KernelVariant;

  /**
   * @internal The engine that runs this optimizer, for the tfjs entry, the benchmark and the
   * tests (docs/internals.md); not part of the public API.
   */
  readonly engine: AdafactorEngine;

  /** Steps recorded so far. */
  get stepCount(): number {
    return this.recordedSteps;
  }

  private recordedSteps = 0;
  /** Where each state tensor lives, in the caller's order of tensors. */
  private readonly stateEntries: StateEntry[];
  /** The options as given, as saveState writes them. */
  private readonly savedOptions: string;
  private destroyed = false;
  private deviceLostReason: string | undefined;

  constructor(
    device: GPUDevice,
    paramsOrGroups: readonly AdafactorParam[] | readonly AdafactorParamGroup<AdafactorParam>[],
    options: AdafactorOptions = {},
  ) {
    this.engine = new AdafactorEngine(device, paramsOrGroups, options);
    this.kernelVariant = this.engine.kernelVariant;
    this.stateEntries = stateEntries(this.engine.plan, this.engine.params, this.engine.geometries);
    const groupOverrides = paramsOrGroups.some((g) => 'params' in g)
      ? paramsOrGroups.map((g) => ({ ...g, params: undefined }))
      : [];
    this.savedOptions = JSON.stringify(
      optionsToJson(groupOverrides.length > 0 ? { ...options, groups: groupOverrides } : options),
    );
    void device.lost?.then((info) => {
      this.deviceLostReason = info.message || info.reason || 'unknown reason';
    });
  }

  /** Bytes of GPU memory the optimizer state occupies: R and C per factored tensor, V per other tensor, and M with beta1. */
  get stateBytes(): number {
    return this.engine.stateBytes;
  }

  /** Bytes of GPU memory the optimizer uses besides the state: scratch (tile partial sums) and tables. */
  get workspaceBytes(): number {
    return this.engine.workspaceBytes;
  }

  /** Compute dispatches one step records. */
  get dispatchesPerStep(): number {
    return this.engine.dispatches.length;
  }

  /**
   * Records one step. With an encoder the caller submits it (steps recorded into one or several
   * encoders run one after the other in the order they are submitted, each with its own t);
   * without, the step is submitted at once. Nothing is read back.
   */
  step(encoder?: GPUCommandEncoder): void {
    this.checkUsable();
    if (this.stepCount >= Number.MAX_SAFE_INTEGER)
      throw new Error(`Adafactor: the step count ${this.stepCount} cannot grow past 2^53 - 1`);
    const step = this.stepCount + 1;
    this.engine.record(encoder, step);
    this.recordedSteps = step;
  }

  /**
   * Points the optimizer at other buffers for its tensors and keeps its state: for engines that
   * reallocate parameters or gradients (TensorFlow.js hands out new gradient buffers every step).
   * `buffers[i]` replaces tensor i's `param` and/or `grad`; shapes, offsets and dtypes stay, and
   * tensors that shared a buffer must still share one (and no others). Checks everything before
   * changing anything; remakes only bind groups. Steps recorded earlier keep their buffers.
   */
  rebind(buffers: readonly { param?: GPUBuffer; grad?: GPUBuffer }[]): void {
    this.checkUsable('rebind()');
    const { params, groupBuffers } = rebindParams(this.engine.params, this.engine.groupMembers(), buffers);
    this.engine.rebind(params, groupBuffers);
  }

  /**
   * rho_t of step t for each parameter group, computed on the host: min(1e-2, 1/sqrt(t)) (with
   * warmupInit min(1e-6 t, 1/sqrt(t))), or lr(t) without relativeStep. t defaults to the last
   * step recorded (1 before any). A tensor moves by alpha_t = rho_t * max(eps2, RMS(X_{t-1})):
   * see stats().
   */
  learningRate(step = Math.max(1, this.stepCount)): number[] {
    if (!Number.isSafeInteger(step) || step < 1)
      throw new Error(`Adafactor.learningRate: step must be an integer >= 1, got ${String(step)}`);
    return this.engine.learningRates(step, 'Adafactor.learningRate');
  }

  /**
   * What the last step that ran did to each tensor that has elements, in the order given:
   * RMS(X_{t-1}), the step size alpha_t, RMS(U) before clipping and the clip divisor
   * max(1, RMS(U) / clipThreshold); with that step's number t, and whether skipNonFinite skipped
   * it. Read back in one copy, after the steps submitted so far, only when asked: a step never
   * reads anything back. No tensors until a step recorded since construction or loadState has run.
   */
  async stats(): Promise<AdafactorStats> {
    this.checkUsable('stats()');
    return this.engine.stats();
  }

  /**
   * Steps skipped so far because of non-finite gradients (with `skipNonFinite`). Reads back one
   * number, after the steps submitted so far.
   */
  async skippedSteps(): Promise<number> {
    this.checkUsable('skippedSteps()');
    return this.engine.skippedSteps();
  }

  /**
   * The optimizer state as a safetensors file: every state tensor under Hugging Face's names
   * (`<name>.exp_avg_sq_row`, `.exp_avg_sq_col`, `.exp_avg_sq`, `.exp_avg`; `<name>` is the
   * tensor's name, else its index) and, in `__metadata__`, the step count, the skipped steps and
   * the options. One snapshot, taken by commands submitted during the call: the state, step and
   * skipped steps after the last step submitted before it (steps recorded later, or recorded
   * into an encoder not yet submitted, are not in it, and its step count says so).
   */
  async saveState(): Promise<Uint8Array> {
    this.checkUsable('saveState()');
    return encodeCheckpoint(
      this.stateEntries,
      await this.engine.readState(),
      this.savedOptions,
      this.engine.options.momentumDtype,
    );
  }

  /**
   * Restores a state saved by `saveState()` from an optimizer over the same tensors (names,
   * shapes) and continues from its step count. Checks the whole file first (the safetensors
   * rules, format, counts, names, dtypes, shapes, and values no step produces: NaN, infinities,
   * negative second moments) and throws, naming the first problem, with nothing changed.
   */
  loadState(bytes: Uint8Array): void {
    this.checkUsable('loadState()');
    let checkpoint;
    try {
      checkpoint = decodeCheckpoint(
        bytes,
        this.stateEntries,
        this.engine.stateLengths(),
        'Adafactor.loadState',
        this.engine.options.momentumDtype,
      );
    } catch (error) {
      // Name the options behind a file that does not fit, where the file says which it had.
      throw new Error((error as Error).message + stateOptionsDifference(bytes, this.engine.options));
    }
    this.engine.writeState(checkpoint);
    this.recordedSteps = checkpoint.step;
  }

  /** Frees the optimizer's GPU buffers; the optimizer cannot step afterwards. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.engine.destroy();
  }

  private checkUsable(what = 'step()'): void {
    if (this.destroyed) throw new Error(`Adafactor: ${what} after destroy(); make a new optimizer`);
    if (this.deviceLostReason !== undefined)
      throw new Error(
        `Adafactor: ${what} after the GPUDevice was lost (${this.deviceLostReason}); make a new device and optimizer`,
      );
  }
}
