/**
 * Adafactor for TensorFlow.js: `new AdafactorOptimizer(options)` wherever tfjs takes an optimizer
 * (`model.compile`, `minimize`, `applyGradients`). This entry point computes the update with
 * tfjs ops, so it works on every backend; it is the same algorithm as the WebGPU `Adafactor`
 * and the float64 reference (Hugging Face semantics, same options).
 */
import * as tf from '@tensorflow/tfjs-core';

/** A named tensor, as tfjs optimizers exchange them (not exported by tfjs-core's index). */
type NamedTensor = { name: string; tensor: tf.Tensor };
import { type AdafactorOptions, type ResolvedOptions, beta2, oneMinusBeta2, resolveOptions, stepSize } from './options.js';
import { type Geometry, geometry, withFactoringRule } from './shape.js';

interface SlotState {
  row?: tf.Variable;
  col?: tf.Variable;
  full?: tf.Variable;
  momentum?: tf.Variable;
}

const SLOT_NAMES = { row: 'exp_avg_sq_row', col: 'exp_avg_sq_col', full: 'exp_avg_sq', momentum: 'exp_avg' } as const;
type Slot = keyof typeof SLOT_NAMES;

export class AdafactorOptimizer extends tf.Optimizer {
  static get className(): string {
    return 'Adafactor';
  }

  private readonly resolved: ResolvedOptions;
  private readonly slots = new Map<string, SlotState>();

  constructor(private readonly options: AdafactorOptions = {}) {
    super();
    this.resolved = resolveOptions(options, 'AdafactorOptimizer');
  }

  applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const named = Array.isArray(variableGradients) ? variableGradients : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }));
    const step = this.iterations + 1;
    const o = this.resolved;
    const decay = beta2(o, step);
    const rate = oneMinusBeta2(o, step);
    const rho = stepSize(o, step, 'AdafactorOptimizer');
    for (const { name, tensor: grad } of named) {
      if (grad == null) continue;
      const variable = tf.engine().registeredVariables[name];
      if (!variable) throw new Error(`AdafactorOptimizer: no variable named '${name}'`);
      const geom = withFactoringRule(geometry(variable.shape, `AdafactorOptimizer: variable '${name}'`), variable.shape, o.factorDims, o.minDimSizeToFactor);
      const slots = this.slotsOf(name, variable, geom);
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

  /** The optimizer state: the step count, then every slot under `<variable>/<Hugging Face name>`. */
  async getWeights(): Promise<NamedTensor[]> {
    const weights = [await this.saveIterations()];
    for (const [name, slots] of this.slots) {
      for (const slot of Object.keys(SLOT_NAMES) as Slot[]) {
        const v = slots[slot];
        if (v) weights.push({ name: `${name}/${SLOT_NAMES[slot]}`, tensor: v });
      }
    }
    return weights;
  }

  async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    for (const { name, tensor } of rest) {
      const at = name.lastIndexOf('/');
      const variableName = name.slice(0, at);
      const slot = (Object.keys(SLOT_NAMES) as Slot[]).find((s) => SLOT_NAMES[s] === name.slice(at + 1));
      if (!slot) throw new Error(`AdafactorOptimizer.setWeights: '${name}' is not an Adafactor slot`);
      const slots = this.slots.get(variableName) ?? {};
      slots[slot]?.dispose();
      slots[slot] = tf.variable(tensor, false);
      this.slots.set(variableName, slots);
    }
  }

  dispose(): void {
    for (const slots of this.slots.values()) for (const v of Object.values(slots)) v?.dispose();
    this.slots.clear();
  }

  getConfig(): tf.serialization.ConfigDict {
    if (typeof this.options.lr === 'function') throw new Error('AdafactorOptimizer.getConfig: a learning-rate function cannot be serialized; pass a number');
    const { limits: _limits, ...config } = this.options;
    return config as tf.serialization.ConfigDict;
  }

  static fromConfig<T extends tf.serialization.Serializable>(cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return new (cls as unknown as new (options: AdafactorOptions) => T)(config as AdafactorOptions);
  }

  private slotsOf(name: string, variable: tf.Variable, geom: Geometry): SlotState {
    let slots = this.slots.get(name);
    if (!slots) {
      slots = {};
      const zeros = (shape: number[]) => tf.tidy(() => tf.variable(tf.zeros(shape), false));
      const without = (dim: number) => variable.shape.filter((_, i) => i !== dim);
      if (geom.factored) {
        slots.row = zeros(without(geom.colDim));
        slots.col = zeros(without(geom.rowDim));
      } else {
        slots.full = zeros(variable.shape);
      }
      if (this.resolved.beta1 !== undefined) slots.momentum = zeros(variable.shape);
      this.slots.set(name, slots);
    }
    return slots;
  }
}

tf.serialization.registerClass(AdafactorOptimizer);
