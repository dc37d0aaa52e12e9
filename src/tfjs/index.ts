/**
 * Adafactor for TensorFlow.js: `new AdafactorOptimizer(options)` wherever tfjs takes an optimizer
 * (`model.compile`, `minimize`, `applyGradients`). On the `webgpu` backend a step runs this
 * library's shaders on the backend's own GPUDevice, in place on the variables' own buffers (see
 * webgpu.ts); on every other backend it computes the same update with tfjs ops (stages.ts). Same
 * algorithm and options as the WebGPU `Adafactor` and the float64 reference (Hugging Face semantics).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type AdafactorOptions, type ResolvedOptions, resolveOptions } from '../core/options.js';
import { optionsFromJson, optionsToJson } from '../core/options_json.js';
import { gradScaleAt, stepSize } from '../core/schedules.js';
import { type Geometry, geometry, withFactoringRule } from '../core/shape.js';
import type { AdafactorStats } from '../core/stats.js';
import { SLOTS, STATE_SLOTS, type Slot, stateShapes } from '../state/tensors.js';
import { type AdafactorOptimizerGroup, VariableGroups, groupsFromConfig } from './groups.js';
import {
  type HostState,
  type NamedTensor,
  checkSlotsPresent,
  checkStateShapes,
  parseWeights,
  renamedRestores,
} from './restore.js';
import { OpsStats } from './ops_stats.js';
import { assignStep, nextValues, prepareGradients } from './stages.js';
import { webgpuBackend } from './backend.js';
import { WebGPUSteps } from './webgpu.js';

type SlotState = Partial<Record<Slot, tf.Variable>>;

export class AdafactorOptimizer extends tf.Optimizer {
  static get className(): string {
    return 'Adafactor';
  }

  private readonly resolved: ResolvedOptions;
  /**
   * Each variable's state lives in one of three places: tfjs variables (the tfjs-ops path),
   * the GPU (the webgpu path), or the CPU (restored by setWeights, not used yet).
   */
  private readonly slots = new Map<string, SlotState>();
  private readonly restored = new Map<string, HostState>();
  private gpu: WebGPUSteps | undefined;
  /** What the last step on the tfjs-ops path did, as tensors kept until the next step (see stats()). */
  private lastOpsStats: OpsStats | undefined;
  /** Which path took the last step. */
  private lastPath: 'webgpu' | 'ops' | undefined;
  /** Variable names in the order their state first appeared, the order of getWeights. */
  private readonly names = new Set<string>();

  /** The options as given (a copy: later changes to the caller's object change nothing), for getConfig and the webgpu path. */
  private readonly options: AdafactorOptions;

  /** Each variable's options: those of the first group that matches its name, else `options`. */
  private readonly groups: VariableGroups;

  /**
   * `options` apply to every variable but those of a group in `groups` ({ match, ...options }: a
   * variable takes the options of the first group whose `match`, a RegExp or a function of the
   * variable's name, matches it), as the WebGPU `Adafactor`'s parameter groups.
   */
  constructor(options: AdafactorOptions = {}, groups: readonly AdafactorOptimizerGroup[] = []) {
    super();
    this.resolved = resolveOptions(options, 'AdafactorOptimizer');
    this.options = { ...options, ...(options.limits ? { limits: { ...options.limits } } : {}) };
    this.groups = new VariableGroups(this.resolved, this.options, groups);
  }

  applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const named = (
      Array.isArray(variableGradients)
        ? variableGradients
        : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }))
    ).filter((g) => g.tensor != null);
    const entries = named.map(({ name, tensor }) => {
      const variable = tf.engine().registeredVariables[name];
      if (!variable) throw new Error(`AdafactorOptimizer: no variable named '${name}'`);
      return { name, variable, grad: tensor };
    });
    const step = this.iterations + 1;
    // A bad learning rate (or a step before decayOffset) in any group throws before anything changes.
    const scalars = this.groups.stepScalars(step);
    const gradScale = gradScaleAt(this.resolved, step, 'AdafactorOptimizer');
    const renamed = renamedRestores(
      entries,
      new Set(this.restored.keys()),
      (name) => this.slots.has(name) || this.restored.has(name) || Boolean(this.gpu?.owns(name)),
    );
    const restoredAs = (name: string) => renamed.get(name) ?? name;
    const backend = webgpuBackend(tf.getBackend(), tf.backend());
    if (backend && entries.length > 0) {
      this.gpu ??= new WebGPUSteps(this.options, this.groups);
      this.gpu.step(backend, entries, this.iterations, {
        read: (name) => this.restored.get(restoredAs(name)) ?? this.slotsOnHost(name),
        moved: (name) => {
          this.forgetHostState(name);
          this.adoptRestored(restoredAs(name), name);
        },
      });
      for (const e of entries) this.names.add(e.name);
      this.lastPath = 'webgpu';
      this.incrementIterations();
      return;
    }
    const onGpu = entries.find((e) => this.gpu?.owns(e.name));
    if (onGpu) {
      throw new Error(
        `AdafactorOptimizer: the state of '${onGpu.name}' lives on the webgpu backend; move it to '${tf.getBackend()}' with setWeights(await getWeights())`,
      );
    }
    // Every check before any state is made or changes, so that a refused step changes nothing.
    const checked = entries.map(({ name, variable, grad }) => {
      for (const [what, t] of [
        ['variable', variable],
        ['gradient', grad],
      ] as const) {
        if (t.isDisposed) throw new Error(`AdafactorOptimizer: the ${what} of '${name}' is disposed`);
      }
      if (grad.shape.join() !== variable.shape.join()) {
        throw new Error(
          `AdafactorOptimizer: the gradient of '${name}' has shape [${grad.shape.join(', ')}], its variable [${variable.shape.join(', ')}]`,
        );
      }
      const geom = this.geometryOf(name, variable.shape);
      const restored = this.slots.has(name) ? undefined : this.restored.get(restoredAs(name));
      if (restored)
        checkStateShapes(
          'AdafactorOptimizer',
          name,
          stateShapes(variable.shape, geom, this.groups.optionsOf(name).beta1 !== undefined),
          restored,
        );
      return { name, variable, grad, geom };
    });
    // An empty tensor has nothing to update (and tf.all of nothing is false).
    const planned = checked
      .map((c) => ({ ...c, slots: this.slotsOf(c.name, c.variable, c.geom, restoredAs(c.name)) }))
      .filter((p) => p.variable.size > 0);
    this.disposeStats();
    const stats: { name: string; values: tf.Tensor }[] = [];
    let skipped: tf.Tensor | undefined;
    const grads = tf.tidy(() =>
      prepareGradients(
        planned.map((p) => p.grad),
        this.resolved,
        gradScale,
      ),
    );
    const gradNorm = grads.length > planned.length ? grads.pop() : undefined;
    const next = (p: (typeof planned)[number], i: number) =>
      nextValues(
        p.variable,
        grads[i],
        p.geom,
        p.slots,
        this.groups.optionsOf(p.name),
        scalars[this.groups.indexOf(p.name)],
      );
    if (this.resolved.skipNonFinite) {
      tf.tidy(() => {
        const nexts = planned.map(next);
        // One decision for the whole step, taken by tensors: nothing is read back to the CPU.
        const ok = nexts.reduce((all, n) => tf.logicalAnd(all, n.finite!), tf.scalar(true, 'bool'));
        planned.forEach((p, i) => assignStep(p, nexts[i], ok));
        nexts.forEach((n, i) => stats.push({ name: planned[i].name, values: tf.keep(n.stats) }));
        skipped = tf.keep(tf.logicalNot(ok));
      });
    } else {
      for (const [i, p] of planned.entries()) {
        tf.tidy(() => {
          const values = next(p, i);
          assignStep(p, values);
          stats.push({ name: p.name, values: tf.keep(values.stats) });
        });
      }
    }
    tf.dispose(grads);
    this.lastOpsStats = new OpsStats(step, stats, skipped, gradNorm);
    this.lastPath = 'ops';
    this.incrementIterations();
  }

  /**
   * rho_t of step t, computed on the host: min(1e-2, 1/sqrt(t)) (with warmupInit min(1e-6 t,
   * 1/sqrt(t))), or lr(t) without relativeStep; of parameter group `group` where given, else of
   * the options outside every group. t defaults to the last step taken (1 before any).
   */
  learningRate(step = Math.max(1, this.iterations), group?: number): number {
    const where = 'AdafactorOptimizer.learningRate';
    if (!Number.isSafeInteger(step) || step < 1)
      throw new Error(`${where}: step must be an integer >= 1, got ${String(step)}`);
    if (group !== undefined && !(Number.isInteger(group) && group >= 0 && group < this.groups.count))
      throw new Error(
        `${where}: group must be the index of one of the ${this.groups.count} parameter groups, got ${String(group)}`,
      );
    const index = group ?? this.groups.count;
    return stepSize(this.groups.resolved[index] ?? this.resolved, step, this.groups.where(where, index));
  }

  /**
   * What the last step did to each variable with elements, as `Adafactor.stats()` reports it:
   * RMS(X_{t-1}), alpha_t, RMS(U) before clipping and the clip divisor, with the step's number and
   * whether skipNonFinite skipped it. Read back only when asked, on either path.
   */
  async stats(): Promise<AdafactorStats> {
    if (this.lastPath === 'webgpu') return (await this.gpu?.stats()) ?? { step: 0, skipped: false, tensors: [] };
    if (this.lastPath !== 'ops' || !this.lastOpsStats) return { step: 0, skipped: false, tensors: [] };
    return this.lastOpsStats.read();
  }

  /**
   * The optimizer state: the step count, then every slot under `<variable>/<Hugging Face name>`.
   * On the webgpu path this reads the state back from the GPU.
   */
  async getWeights(): Promise<NamedTensor[]> {
    const weights = [await this.saveIterations()];
    const onGpu = (await this.gpu?.read()) ?? new Map<string, HostState>();
    for (const name of this.names) {
      const slots = this.slots.get(name);
      const host = onGpu.get(name) ?? this.restored.get(name);
      for (const slot of SLOTS) {
        // Tensors of their own (the caller may dispose them), whichever path holds the state.
        const live = slots?.[slot];
        const tensor = live ? tf.clone(live) : host?.[slot] && tf.tensor(host[slot]!.data, host[slot]!.shape);
        if (tensor) weights.push({ name: `${name}/${STATE_SLOTS[slot].name}`, tensor });
      }
    }
    return weights;
  }

  /**
   * Restores state from getWeights; it replaces the state of the variables it names. Everything
   * is checked before anything changes (the step count included): a refused call changes nothing.
   */
  async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const where = 'AdafactorOptimizer.setWeights';
    const { iterations, given } = await parseWeights(where, weightValues, this.resolved.momentumDtype);
    for (const [name, state] of given) {
      checkSlotsPresent(where, name, state, this.groups.optionsOf(name).beta1 !== undefined);
      // A variable that exists already is checked now, rather than by the step that would meet it.
      const variable = tf.engine().registeredVariables[name];
      if (variable)
        checkStateShapes(
          where,
          name,
          stateShapes(
            variable.shape,
            this.geometryOf(name, variable.shape),
            this.groups.optionsOf(name).beta1 !== undefined,
          ),
          state,
        );
    }
    this.iterations_ = iterations;
    for (const [name, state] of given) {
      this.forgetHostState(name);
      this.gpu?.release(name);
      this.restored.set(name, state);
      this.names.add(name);
    }
  }

  /** Bytes of memory held for optimizer state (on the GPU, in tfjs variables, or restored and not yet used). */
  get stateBytes(): number {
    let bytes = this.gpu?.stateBytes ?? 0;
    for (const slots of this.slots.values()) for (const v of Object.values(slots)) bytes += 4 * v.size;
    for (const state of this.restored.values()) for (const s of Object.values(state)) bytes += s.data.byteLength;
    return bytes;
  }

  /** Frees the tensors that hold the last ops-path step's stats. */
  private disposeStats(): void {
    this.lastOpsStats?.dispose();
    this.lastOpsStats = undefined;
  }

  dispose(): void {
    this.disposeStats();
    for (const name of [...this.slots.keys()]) this.forgetHostState(name);
    this.restored.clear();
    this.gpu?.dispose();
    this.gpu = undefined;
    this.names.clear();
  }

  /**
   * The options given, as JSON keeps them (tfjs-layers saves this with `includeOptimizer`):
   * numbers, booleans and strings; a number JSON has no word for (`clipThreshold: Infinity`) as the
   * string that says it ('Infinity'), which fromConfig reads back; an option given as undefined is
   * left out, as JSON would. `limits` is left out too: it describes the device it was tested on,
   * not the optimizer.
   */
  getConfig(): tf.serialization.ConfigDict {
    for (const [key, what] of [
      ['lr', 'a learning-rate'],
      ['gradScale', 'a gradScale'],
    ] as const)
      if (typeof this.options[key] === 'function')
        throw new Error(`AdafactorOptimizer.getConfig: ${what} function cannot be serialized; pass a number`);
    if (typeof this.options.factorDims === 'function')
      throw new Error(
        "AdafactorOptimizer.getConfig: a factorDims function cannot be serialized; use 'last2', 'largest2' or 'conv'",
      );
    const { limits: _limits, ...options } = this.options;
    const config = optionsToJson(
      Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)),
    );
    return (
      this.groups.count > 0 ? { ...(config as object), groups: this.groups.toConfig() } : config
    ) as tf.serialization.ConfigDict;
  }

  /**
   * An optimizer from getConfig's config. tfjs-layers' loadLayersModel calls it through
   * deserializeKerasObject (tfjs-layers utils/generic_utils), which adds the key `customObjects`
   * (the custom classes in scope, for configs that nest objects) to the config: it is dropped
   * here; every other key must be an option.
   */
  static fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const { customObjects: _customObjects, groups, ...options } = config;
    return new (cls as unknown as new (options: AdafactorOptions, groups: AdafactorOptimizerGroup[]) => T)(
      optionsFromJson(options) as AdafactorOptions,
      groupsFromConfig(groups),
    );
  }

  /** How Adafactor sees a variable with these options: factored or not, and along which dims. */
  private geometryOf(name: string, shape: readonly number[]): Geometry {
    const o = this.groups.optionsOf(name);
    return withFactoringRule(
      geometry(shape, `AdafactorOptimizer: variable '${name}'`),
      shape,
      o.factorDims,
      o.minDimSizeToFactor,
      `AdafactorOptimizer: variable '${name}'`,
    );
  }

  /** State restored under `from` is the variable `to`'s now, which takes its place in getWeights' order. */
  private adoptRestored(from: string, to: string): void {
    this.restored.delete(from);
    if (from === to || !this.names.has(from)) return;
    const order = [...this.names].map((name) => (name === from ? to : name));
    this.names.clear();
    for (const name of order) this.names.add(name);
  }

  /**
   * The tfjs-ops path's state of a variable: restored state where setWeights gave it, under the
   * variable's name or `restoredAs` (its shapes checked by the caller), else zeros.
   */
  private slotsOf(name: string, variable: tf.Variable, geom: Geometry, restoredAs = name): SlotState {
    let slots = this.slots.get(name);
    if (!slots) {
      const restored = this.restored.get(restoredAs) ?? {};
      slots = {};
      for (const [slot, shape] of Object.entries(
        stateShapes(variable.shape, geom, this.groups.optionsOf(name).beta1 !== undefined),
      ) as [Slot, number[]][]) {
        const r = restored[slot];
        slots[slot] = tf.tidy(() => tf.variable(r ? tf.tensor(r.data, shape) : tf.zeros(shape), false));
      }
      this.adoptRestored(restoredAs, name);
      this.slots.set(name, slots);
      this.names.add(name);
    }
    return slots;
  }

  /** The tfjs-ops path's state of a variable as CPU arrays, for the webgpu path to take over. */
  private slotsOnHost(name: string): HostState | undefined {
    const slots = this.slots.get(name);
    if (!slots) return undefined;
    const state: HostState = {};
    for (const [slot, v] of Object.entries(slots) as [Slot, tf.Variable][])
      state[slot] = { shape: [...v.shape], data: Float32Array.from(v.dataSync()) };
    return state;
  }

  /** Drops the CPU-side state of a variable (its tfjs variables, or restored arrays). */
  private forgetHostState(name: string): void {
    for (const v of Object.values(this.slots.get(name) ?? {})) v.dispose();
    this.slots.delete(name);
    this.restored.delete(name);
  }
}

tf.serialization.registerClass(AdafactorOptimizer);

export { tfjsDevice } from './backend.js';
export type { AdafactorOptimizerGroup } from './groups.js';
