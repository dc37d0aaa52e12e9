/**
 * Adafactor for TensorFlow.js: `new AdafactorOptimizer(options)` wherever tfjs takes an optimizer
 * (`model.compile`, `minimize`, `applyGradients`). On the `webgpu` backend a step runs this
 * library's shaders on the backend's own GPUDevice, in place on the variables' own buffers (see
 * tfjs_webgpu.ts); on every other backend it computes the same update with tfjs ops. Same
 * algorithm and options as the WebGPU `Adafactor` and the float64 reference (Hugging Face semantics).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type AdafactorOptions, type ResolvedOptions, beta2, oneMinusBeta2, resolveOptions, stepSize } from './options.js';
import { type Geometry, geometry, withFactoringRule } from './shape.js';
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
  /** Variable names in the order their state first appeared, the order of getWeights. */
  private readonly names = new Set<string>();

  constructor(private readonly options: AdafactorOptions = {}) {
    super();
    this.resolved = resolveOptions(options, 'AdafactorOptimizer');
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
    const rho = stepSize(o, step, 'AdafactorOptimizer'); // a bad learning rate throws before anything changes
    const backend = webgpuBackend(tf.getBackend(), tf.backend());
    if (backend) {
      this.gpu ??= new WebGPUSteps(this.options);
      this.gpu.step(backend, entries, this.iterations, {
        read: (name) => this.restored.get(name) ?? this.slotsOnHost(name),
        moved: (name) => this.forgetHostState(name),
      });
      for (const e of entries) this.names.add(e.name);
      this.incrementIterations();
      return;
    }
    const onGpu = entries.find((e) => this.gpu?.owns(e.name));
    if (onGpu) {
      throw new Error(`AdafactorOptimizer: the state of '${onGpu.name}' lives on the webgpu backend; move it to '${tf.getBackend()}' with setWeights(await getWeights())`);
    }
    const decay = beta2(o, step);
    const rate = oneMinusBeta2(o, step);
    // Every check (and every slot) before any variable changes.
    const planned = entries.map(({ name, variable, grad }) => {
      if (grad.shape.join() !== variable.shape.join()) {
        throw new Error(`AdafactorOptimizer: the gradient of '${name}' has shape [${grad.shape.join(', ')}], its variable [${variable.shape.join(', ')}]`);
      }
      const geom = withFactoringRule(geometry(variable.shape, `AdafactorOptimizer: variable '${name}'`), variable.shape, o.factorDims, o.minDimSizeToFactor);
      return { name, variable, grad, geom, slots: this.slotsOf(name, variable, geom) };
    });
    for (const { variable, grad, geom, slots } of planned) {
      tf.tidy(() => {
        const x = variable as tf.Tensor;
        const g = tf.cast(grad, 'float32');
        const rms = (a: tf.Tensor) => tf.sqrt(tf.mean(tf.square(a)));
        const paramRms = rms(x);
        // Python's max(eps2, RMS), as Hugging Face: eps2 unless RMS > eps2.
        const alpha = o.scaleParameter ? tf.mul(rho, tf.where(tf.greater(paramRms, o.eps2), paramRms, tf.scalar(o.eps2))) : tf.scalar(rho);
        const q = tf.add(tf.square(g), o.eps1);
        let update: tf.Tensor;
        if (geom.factored) {
          const row = tf.add(tf.mul(slots.row!, decay), tf.mul(tf.mean(q, geom.colDim), rate));
          const col = tf.add(tf.mul(slots.col!, decay), tf.mul(tf.mean(q, geom.rowDim), rate));
          slots.row!.assign(row);
          slots.col!.assign(col);
          const rowFactor = tf.rsqrt(tf.div(row, tf.mean(row, geom.rowDim, true)));
          update = tf.mul(tf.mul(g, tf.expandDims(rowFactor, geom.colDim)), tf.expandDims(tf.rsqrt(col), geom.rowDim));
        } else {
          const full = tf.add(tf.mul(slots.full!, decay), tf.mul(q, rate));
          slots.full!.assign(full);
          update = tf.mul(g, tf.rsqrt(full));
        }
        // Clip: U / max(1, RMS(U) / d), NaN staying NaN as with torch's clamp.
        const ratio = tf.div(rms(update), o.clipThreshold);
        update = tf.div(update, tf.where(tf.isNaN(ratio), ratio, tf.maximum(ratio, 1)));
        update = tf.mul(update, alpha);
        if (slots.momentum) {
          const m = tf.add(tf.mul(slots.momentum, o.beta1!), tf.mul(update, 1 - o.beta1!));
          slots.momentum.assign(m);
          update = m;
        }
        const decayFactor = tf.mul(o.weightDecay, o.weightDecayScale === 'alpha' ? alpha : tf.scalar(1));
        variable.assign(tf.sub(tf.sub(x, tf.mul(decayFactor, x)), update));
      });
    }
    this.incrementIterations();
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

  /** Restores state from getWeights; it replaces the state of the variables it names. */
  async setWeights(weightValues: NamedTensor[]): Promise<void> {
    // Names are checked before anything changes, the step count included.
    const parsed = weightValues.slice(1).map(({ name, tensor }) => {
      const at = name.lastIndexOf('/');
      const slot = (Object.keys(SLOT_NAMES) as Slot[]).find((s) => SLOT_NAMES[s] === name.slice(at + 1));
      if (at <= 0 || !slot) throw new Error(`AdafactorOptimizer.setWeights: '${name}' is not '<variable>/<slot>' with a slot of ${Object.values(SLOT_NAMES).join(', ')}`);
      return { variableName: name.slice(0, at), slot, tensor };
    });
    const given = new Map<string, HostState>();
    for (const { variableName, slot, tensor } of parsed) {
      const state = given.get(variableName) ?? {};
      state[slot] = { shape: [...tensor.shape], data: Float32Array.from(await tensor.data()) };
      given.set(variableName, state);
    }
    await this.extractIterations(weightValues);
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

  dispose(): void {
    for (const name of [...this.slots.keys()]) this.forgetHostState(name);
    this.restored.clear();
    this.gpu?.dispose();
    this.gpu = undefined;
    this.names.clear();
  }

  getConfig(): tf.serialization.ConfigDict {
    if (typeof this.options.lr === 'function') throw new Error('AdafactorOptimizer.getConfig: a learning-rate function cannot be serialized; pass a number');
    const { limits: _limits, ...config } = this.options;
    return config as tf.serialization.ConfigDict;
  }

  static fromConfig<T extends tf.serialization.Serializable>(cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return new (cls as unknown as new (options: AdafactorOptions) => T)(config as AdafactorOptions);
  }

  /** The tfjs-ops path's state of a variable: restored state where setWeights gave it, else zeros. */
  private slotsOf(name: string, variable: tf.Variable, geom: Geometry): SlotState {
    let slots = this.slots.get(name);
    if (!slots) {
      const restored = this.restored.get(name) ?? {};
      const without = (dim: number) => variable.shape.filter((_, i) => i !== dim);
      const shapes: Partial<Record<Slot, number[]>> = geom.factored ? { row: without(geom.colDim), col: without(geom.rowDim) } : { full: [...variable.shape] };
      if (this.resolved.beta1 !== undefined) shapes.momentum = [...variable.shape];
      for (const slot of Object.keys(restored) as Slot[]) {
        const expected = shapes[slot];
        const got = restored[slot]!.shape;
        if (!expected || expected.join() !== got.join()) {
          throw new Error(`AdafactorOptimizer: the ${SLOT_NAMES[slot]} state of '${name}' has shape [${got.join(', ')}], expected ${expected ? `[${expected.join(', ')}]` : 'none with these options'}`);
        }
      }
      slots = {};
      for (const [slot, shape] of Object.entries(shapes) as [Slot, number[]][]) {
        const r = restored[slot];
        slots[slot] = tf.tidy(() => tf.variable(r ? tf.tensor(r.data, shape) : tf.zeros(shape), false));
      }
      this.restored.delete(name);
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
