import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { type AdafactorOptions, ReferenceAdafactor } from '../../src/index.js';
import { AdafactorOptimizer } from '../../src/tfjs.js';
import { expectClose, normals, random } from '../gpu/harness.js';

await tf.setBackend('cpu');

describe('AdafactorOptimizer for TensorFlow.js (tfjs ops, any backend)', () => {
  it.each([
    ['defaults', {}],
    ['momentum, weight decay, an external lr', { beta1: 0.9, weightDecay: 0.01, relativeStep: false, lr: 0.02 }],
    ["optax's factoring", { factorDims: 'largest2', minDimSizeToFactor: 4, weightDecayScale: 'none', weightDecay: 0.01 }],
  ] as [string, AdafactorOptions][])('%s: the same updates as the float64 reference', (_, options) => {
    const rand = random(Date.now() % 2 ** 31);
    const shapes = [[12, 7], [7], [3, 5, 6], []];
    const init = shapes.map((s) => normals(s.reduce((a, b) => a * b, 1), rand));
    const variables = shapes.map((shape, i) => tf.variable(tf.tensor(init[i], shape), true, `w${i}_${Math.random()}`));
    const optimizer = new AdafactorOptimizer(options);
    const reference = new ReferenceAdafactor(shapes.map((shape, i) => ({ data: init[i], shape })), options);
    for (let step = 0; step < 4; step++) {
      const grads = shapes.map((s) => normals(s.reduce((a, b) => a * b, 1), rand));
      optimizer.applyGradients(variables.map((v, i) => ({ name: v.name, tensor: tf.tensor(grads[i], shapes[i]) })));
      reference.step(grads);
    }
    variables.forEach((v, i) => expectClose(v.dataSync(), reference.params[i], `variable ${i}`));
    expect(optimizer.iterations).toBe(4);
    optimizer.dispose();
    variables.forEach((v) => v.dispose());
  });

  it('trains a tfjs-layers model with model.compile, and keeps factored state', async () => {
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 32, inputShape: [8], activation: 'relu' }), tfl.layers.dense({ units: 1 })] });
    const optimizer = new AdafactorOptimizer({ relativeStep: false, lr: 0.01, scaleParameter: false });
    model.compile({ optimizer, loss: 'meanSquaredError' });
    const rand = random(5);
    const x = tf.tensor(normals(256 * 8, rand), [256, 8]);
    const y = tf.sum(tf.slice(x, [0, 0], [256, 2]), 1, true);
    const history = await model.fit(x, y, { epochs: 30, batchSize: 64, verbose: 0 });
    const losses = history.history.loss as number[];
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] / 2);
    const weights = await optimizer.getWeights();
    const sizes = Object.fromEntries(weights.slice(1).map((w) => [w.name.split('/').pop() + ':' + w.tensor.shape.join('x'), w.tensor.size]));
    // The [8, 32] and [32, 1] kernels keep rows and columns; the biases a full moment.
    expect(Object.keys(sizes).sort()).toEqual(['exp_avg_sq:1', 'exp_avg_sq:32', 'exp_avg_sq_col:1', 'exp_avg_sq_col:32', 'exp_avg_sq_row:32', 'exp_avg_sq_row:8'].sort());
  });

  it('round-trips its state and its config', async () => {
    const optimizer = new AdafactorOptimizer({ beta1: 0.5 });
    const v = tf.variable(tf.ones([4, 3]), true, `rt_${Math.random()}`);
    optimizer.applyGradients([{ name: v.name, tensor: tf.ones([4, 3]) }]);
    const weights = await optimizer.getWeights();
    const copy = new AdafactorOptimizer({ beta1: 0.5 });
    await copy.setWeights(weights);
    expect(copy.iterations).toBe(1);
    const again = await copy.getWeights();
    expect(again.map((w) => w.name)).toEqual(weights.map((w) => w.name));
    again.forEach((w, i) => expect(Array.from(w.tensor.dataSync())).toEqual(Array.from(weights[i].tensor.dataSync())));
    const config = optimizer.getConfig();
    expect(config).toEqual({ beta1: 0.5 });
    const revived = AdafactorOptimizer.fromConfig(AdafactorOptimizer, config);
    expect(revived).toBeInstanceOf(AdafactorOptimizer);
    expect(tf.serialization.SerializationMap.getMap().classNameMap.Adafactor).toBeDefined();
  });
});
