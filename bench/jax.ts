/**
 * The jax-js side-by-side (`--case jax`, in `npm run bench:browser` only, when named): an MLP on
 * jax-js's webgpu device (wasm where the browser has no WebGPU), and one jitted optimizer step on
 * it (the transformation's update, then applyUpdates) with this library's jax-js Adafactor
 * (`webgpu-adafactor/jax`, defaults) and with Adam written in jax-js ops, timed in interleaved
 * rounds. The gradients are computed once, from one minibatch, and every step reuses them: the
 * optimizer's step is what is timed, not the model's backward pass.
 */
import {
  type Array,
  type JsTree,
  blockUntilReady,
  defaultDevice,
  grad,
  init,
  jit,
  nn,
  numpy as np,
  tree,
} from '@jax-js/jax';
import { adafactor, applyUpdates } from '../src/jax/index.js';
import { normal, random } from '../demo/image.js';
import { type BenchOptions, median } from './bench.js';
import { JAX_ADAM_LABEL, type JaxResult } from './jax_result.js';

/** The MLP's widths, input first: 662,026 parameters in four weight matrices and four bias vectors. */
const LAYERS = [256, 512, 512, 512, 10];
/** Rows of the one minibatch the gradients come from. */
const BATCH = 64;
/** Untimed steps of each optimizer before the first round: jit traces, kernels compile. */
const WARMUP_STEPS = 2;

type Mlp = { w: Array; b: Array }[];

/** He-initialised weights and zero biases from a fixed seed, on `device`. */
function initialMlp(device: 'webgpu' | 'wasm'): Mlp {
  const rand = random(7);
  return LAYERS.slice(1).map((outputs, l) => {
    const inputs = LAYERS[l];
    const std = Math.sqrt(2 / inputs);
    const w = Float32Array.from({ length: inputs * outputs }, () => normal(rand) * std);
    return {
      w: np.array(w, { shape: [inputs, outputs], device }),
      b: np.zeros([outputs], { device }),
    };
  });
}

/** Mean squared error of the MLP (ReLU between layers) on `x` against `y`. */
function mlpLoss(params: Mlp, x: Array, y: Array): Array {
  let h = x;
  params.forEach(({ w, b }, l) => {
    h = np.matmul(h, w).add(b);
    if (l < params.length - 1) h = nn.relu(h);
  });
  return np.mean(np.square(h.sub(y)));
}

/** A gradient transformation as optax and jax-js optax have it; the update consumes its arguments. */
interface Transformation {
  init(params: JsTree<Array>): JsTree<Array>;
  update(updates: JsTree<Array>, state: JsTree<Array>, params?: JsTree<Array>): [JsTree<Array>, JsTree<Array>];
}

type AdamState = { count: Array; mu: JsTree<Array>; nu: JsTree<Array> };

/**
 * Adam as optax's `chain(scale_by_adam(b1, b2, eps), scale_by_learning_rate(lr))`, in jax-js ops:
 * m_t = b1 m + (1 - b1) g, v_t = b2 v + (1 - b2) g^2, update = -lr m_hat / (sqrt(v_hat) + eps)
 * with m_hat = m_t / (1 - b1^t), v_hat = v_t / (1 - b2^t). t comes from the state's count in the
 * graph, so a jitted step never reads back.
 */
export function jaxAdam({ lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8 } = {}): Transformation {
  return {
    init(params) {
      const leaves = tree.leaves(params) as Array[];
      const device = leaves[0].device;
      const [, def] = tree.flatten(params);
      const state: AdamState = {
        count: np.array(0, { dtype: np.int32, device }),
        mu: tree.unflatten(
          def,
          leaves.map((p) => np.zerosLike(p.ref)),
        ),
        nu: tree.unflatten(
          def,
          leaves.map((p) => np.zerosLike(p)),
        ),
      };
      return state;
    },
    update(updates, state, params) {
      const { count, mu, nu } = state as AdamState;
      if (params !== undefined) tree.dispose(params);
      const [grads, def] = tree.flatten(updates);
      const next = count.add(1);
      const t = next.ref.astype(np.float32);
      // 1 - b^t as exp(t log b): t is an array in the graph.
      const correction1 = np.subtract(1, np.exp(t.ref.mul(Math.log(b1))));
      const correction2 = np.subtract(1, np.exp(t.mul(Math.log(b2))));
      const m = (tree.leaves(mu) as Array[]).map((m, i) => m.mul(b1).add(grads[i].ref.mul(1 - b1)));
      const v = (tree.leaves(nu) as Array[]).map((v, i) => v.mul(b2).add(np.square(grads[i]).mul(1 - b2)));
      const out = m.map((mi, i) =>
        mi.ref
          .div(correction1.ref)
          .div(np.sqrt(v[i].ref.div(correction2.ref)).add(eps))
          .mul(-lr),
      );
      correction1.dispose();
      correction2.dispose();
      const newState: AdamState = { count: next, mu: tree.unflatten(def, m), nu: tree.unflatten(def, v) };
      return [tree.unflatten(def, out), newState];
    },
  };
}

