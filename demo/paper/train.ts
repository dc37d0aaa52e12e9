/**
 * One run: the model, from the shared initial weights, trained by one configuration's optimizer
 * on the shared minibatches, on tfjs's current backend (webgpu on the page).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AdafactorStats } from '../../src/core/stats.js';
import { AdafactorOptimizer } from '../../src/tfjs/index.js';
import type { PaperConfig } from './configs.js';
import { type Corpus, batches } from './corpus.js';
import { type InitialTensor, type ModelShape, TransformerLM } from './model.js';

/** The weight matrix whose alpha_t and RMS(U) are followed. */
export const WATCHED = 'block0/mlp/in';

export interface StatsPoint {
  step: number;
  /** alpha_t of the watched matrix. */
  stepSize: number;
  /** RMS(U) of its update before clipping. */
  updateRms: number;
  clipDivisor: number;
}

export interface RunResult {
  name: string;
  /** Mean of the last 10% of the steps' losses (at least one). */
  finalLoss: number;
  stateBytes: number;
  /** Steps 2 to the last per second of wall time (step 1 compiles tfjs's shaders). */
  stepsPerSecond: number;
  losses: number[];
  /** The watched matrix's alpha_t and RMS(U) (Adafactor only), at the steps `statsAt` chose. */
  stats: StatsPoint[];
}

export interface Setup {
  shape: ModelShape;
  batch: number;
  weights: InitialTensor[];
  corpus: Corpus;
  batchSeed: number;
}

export interface RunHooks {
  /** After each step, with its loss. Return a promise to hold training (pause). */
  onStep?: (step: number, loss: number) => void | Promise<void>;
  /** Whether to read optimizer.stats() after this step. */
  statsAt?: (step: number) => boolean;
  onStats?: (point: StatsPoint) => void;
  /** Stop early when true (the run's result then covers the steps done). */
  stopped?: () => boolean;
}

export const finalLoss = (losses: number[]) => {
  const tail = losses.slice(-Math.max(1, Math.round(losses.length / 10)));
  return tail.reduce((a, b) => a + b, 0) / tail.length;
};

/**
 * Whether this is an AdafactorOptimizer. Not `instanceof`: tf.Optimizer's Symbol.hasInstance
 * answers true for any optimizer.
 */
const isAdafactor = (optimizer: tf.Optimizer): optimizer is AdafactorOptimizer =>
  optimizer.getClassName() === AdafactorOptimizer.className;

/** Optimizer state bytes: Adafactor's own count; for Adam, two f32 slots per parameter. */
function stateBytes(optimizer: tf.Optimizer, parameters: number): number {
  return isAdafactor(optimizer) ? optimizer.stateBytes : 2 * 4 * parameters;
}

export async function train(
  setup: Setup,
  config: PaperConfig,
  index: number,
  steps: number,
  hooks: RunHooks = {},
): Promise<RunResult> {
  const model = new TransformerLM(setup.shape, setup.batch, setup.weights, `run${index}`);
  const optimizer = config.make(steps);
  const data = batches(setup.corpus, setup.batch, setup.shape.context, setup.batchSeed);
  const parameters = model.variables.reduce((sum, v) => sum + v.size, 0);
  const losses: number[] = [];
  const stats: StatsPoint[] = [];
  let started = performance.now();
  try {
    for (let step = 1; step <= steps && !hooks.stopped?.(); step++) {
      const { inputs, targets } = data.next().value!;
      const x = tf.tensor1d(inputs, 'int32');
      const y = tf.tensor1d(targets, 'int32');
      const cost = optimizer.minimize(() => model.loss(x, y), true, model.variables)!;
      const loss = (await cost.data())[0];
      tf.dispose([x, y, cost]);
      losses.push(loss);
      if (step === 1) started = performance.now();
      if (isAdafactor(optimizer) && hooks.statsAt?.(step)) {
        const point = watched(await optimizer.stats());
        if (point) {
          stats.push(point);
          hooks.onStats?.(point);
        }
      }
      await hooks.onStep?.(step, loss);
    }
    const seconds = (performance.now() - started) / 1000;
    return {
      name: config.name,
      finalLoss: finalLoss(losses),
      stateBytes: stateBytes(optimizer, parameters),
      stepsPerSecond: losses.length > 1 ? (losses.length - 1) / seconds : 0,
      losses,
      stats,
    };
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

function watched(s: AdafactorStats): StatsPoint | undefined {
  const tensor = s.tensors.find((t) => t.name.endsWith(`/${WATCHED}`));
  return (
    tensor && { step: s.step, stepSize: tensor.stepSize, updateRms: tensor.updateRms, clipDivisor: tensor.clipDivisor }
  );
}
