/**
 * Parameter groups of the tfjs optimizer on whichever backend tfjs runs: a model's zero-initialised
 * biases in a group with `scaleParameter: false` learn at rho_t a step where the defaults move them
 * by rho_t * eps2 = 1e-5, every variable as the float64 reference of its own group's options says.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type AdafactorOptions, ReferenceAdafactor, rms } from '../../src/index.js';
import { AdafactorOptimizer } from '../../src/tfjs/index.js';
import { expectClose, normals, random } from './harness.js';

/** A dense layer's kernels and zero biases, as tfjs-layers makes them. */
export const LAYER_SHAPES = [[6, 16], [16], [16, 3], [3]];

let serial = 0;

/**
 * `steps` steps of `optimizer` over fresh variables (biases at zero) with seeded gradients, beside
 * one float64 reference per group (groups are independent); returns the biases' RMS at the end.
 */
export async function trainBiasGroup(
  steps: number,
  options: AdafactorOptions,
  biasOptions: AdafactorOptions | undefined,
): Promise<number> {
  const rand = random(2026);
  const init = LAYER_SHAPES.map((s) => (s.length === 1 ? new Float32Array(s[0]) : normals(s[0] * s[1], rand)));
  const prefix = `groups${serial++}`;
  const names = LAYER_SHAPES.map((s, i) => `${prefix}/dense_${i >> 1}/${s.length === 1 ? 'bias' : 'kernel'}`);
  const vars = LAYER_SHAPES.map((shape, i) => tf.variable(tf.tensor(init[i], shape), true, names[i]));
  const optimizer = new AdafactorOptimizer(options, biasOptions ? [{ match: /\/bias$/, ...biasOptions }] : []);
  const isBias = (i: number) => LAYER_SHAPES[i].length === 1;
  const members = [
    LAYER_SHAPES.map((_, i) => i).filter((i) => !isBias(i)),
    LAYER_SHAPES.map((_, i) => i).filter(isBias),
  ];
  const references = members.map(
    (m, g) =>
      new ReferenceAdafactor(
        m.map((i) => ({ data: init[i], shape: LAYER_SHAPES[i] })),
        g === 1 ? { ...options, ...biasOptions } : options,
      ),
  );
  for (let step = 0; step < steps; step++) {
    const grads = LAYER_SHAPES.map((s) =>
      normals(
        s.reduce((a, b) => a * b, 1),
        rand,
        0.1,
      ),
    );
    const tensors = vars.map((v, i) => ({ name: v.name, tensor: tf.tensor(grads[i], LAYER_SHAPES[i]) }));
    optimizer.applyGradients(tensors);
    tf.dispose(tensors.map((t) => t.tensor));
    members.forEach((m, g) => references[g].step(m.map((i) => grads[i])));
  }
  for (const [g, m] of members.entries()) {
    for (const [k, i] of m.entries()) {
      expectClose(await vars[i].data(), references[g].params[k], `${names[i]} after ${steps} steps`);
    }
  }
  const biases = Float32Array.from((await Promise.all(members[1].map((i) => vars[i].data()))).flatMap((d) => [...d]));
  optimizer.dispose();
  tf.dispose(vars);
  return rms(biases);
}