/** One optimizer step, jitted: [params, grads, state] -> [params + updates, new state] (consumes all three). */
function jittedStep(optimizer: Transformation) {
  return jit((params: JsTree<Array>, grads: JsTree<Array>, state: JsTree<Array>) => {
    const [updates, next] = optimizer.update(grads, state, tree.ref(params));
    return [applyUpdates(params, updates), next];
  });
}

/** The bytes of a state: its arrays' elements times 4 (every array of these states is float32 or int32). */
function stateBytes(state: JsTree<Array>): { bytes: number; arrays: number } {
  const leaves = tree.leaves(state) as Array[];
  return { bytes: leaves.reduce((sum, a) => sum + a.size * 4, 0), arrays: leaves.length };
}

/** Runs the side-by-side on jax-js (started here); `steps` and `rounds` as runBench takes them. */
export async function runJaxBench(options: BenchOptions = {}): Promise<JaxResult> {
  const steps = Math.max(10, options.steps ?? 10);
  const rounds = options.rounds ?? 1;
  const progress = options.progress ?? (() => {});
  const hasWebgpu = (await init('webgpu')).includes('webgpu');
  const device = hasWebgpu ? 'webgpu' : 'wasm';
  if (!hasWebgpu && !(await init('wasm')).includes('wasm')) throw new Error('jax-js has neither webgpu nor wasm here');
  const fallback = hasWebgpu ? undefined : 'jax-js found no WebGPU in this browser: fell back to wasm';
  defaultDevice(device);
  progress(`jax-js on ${device}${fallback ? ` (${fallback})` : ''}`);

  const params = initialMlp(device);
  const count = (tree.leaves(params) as Array[]).reduce((sum, a) => sum + a.size, 0);
  const rand = random(11);
  const batch = (n: number) => Float32Array.from({ length: n }, () => normal(rand));
  const x = np.array(batch(BATCH * LAYERS[0]), { shape: [BATCH, LAYERS[0]], device });
  const y = np.array(batch(BATCH * LAYERS.at(-1)!), { shape: [BATCH, LAYERS.at(-1)!], device });
  const grads = grad(mlpLoss)(tree.ref(params), x, y) as unknown as JsTree<Array>;
  await blockUntilReady(grads);
  progress(`jax case: MLP ${LAYERS.join('-')}, ${count} parameters in ${2 * (LAYERS.length - 1)} tensors`);

  const runs = [
    { name: 'Adafactor (webgpu-adafactor/jax, defaults)', optimizer: adafactor() as Transformation },
    { name: JAX_ADAM_LABEL, optimizer: jaxAdam({ lr: 1e-3 }) },
  ].map(({ name, optimizer }) => {
    // Each optimizer steps a copy of the same initial weights.
    const own = tree.map((p: Array) => p.ref.add(0), params as JsTree<Array>);
    const state = optimizer.init(tree.ref(own));
    return { name, step: jittedStep(optimizer), params: own, state, ...stateBytes(state), samples: [] as number[] };
  });
  tree.dispose(params as JsTree<Array>);

  const once = async (run: (typeof runs)[number]) => {
    const started = performance.now();
    [run.params, run.state] = run.step(run.params, tree.ref(grads), run.state) as [JsTree<Array>, JsTree<Array>];
    await blockUntilReady([run.params, run.state]);
    return performance.now() - started;
  };
  try {
    for (const run of runs) for (let i = 0; i < WARMUP_STEPS; i++) await once(run);
    const roundRatios: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const medians = [];
      for (const run of runs) {
        const times: number[] = [];
        for (let i = 0; i < steps; i++) times.push(await once(run));
        run.samples.push(...times);
        medians.push(median(times));
      }
      roundRatios.push(medians[0] / medians[1]);
      progress(
        `  round ${round + 1}: Adafactor ${medians[0].toFixed(2)} ms, Adam ${medians[1].toFixed(2)} ms per step (${roundRatios[round].toFixed(2)})`,
      );
    }
    const finite = await Promise.all(
      runs.map(async (run) => (await np.all(np.isfinite((tree.leaves(run.params)[0] as Array).ref)).data())[0]),
    );
    if (!finite.every(Boolean)) throw new Error('jax case: a step made non-finite parameters');
    return {
      device,
      fallback,
      layers: LAYERS,
      params: count,
      tensors: 2 * (LAYERS.length - 1),
      steps,
      rounds,
      methods: runs.map((run) => ({
        method: run.name,
        medianMs: median(run.samples),
        minMs: Math.min(...run.samples),
        maxMs: Math.max(...run.samples),
        stateBytes: run.bytes,
        stateArrays: run.arrays,
      })),
      adafactorOverAdam: median(roundRatios),
    };
  } finally {
    for (const run of runs) {
      tree.dispose(run.params);
      tree.dispose(run.state);
      run.step.dispose();
    }
    tree.dispose(grads);
  }
}
