/**
 * The eight optimizers the paper's claims are checked with, in the order the page and
 * `npm run paper` run them. Each makes a fresh optimizer for a run of `steps` steps.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdafactorOptimizer } from '../../src/tfjs/index.js';

/** Warm-up steps of the two external schedules: a tenth of the run, at least 1, at most 100. */
export const warmupSteps = (steps: number) => Math.min(100, Math.max(1, Math.round(steps / 10)));

/** Peak learning rate of Adam and of configuration 8's schedule. */
export const PEAK_LR = 2e-3;

/** Linear warm-up to PEAK_LR, then constant: Adam's schedule (t counts from 1). */
export const adamSchedule = (steps: number) => (t: number) => PEAK_LR * Math.min(1, t / warmupSteps(steps));

/** Linear warm-up to PEAK_LR, then PEAK_LR * sqrt(warm-up / t): configuration 8's schedule. */
export const inverseSqrtSchedule = (steps: number) => (t: number) => {
  const w = warmupSteps(steps);
  return PEAK_LR * Math.min(t / w, Math.sqrt(w / t));
};

/**
 * tf.train.adam with a learning rate set before each step from a schedule: tfjs's AdamOptimizer
 * takes a number, kept in a protected field that a subclass may set.
 */
export class ScheduledAdam extends tf.AdamOptimizer {
  private t = 0;
  constructor(private readonly schedule: (t: number) => number) {
    super(schedule(1), 0.9, 0.999);
  }
  override applyGradients(gradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    this.t += 1;
    this.learningRate = this.schedule(this.t);
    super.applyGradients(gradients);
  }
}

export interface PaperConfig {
  /** Short name, used in the table and the JSON. */
  name: string;
  /** What it is, for the page. */
  description: string;
  make: (steps: number) => tf.Optimizer;
}

export const CONFIGS: PaperConfig[] = [
  {
    name: 'adam',
    description:
      'tf.train.adam (beta1 0.9, beta2 0.999), lr warm-up to 2e-3 over the first tenth of the steps: the baseline',
    make: (steps) => new ScheduledAdam(adamSchedule(steps)),
  },
  {
    name: 'adafactor',
    description:
      'Adafactor defaults: relative step, parameter scaling, clipping d = 1, beta2_t = 1 - t^-0.8, no momentum',
    make: () => new AdafactorOptimizer(),
  },
  {
    name: 'full-second-moment',
    description: 'as the defaults, with the full second moment (no factoring): claim 1',
    make: () => new AdafactorOptimizer({ minDimSizeToFactor: Number.MAX_SAFE_INTEGER }),
  },
  {
    name: 'momentum',
    description: 'as the defaults, with beta1 = 0.9',
    make: () => new AdafactorOptimizer({ beta1: 0.9 }),
  },
  {
    name: 'slow-decay',
    description: 'fixed beta2 = 0.999, no clipping: the slow-decay regime of claim 2',
    make: () => new AdafactorOptimizer({ beta2: 0.999, clipThreshold: Infinity }),
  },
  {
    name: 'slow-decay+clip',
    description: 'fixed beta2 = 0.999 with update clipping d = 1',
    make: () => new AdafactorOptimizer({ beta2: 0.999, clipThreshold: 1 }),
  },
  {
    name: 'increasing-decay',
    description: 'beta2_t = 1 - t^-0.8, no clipping',
    make: () => new AdafactorOptimizer({ clipThreshold: Infinity }),
  },
  {
    name: 'external-lr',
    description: 'no relative step, no parameter scaling: lr warm-up to 2e-3, then 1/sqrt(t) (claim 4, the other half)',
    make: (steps) =>
      new AdafactorOptimizer({ relativeStep: false, scaleParameter: false, lr: inverseSqrtSchedule(steps) }),
  },
];
