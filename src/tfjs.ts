/**
 * Adafactor for TensorFlow.js: `new AdafactorOptimizer(options)` wherever tfjs takes an optimizer
 * (`model.compile`, `minimize`, `applyGradients`). On the `webgpu` backend a step runs this
 * library's shaders on the backend's own GPUDevice, in place on the variables' own buffers (see
 * tfjs_webgpu.ts); on every other backend it computes the same update with tfjs ops. Same
 * algorithm and options as the WebGPU `Adafactor` and the float64 reference (Hugging Face semantics).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AdafactorStats } from './adafactor.js';
import { type AdafactorOptions, type ResolvedOptions, beta2, oneMinusBeta2, resolveOptions, stepSize } from './options.js';
import { type Geometry, geometry, withFactoringRule } from './shape.js';
import { checkStateValues, stateKindOf } from './state_values.js';
import { type HostState, SLOT_NAMES, type Slot, WebGPUSteps, webgpuBackend } from './tfjs_webgpu.js';

/** A named tensor, as tfjs optimizers exchange them (not exported by tfjs-core's index). */
type NamedTensor = { name: string; tensor: tf.Tensor };

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
  private lastOpsStats: { step: number; skipped?: tf.Tensor; tensors: { name: string; values: tf.Tensor }[] } | undefined;
  /** Which path took the last step. */
  private lastPath: 'webgpu' | 'ops' | undefined;
  /** Variable names in the order their state first appeared, the order of getWeights. */
  private readonly names = new Set<string>();

  /** The options as given (a copy: later changes to the caller's object change nothing), for getConfig and the webgpu path. */
  private readonly options: AdafactorOptions;

  constructor(options: AdafactorOptions = {}) {
    super();
    this.resolved = resolveOptions(options, 'AdafactorOptimizer');
    this.options = { ...options, ...(options.limits ? { limits: { ...options.limits } } : {}) };
  }

  applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const named = (Array.isArray(variableGradients) ? variableGradients : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }))).filter(
      (g) => g.tensor != null,
    );
    const entries = named.map(({ name, tensor }) => {
      const variable = tf.engine().registeredVariables[name];
      if (!variable) throw new Error(`AdafactorOptimizer: no variable named '${name}'`);
      return { name, variable, grad: tensor };
    });
    const step = this.iterations + 1;
    const o = this.resolved;
    // A bad learning rate (or a step before decayOffset) throws before anything changes.
    const rho = stepSize(o, step, 'AdafactorOptimizer');
    const decay = beta2(o, step);
    const rate = oneMinusBeta2(o, step, 'AdafactorOptimizer');
    const renamed = this.renamedRestores(entries);
    const restoredAs = (name: string) => renamed.get(name) ?? name;
    const backend = webgpuBackend(tf.getBackend(), tf.backend());
    if (backend && entries.length > 0) {
      this.gpu ??= new WebGPUSteps(this.options);
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
      throw new Error(`AdafactorOptimizer: the state of '${onGpu.name}' lives on the webgpu backend; move it to '${tf.getBackend()}' with setWeights(await getWeights())`);
    }
    // Every check before any state is made or changes, so that a refused step changes nothing.
    const checked = entries.map(({ name, variable, grad }) => {
      for (const [what, t] of [['variable', variable], ['gradient', grad]] as const) {
        if (t.isDisposed) throw new Error(`AdafactorOptimizer: the ${what} of '${name}' is disposed`);
      }
      if (grad.shape.join() !== variable.shape.join()) {
        throw new Error(`AdafactorOptimizer: the gradient of '${name}' has shape [${grad.shape.join(', ')}], its variable [${variable.shape.join(', ')}]`);
      }
      const geom = this.geometryOf(name, variable.shape);
      const restored = this.slots.has(name) ? undefined : this.restored.get(restoredAs(name));
      if (restored) checkStateShapes('AdafactorOptimizer', name, stateShapes(variable.shape, geom, o), restored);
      return { name, variable, grad, geom };
    });
    // An empty tensor has nothing to update (and tf.all of nothing is false).
    const planned = checked.map((c) => ({ ...c, slots: this.slotsOf(c.name, c.variable, c.geom, restoredAs(c.name)) })).filter((p) => p.variable.size > 0);
    this.disposeStats();
    const stats: { name: string; values: tf.Tensor }[] = [];
    let skipped: tf.Tensor | undefined;
    if (o.skipNonFinite) {
      tf.tidy(() => {
        const next = planned.map((p) => nextValues(p, o, rho, decay, rate));
        // One decision for the whole step, taken by tensors: nothing is read back to the CPU.
        const ok = next.reduce((all, n) => tf.logicalAnd(all, n.finite!), tf.scalar(true, 'bool'));
        planned.forEach((p, i) => assignStep(p, next[i], ok));
        next.forEach((n, i) => stats.push({ name: planned[i].name, values: tf.keep(n.stats) }));
        skipped = tf.keep(tf.logicalNot(ok));
      });
    } else {
      for (const p of planned) {
        tf.tidy(() => {
          const next = nextValues(p, o, rho, decay, rate);
          assignStep(p, next);
          stats.push({ name: p.name, values: tf.keep(next.stats) });
        });
      }
    }
    this.lastOpsStats = { step, skipped, tensors: stats };
    this.lastPath = 'ops';
    this.incrementIterations();
  }

  /**
   * rho_t of step t, computed on the host: min(1e-2, 1/sqrt(t)) (with warmupInit min(1e-6 t,
   * 1/sqrt(t))), or lr(t) without relativeStep. t defaults to the last step taken (1 before any).
   */
  learningRate(step = Math.max(1, this.iterations)): number {
    if (!Number.isSafeInteger(step) || step < 1) throw new Error(`AdafactorOptimizer.learningRate: step must be an integer >= 1, got ${String(step)}`);
    return stepSize(this.resolved, step, 'AdafactorOptimizer.learningRate');
  }

  /**
   * What the last step did to each variable with elements, as `Adafactor.stats()` reports it:
   * RMS(X_{t-1}), alpha_t, RMS(U) before clipping and the clip divisor, with the step's number and
   * whether skipNonFinite skipped it. Read back only when asked, on either path.
   */
  async stats(): Promise<AdafactorStats> {
    if (this.lastPath === 'webgpu') return (await this.gpu?.stats()) ?? { step: 0, skipped: false, tensors: [] };
    const last = this.lastOpsStats;
    if (this.lastPath !== 'ops' || !last) return { step: 0, skipped: false, tensors: [] };
    const tensors = await Promise.all(
      last.tensors.map(async ({ name, values }) => {
        const [paramRms, alpha, updateRms, clipDivisor] = await values.data();
        return { name, paramRms, stepSize: alpha, updateRms, clipDivisor };
      }),
    );
    return { step: last.step, skipped: last.skipped ? Boolean((await last.skipped.data())[0]) : false, tensors };
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
      for (const slot of Object.keys(SLOT_NAMES) as Slot[]) {
        // Tensors of their own (the caller may dispose them), whichever path holds the state.
        const live = slots?.[slot];
        const tensor = live ? tf.clone(live) : host?.[slot] && tf.tensor(host[slot]!.data, host[slot]!.shape);
        if (tensor) weights.push({ name: `${name}/${SLOT_NAMES[slot]}`, tensor });
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
    if (!Array.isArray(weightValues) || weightValues.length === 0) {
      throw new Error(`${where}: expected a non-empty array of { name, tensor }, the step count first, as getWeights returns`);
    }
    weightValues.forEach((w, i) => {
      if (typeof w?.name !== 'string' || !(w.tensor instanceof tf.Tensor)) throw new Error(`${where}: weight ${i} ('${String(w?.name)}') is not a { name, tensor }`);
      if (w.tensor.isDisposed) throw new Error(`${where}: the tensor of '${w.name}' is disposed`);
    });
    const [first, ...rest] = weightValues;
    const counts = await first.tensor.data();
    const iterations = counts[0];
    if (counts.length !== 1 || typeof iterations !== 'number' || !Number.isSafeInteger(iterations) || iterations < 0) {
      const value = counts.length === 1 ? String(iterations) : `${counts.length} values`;
      throw new Error(`${where}: the first weight ('${first.name}') is the step count and holds ${value}; it must be one integer >= 0`);
    }
    const given = new Map<string, HostState>();
    for (const { name, tensor } of rest) {
      const at = name.lastIndexOf('/');
      const slot = (Object.keys(SLOT_NAMES) as Slot[]).find((s) => SLOT_NAMES[s] === name.slice(at + 1));
      if (at <= 0 || !slot) throw new Error(`${where}: '${name}' is not '<variable>/<slot>' with a slot of ${Object.values(SLOT_NAMES).join(', ')}`);
      const variableName = name.slice(0, at);
      const state = given.get(variableName) ?? {};
      if (state[slot]) throw new Error(`${where}: '${name}' is given twice`);
      const data = Float32Array.from(await tensor.data());
      checkStateValues(where, `'${name}'`, stateKindOf(SLOT_NAMES[slot]), data);
      state[slot] = { shape: [...tensor.shape], data };
      given.set(variableName, state);
    }
    for (const [name, state] of given) {
      checkSlotsPresent(where, name, state, this.resolved.beta1 !== undefined);
      // A variable that exists already is checked now, rather than by the step that would meet it.
      const variable = tf.engine().registeredVariables[name];
      if (variable) checkStateShapes(where, name, stateShapes(variable.shape, this.geometryOf(name, variable.shape), this.resolved), state);
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
    if (!this.lastOpsStats) return;
    tf.dispose([...this.lastOpsStats.tensors.map((t) => t.values), ...(this.lastOpsStats.skipped ? [this.lastOpsStats.skipped] : [])]);
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
   * numbers, booleans and strings; an option given as undefined is left out, as JSON would.
   * `limits` is left out too: it describes the device it was tested on, not the optimizer.
   */
  getConfig(): tf.serialization.ConfigDict {
    if (typeof this.options.lr === 'function') throw new Error('AdafactorOptimizer.getConfig: a learning-rate function cannot be serialized; pass a number');
    const { limits: _limits, ...options } = this.options;
    return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as tf.serialization.ConfigDict;
  }

  /**
   * An optimizer from getConfig's config. tfjs-layers' loadLayersModel calls it through
   * deserializeKerasObject (tfjs-layers utils/generic_utils), which adds the key `customObjects`
   * (the custom classes in scope, for configs that nest objects) to the config: it is dropped
   * here; every other key must be an option.
   */
  static fromConfig<T extends tf.serialization.Serializable>(cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    const { customObjects: _customObjects, ...options } = config;
    return new (cls as unknown as new (options: AdafactorOptions) => T)(options as AdafactorOptions);
  }

  /** How Adafactor sees a variable with these options: factored or not, and along which dims. */
  private geometryOf(name: string, shape: readonly number[]): Geometry {
    const o = this.resolved;
    return withFactoringRule(geometry(shape, `AdafactorOptimizer: variable '${name}'`), shape, o.factorDims, o.minDimSizeToFactor);
  }

  /**
   * Where the state of each variable of a step that has none yet was restored, when that is
   * another name (else the variable's own name is used).
   *
   * tfjs-layers names a layer's variable `<layer>/<weight>`, and when that name was taken before
   * in this page adds `_<n>` (getUniqueTensorName, tfjs-layers' common.js): a model loaded while
   * the saved one lives has `dense_Dense1/kernel_1` where the state saved is
   * `dense_Dense1/kernel/...`, and a model saved after such a load has it the other way round.
   * tfjs-layers' own loadWeights matches the model's weights by the name without the suffix
   * (`originalName`); its loadLayersModel hands the saved optimizer weights to setWeights as they
   * are, and the optimizer sees only the engine's names. So state restored under a name that is
   * the variable's but for that suffix is the variable's, when it is not the state of another
   * variable of the step; where more than one could be meant, the step is refused.
   */
  private renamedRestores(entries: readonly { name: string }[]): Map<string, string> {
    const renamed = new Map<string, string>();
    if (this.restored.size === 0) return renamed;
    const stepped = new Set(entries.map((e) => e.name));
    const unclaimed = [...this.restored.keys()].filter((name) => !stepped.has(name));
    const claimedBy = new Map<string, string>();
    for (const { name } of entries) {
      if (this.slots.has(name) || this.restored.has(name) || this.gpu?.owns(name)) continue;
      const originals = layersOriginalNames(name);
      const candidates = unclaimed.filter((saved) => layersOriginalNames(saved).some((n) => originals.includes(n)));
      if (candidates.length === 0) continue;
      const why = "tfjs-layers adds '_<n>' to the name of a variable whose name is taken; setWeights with the state under the variable's own name";
      if (candidates.length > 1) throw new Error(`AdafactorOptimizer: the state of '${name}' could be that restored under ${candidates.map((c) => `'${c}'`).join(' or ')} (${why})`);
      const other = claimedBy.get(candidates[0]);
      if (other) throw new Error(`AdafactorOptimizer: the state restored under '${candidates[0]}' could be that of '${other}' or of '${name}' (${why})`);
      claimedBy.set(candidates[0], name);
      renamed.set(name, candidates[0]);
    }
    return renamed;
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
      for (const [slot, shape] of Object.entries(stateShapes(variable.shape, geom, this.resolved)) as [Slot, number[]][]) {
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
    for (const [slot, v] of Object.entries(slots) as [Slot, tf.Variable][]) state[slot] = { shape: [...v.shape], data: Float32Array.from(v.dataSync()) };
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

/**
 * The names a variable may have been saved under by tfjs-layers: its own, and, for a layer's
 * `<layer>/<weight>_<n>`, the name before tfjs-layers made it unique (see renamedRestores).
 */
function layersOriginalNames(name: string): string[] {
  const unique = /^(.*\/[^/]+)_\d+$/.exec(name);
  return unique ? [name, unique[1]] : [name];
}

/** The shapes of a variable's state with these options, by slot. */
function stateShapes(shape: readonly number[], geom: Geometry, o: ResolvedOptions): Partial<Record<Slot, number[]>> {
  const without = (dim: number) => shape.filter((_, i) => i !== dim);
  const shapes: Partial<Record<Slot, number[]>> = geom.factored ? { row: without(geom.colDim), col: without(geom.rowDim) } : { full: [...shape] };
  if (o.beta1 !== undefined) shapes.momentum = [...shape];
  return shapes;
}

/**
 * Restored state must be whole: a slot left out would restart at zero, which no step produces
 * (and a lone row or column second moment cannot even be used).
 */
function checkSlotsPresent(where: string, name: string, state: HostState, withMomentum: boolean): void {
  const has = (slot: Slot) => state[slot] !== undefined;
  if (has('full') && (has('row') || has('col'))) {
    throw new Error(`${where}: '${name}' has both ${SLOT_NAMES.full} and ${has('row') ? SLOT_NAMES.row : SLOT_NAMES.col}; its second moment is factored or not, never both`);
  }
  if (has('row') !== has('col')) {
    const [present, missing] = has('row') ? [SLOT_NAMES.row, SLOT_NAMES.col] : [SLOT_NAMES.col, SLOT_NAMES.row];
    throw new Error(`${where}: '${name}' has ${present} but no ${missing}; a factored second moment needs both`);
  }
  if (!has('full') && !has('row')) {
    throw new Error(`${where}: '${name}' has no second moment (${SLOT_NAMES.full}, or ${SLOT_NAMES.row} and ${SLOT_NAMES.col})`);
  }
  if (has('momentum') && !withMomentum) throw new Error(`${where}: '${name}' has ${SLOT_NAMES.momentum}, which these options (no beta1) do not keep`);
  if (!has('momentum') && withMomentum) throw new Error(`${where}: '${name}' has no ${SLOT_NAMES.momentum}, which these options (beta1) keep`);
}

/** Restored state must have exactly the slots, and the shapes, that the variable's state has. */
function checkStateShapes(where: string, name: string, expected: Partial<Record<Slot, number[]>>, state: HostState): void {
  const slotNames = (slots: Partial<Record<Slot, unknown>>) => (Object.keys(SLOT_NAMES) as Slot[]).filter((slot) => slots[slot]).map((slot) => SLOT_NAMES[slot]).join(', ');
  if (slotNames(state) !== slotNames(expected)) {
    throw new Error(`${where}: the state of '${name}' has ${slotNames(state)}; with these options it keeps ${slotNames(expected)}`);
  }
  for (const slot of Object.keys(expected) as Slot[]) {
    const [want, got] = [expected[slot]!, state[slot]!.shape];
    if (want.join() !== got.join()) throw new Error(`${where}: the ${SLOT_NAMES[slot]} state of '${name}' has shape [${got.join(', ')}], expected [${want.join(', ')}]`);
  }
}

/** A variable, its gradient and its state, checked for one step. */
interface Planned {
  variable: tf.Variable;
  grad: tf.Tensor;
  geom: Geometry;
  slots: SlotState;
}

/** What one step computes for one variable. */
interface NextValues {
  param: tf.Tensor;
  /** [RMS(X_{t-1}), alpha_t, RMS(U) before clipping, the clip divisor], for stats(). */
  stats: tf.Tensor;
  state: Partial<Record<Slot, tf.Tensor>>;
  /** With skipNonFinite: a bool scalar, whether every number of this step is finite. */
  finite?: tf.Tensor;
}

/** Assigns a step's new values; given `ok` (a bool scalar), only where it is true: all or nothing. */
function assignStep(p: Planned, next: NextValues, ok?: tf.Tensor): void {
  const keep = (variable: tf.Variable, value: tf.Tensor) => variable.assign(ok ? tf.where(ok, value, variable) : value);
  for (const [slot, value] of Object.entries(next.state) as [Slot, tf.Tensor][]) keep(p.slots[slot]!, value);
  keep(p.variable, next.param);
}

/**
 * One step of one variable with tfjs ops: its new value and new state, nothing assigned. With
 * skipNonFinite, also whether everything the step computed is finite, in f32 as on the GPU: the
 * gradient, the squares and their row, column and whole sums, alpha, the new state and value.
 */
function nextValues({ variable, grad, geom, slots }: Planned, o: ResolvedOptions, rho: number, decay: number, rate: number): NextValues {
  const x = variable as tf.Tensor;
  const g = tf.cast(grad, 'float32');
  const rms = (a: tf.Tensor) => tf.sqrt(tf.mean(tf.square(a)));
  const paramRms = rms(x);
  // Python's max(eps2, RMS), as Hugging Face: eps2 unless RMS > eps2.
  const alpha = o.scaleParameter ? tf.mul(rho, tf.where(tf.greater(paramRms, o.eps2), paramRms, tf.scalar(o.eps2))) : tf.scalar(rho);
  const floored = o.eps1Mode === 'floor';
  const q = floored ? tf.square(g) : tf.add(tf.square(g), o.eps1);
  const state: Partial<Record<Slot, tf.Tensor>> = {};
  let normalized: tf.Tensor;
  if (geom.factored) {
    state.row = tf.add(tf.mul(slots.row!, decay), tf.mul(tf.mean(q, geom.colDim), rate));
    state.col = tf.add(tf.mul(slots.col!, decay), tf.mul(tf.mean(q, geom.rowDim), rate));
    const rowMean = tf.mean(state.row, geom.rowDim, true);
    if (floored) {
      // PyTorch: G / sqrt(max(R C / max(mean(R), eps1), eps1^2)).
      const estimate = tf.mul(tf.expandDims(tf.div(state.row, tf.maximum(rowMean, o.eps1)), geom.colDim), tf.expandDims(state.col, geom.rowDim));
      normalized = tf.mul(g, tf.rsqrt(tf.maximum(estimate, o.eps1 * o.eps1)));
    } else {
      const rowFactor = tf.rsqrt(tf.div(state.row, rowMean));
      normalized = tf.mul(tf.mul(g, tf.expandDims(rowFactor, geom.colDim)), tf.expandDims(tf.rsqrt(state.col), geom.rowDim));
    }
  } else {
    state.full = tf.add(tf.mul(slots.full!, decay), tf.mul(q, rate));
    normalized = tf.mul(g, tf.rsqrt(floored ? tf.maximum(state.full, o.eps1 * o.eps1) : state.full));
  }
  // Clip: U / max(1, RMS(U) / d), NaN staying NaN as with torch's clamp.
  const updateRms = rms(normalized);
  const ratio = tf.div(updateRms, o.clipThreshold);
  const clipDivisor = tf.where(tf.isNaN(ratio), ratio, tf.maximum(ratio, 1));
  let update = tf.mul(tf.div(normalized, clipDivisor), alpha);
  const stats = tf.stack([paramRms, alpha, updateRms, clipDivisor]);
  if (slots.momentum) {
    state.momentum = tf.add(tf.mul(slots.momentum, o.beta1!), tf.mul(update, 1 - o.beta1!));
    update = state.momentum;
  }
  const decayFactor = tf.mul(o.weightDecay, o.weightDecayScale === 'alpha' ? alpha : tf.scalar(1));
  const param = tf.sub(tf.sub(x, tf.mul(decayFactor, x)), update);
  if (!o.skipNonFinite) return { param, state, stats };
  // tfjs's mean divides before it sums, so the sums that overflow in f32 on the GPU are formed here.
  const squareSums = geom.factored ? [tf.sum(q, geom.colDim), tf.sum(q, geom.rowDim)] : [q];
  const checked = [g, ...squareSums, tf.sum(tf.square(x)), tf.sum(tf.square(normalized)), alpha, param, ...Object.values(state)];
  const finite = checked.map((t) => tf.all(tf.isFinite(t))).reduce((all, f) => tf.logicalAnd(all, f));
  return { param, state, stats, finite };
}
