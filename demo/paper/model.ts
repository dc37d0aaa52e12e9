/**
 * A small decoder-only Transformer language model in tfjs-core ops: token and position
 * embeddings, pre-norm blocks of multi-head causal self-attention and a ReLU MLP, each with a
 * residual connection and a layer norm before it, a final layer norm, and an output projection.
 * Linear layers have no biases; layer norms have a gain (initialised at 1) and a bias (at 0).
 */
import * as tf from '@tensorflow/tfjs-core';
import { random } from './corpus.js';

export interface ModelShape {
  vocabulary: number;
  context: number;
  width: number;
  heads: number;
  layers: number;
  /** MLP hidden units: a multiple of width. */
  mlp: number;
}

/** One parameter's name, shape and initial values. */
export interface InitialTensor {
  name: string;
  shape: number[];
  values: Float32Array;
}

/**
 * The initial weights, from a seed: weight matrices normal with std 1/sqrt(fan in) (the output
 * projections of each block also divided by sqrt(2 layers), GPT-2's rule), embeddings normal
 * with std 1/sqrt(width), layer-norm gains 1 and biases 0.
 */
export function initialWeights(shape: ModelShape, seed: number): InitialTensor[] {
  const rand = random(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const { vocabulary: v, context: t, width: d, mlp: m, layers } = shape;
  const tensors: InitialTensor[] = [];
  const add = (name: string, dims: number[], std: number | 'ones' | 'zeros') => {
    const size = dims.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    if (std === 'ones') values.fill(1);
    else if (std !== 'zeros') for (let i = 0; i < size; i++) values[i] = std * normal();
    tensors.push({ name, shape: dims, values });
  };
  add('token_embedding', [v, d], 1 / Math.sqrt(d));
  add('position_embedding', [t, d], 1 / Math.sqrt(d));
  const residual = 1 / Math.sqrt(2 * layers);
  for (let l = 0; l < layers; l++) {
    add(`block${l}/ln1/gain`, [d], 'ones');
    add(`block${l}/ln1/bias`, [d], 'zeros');
    for (const w of ['query', 'key', 'value']) add(`block${l}/attention/${w}`, [d, d], 1 / Math.sqrt(d));
    add(`block${l}/attention/output`, [d, d], residual / Math.sqrt(d));
    add(`block${l}/ln2/gain`, [d], 'ones');
    add(`block${l}/ln2/bias`, [d], 'zeros');
    add(`block${l}/mlp/in`, [d, m], 1 / Math.sqrt(d));
    add(`block${l}/mlp/out`, [m, d], residual / Math.sqrt(m));
  }
  add('final_ln/gain', [d], 'ones');
  add('final_ln/bias', [d], 'zeros');
  add('output', [d, v], 1 / Math.sqrt(d));
  return tensors;
}

export const parameterCount = (weights: InitialTensor[]) => weights.reduce((sum, w) => sum + w.values.length, 0);

export class TransformerLM {
  /** The trainable variables, in the order of initialWeights. */
  readonly variables: tf.Variable[];
  private readonly byName: Map<string, tf.Variable>;
  /** 0 on and below the diagonal, -1e9 above: added to attention scores before the softmax. */
  private readonly mask: tf.Tensor2D;
  private readonly positions: tf.Tensor1D;

  /** Variables named `<prefix>/<name>` (tfjs needs variable names unique while they live). */
  constructor(
    readonly shape: ModelShape,
    readonly batch: number,
    weights: InitialTensor[],
    prefix: string,
  ) {
    this.variables = weights.map((w) => tf.variable(tf.tensor(w.values, w.shape), true, `${prefix}/${w.name}`));
    this.byName = new Map(weights.map((w, i) => [w.name, this.variables[i]]));
    const t = shape.context;
    this.mask = tf.tensor2d(
      Float32Array.from({ length: t * t }, (_, i) => (i % t > Math.floor(i / t) ? -1e9 : 0)),
      [t, t],
    );
    this.positions = tf.tensor1d(
      Int32Array.from({ length: batch * t }, (_, i) => i % t),
      'int32',
    );
  }

  private p(name: string): tf.Variable {
    return this.byName.get(name)!;
  }

  private layerNorm(x: tf.Tensor2D, name: string): tf.Tensor2D {
    const { mean, variance } = tf.moments(x, 1, true);
    return tf.add(
      tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), this.p(`${name}/gain`)),
      this.p(`${name}/bias`),
    );
  }

  /** [batch * context, width] to [batch, heads, context, width / heads]. */
  private splitHeads(x: tf.Tensor2D): tf.Tensor4D {
    const { context: t, heads: h, width: d } = this.shape;
    return tf.transpose(tf.reshape(x, [this.batch, t, h, d / h]), [0, 2, 1, 3]);
  }

  private attention(x: tf.Tensor2D, l: number): tf.Tensor2D {
    const { context: t, heads: h, width: d } = this.shape;
    const name = `block${l}/attention`;
    const q = this.splitHeads(tf.matMul(x, this.p(`${name}/query`)));
    const k = this.splitHeads(tf.matMul(x, this.p(`${name}/key`)));
    const v = this.splitHeads(tf.matMul(x, this.p(`${name}/value`)));
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(d / h)), this.mask);
    const mixed = tf.matMul(tf.softmax(scores), v); // [batch, heads, context, width / heads]
    const merged = tf.reshape(tf.transpose(mixed, [0, 2, 1, 3]), [this.batch * t, d]);
    return tf.matMul(merged, this.p(`${name}/output`));
  }

  /** Logits [batch * context, vocabulary] for inputs [batch * context] of token ids. */
  logits(inputs: tf.Tensor1D): tf.Tensor2D {
    let x: tf.Tensor2D = tf.add(
      tf.gather(this.p('token_embedding'), inputs),
      tf.gather(this.p('position_embedding'), this.positions),
    );
    for (let l = 0; l < this.shape.layers; l++) {
      x = tf.add(x, this.attention(this.layerNorm(x, `block${l}/ln1`), l));
      const hidden = tf.relu(tf.matMul(this.layerNorm(x, `block${l}/ln2`), this.p(`block${l}/mlp/in`)));
      x = tf.add(x, tf.matMul(hidden, this.p(`block${l}/mlp/out`)));
    }
    return tf.matMul(this.layerNorm(x, 'final_ln'), this.p('output'));
  }

  /** Mean cross-entropy (nats per character) of predicting targets from inputs. */
  loss(inputs: tf.Tensor1D, targets: tf.Tensor1D): tf.Scalar {
    const logProbabilities = tf.logSoftmax(this.logits(inputs));
    const picked = tf.sum(tf.mul(logProbabilities, tf.oneHot(targets, this.shape.vocabulary)), 1);
    return tf.neg(tf.mean(picked)) as tf.Scalar;
  }

  dispose(): void {
    tf.dispose([...this.variables, this.mask, this.positions]);
  }
}
