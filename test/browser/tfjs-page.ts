/**
 * The browser side of test/browser/tfjs.test.ts: a small tfjs-layers model trained on
 * TensorFlow.js's webgpu backend with AdafactorOptimizer, each of its first steps checked against
 * the float64 reference on the same gradients, and its state memory beside tf.train.adam's.
 */
import '@tensorflow/tfjs-backend-webgpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { type AdafactorOptions, ReferenceAdafactor } from '../../src/index.js';
import { AdafactorOptimizer } from '../../src/tfjs/index.js';
import { expectClose, normals, random, relativeError } from '../gpu/harness.js';

export interface TfjsTrainingResult {
  backend: string;
  checkedSteps: number;
  worstError: number;
  losses: number[];
  parameters: number;
  /** Shapes of every state tensor getWeights gives, `<slot>:<shape>`. */
  stateShapes: string[];
  adafactorStateBytes: number;
  adamStateBytes: number;
}

/** The test's model: three dense layers, 8 -> 32 -> 16 -> 1. */
function makeModel(): tfl.Sequential {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 32, inputShape: [8], activation: 'relu' }),
      tfl.layers.dense({ units: 16, activation: 'relu' }),
      tfl.layers.dense({ units: 1 }),
    ],
  });
}

/** Bytes of the tensors an optimizer's getWeights returns, but its step count. */
async function stateBytes(optimizer: tf.Optimizer): Promise<number> {
  const weights = await optimizer.getWeights();
  return weights.filter((w) => w.name !== 'iter').reduce((sum, w) => sum + 4 * w.tensor.size, 0);
}

async function train(
  options: AdafactorOptions,
  checkedSteps: number,
  totalSteps: number,
  seed: number,
): Promise<TfjsTrainingResult> {
  if (!navigator.gpu) throw new Error('navigator.gpu is missing: this Chromium has no WebGPU');
  if (!(await tf.setBackend('webgpu'))) throw new Error("tfjs could not start its 'webgpu' backend");
  const rand = random(seed);
  const x = tf.tensor(normals(256 * 8, rand), [256, 8]);
  const y = tf.tidy(() =>
    tf.add(tf.sum(tf.slice(x, [0, 0], [256, 3]), 1, true), tf.sin(tf.slice(x, [0, 3], [256, 1]))),
  );
  const model = makeModel();
  const loss = () => tf.losses.meanSquaredError(y, model.apply(x) as tf.Tensor) as tf.Scalar;
  const optimizer = new AdafactorOptimizer(options);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const reference = new ReferenceAdafactor(
    await Promise.all(variables.map(async (v) => ({ shape: v.shape, data: await v.data() }))),
    options,
  );
  const losses: number[] = [];
  let worstError = 0;
  for (let step = 0; step < totalSteps; step++) {
    if (step < checkedSteps) {
      // The same gradients go to the optimizer (on the GPU) and to the float64 reference.
      const { value, grads } = tf.variableGrads(loss, variables);
      losses.push((await value.data())[0]);
      const gradValues = await Promise.all(variables.map((v) => grads[v.name].data()));
      optimizer.applyGradients(grads);
      reference.step(gradValues);
      for (const [i, v] of variables.entries()) {
        const actual = await v.data();
        expectClose(actual, reference.params[i], `step ${step + 1}: ${v.name}`);
        worstError = Math.max(worstError, relativeError(actual, reference.params[i]));
      }
      value.dispose();
      Object.values(grads).forEach((g) => g.dispose());
    } else {
      const value = optimizer.minimize(loss, true, variables)!;
      if (step % 10 === 0 || step === totalSteps - 1) losses.push((await value.data())[0]);
      value.dispose();
    }
  }
  const weights = await optimizer.getWeights();
  const stateShapes = weights.slice(1).map((w) => `${w.name.split('/').pop()}:${w.tensor.shape.join('x')}`);
  const adafactorStateBytes = optimizer.stateBytes;
  // tf.train.adam on a fresh copy of the model, one step: the state users hold today.
  const adamModel = makeModel();
  const adam = tf.train.adam(1e-3);
  adam.minimize(
    () => tf.losses.meanSquaredError(y, adamModel.apply(x) as tf.Tensor) as tf.Scalar,
    false,
    adamModel.trainableWeights.map((w) => w.read() as tf.Variable),
  );
  const adamStateBytes = await stateBytes(adam);
  const parameters = variables.reduce((sum, v) => sum + v.size, 0);
  optimizer.dispose();
  adam.dispose();
  model.dispose();
  adamModel.dispose();
  tf.dispose([x, y]);
  return {
    backend: tf.getBackend(),
    checkedSteps,
    worstError,
    losses,
    parameters,
    stateShapes,
    adafactorStateBytes,
    adamStateBytes,
  };
}

declare global {
  interface Window {
    tfjsTraining: { train: typeof train };
  }
}

window.tfjsTraining = { train };
