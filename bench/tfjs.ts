/**
 * The TensorFlow.js side-by-side (`--case tfjs`, in `npm run bench:browser` only): on tfjs's
 * webgpu backend and its own GPUDevice, one step over the same tensors by tf.train.adam,
 * tf.train.sgd, AdafactorOptimizer, the raw Adafactor over one parameter and one gradient buffer
 * (as runBench has it), and a WGSL copy of the parameters' bytes.
 *
 * Every method is timed the same way: wall time from before the call until the GPU has finished,
 * after tfjs's batched commands were submitted (tfjs submits its encoder only every
 * WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE = 15 dispatches, or when something is read back).
 */
import '@tensorflow/tfjs-backend-webgpu';
import * as tf from '@tensorflow/tfjs-core';
import { Adafactor } from '../src/index.js';
import { AdafactorOptimizer } from '../src/tfjs/index.js';
import { type WebGPUBackendInternals, submitPending, webgpuBackend } from '../src/tfjs/backend.js';
import { type BenchOptions, COPIES, copyRecorder, median, packedTensors } from './bench.js';
import { CASES, numel } from './cases.js';
import type { TfjsCaseResult, TfjsResult } from './tfjs_result.js';
import { BufferUsage } from '../src/gpu/usage.js';

/** The benchmark's cases compared here (large-matrix is one tensor: tfjs's per-tensor costs show on these). */
const TFJS_CASES = ['transformer', 'many-small'];
/** Untimed steps of each method before the first round: pipelines compile, state is made. */
const WARMUP_STEPS = 2;

/** One method under test: `step` records and submits (or leaves to tfjs) one step. */
interface Method {
  name: string;
  step: () => void;
  dispose: () => void;
}

/** Submits what tfjs recorded but has not submitted yet, then waits for the GPU to finish everything. */
async function finished(backend: WebGPUBackendInternals): Promise<void> {
  submitPending(backend);
  await backend.device.queue.onSubmittedWorkDone();
}

async function timeStep(backend: WebGPUBackendInternals, method: Method): Promise<number> {
  const started = performance.now();
  method.step();
  await finished(backend);
  return performance.now() - started;
}

/** A tfjs optimizer over variables of its own (from `initial`), stepped with the fixed `grads`. */
function tfjsMethod(
  name: string,
  optimizer: tf.Optimizer,
  prefix: string,
  shapes: number[][],
  initial: Float32Array[],
  grads: tf.Tensor[],
): Method {
  // Each variable gets data of its own: tidy disposes the tensor it was made from.
  const variables = shapes.map((shape, i) =>
    tf.tidy(() => tf.variable(tf.tensor(initial[i], shape), true, `${prefix}/${i}`)),
  );
  const gradients: tf.NamedTensorMap = Object.fromEntries(variables.map((v, i) => [v.name, grads[i]]));
  return {
    name,
    step: () => tf.tidy(() => optimizer.applyGradients(gradients)),
    dispose: () => {
      optimizer.dispose();
      tf.dispose(variables);
    },
  };
}

function storageBuffer(device: GPUDevice, values: Float32Array<ArrayBuffer>): GPUBuffer {
  // Whole vec4s, for the copy kernel.
  const buffer = device.createBuffer({
    size: Math.ceil(values.length / 4) * 16,
    usage: BufferUsage.STORAGE | BufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(buffer, 0, values);
  return buffer;
}

/** The raw Adafactor (default options) over one parameter and one gradient buffer holding every tensor. */
function rawAdafactorMethod(
  device: GPUDevice,
  shapes: number[][],
  initial: Float32Array<ArrayBuffer>,
  gradient: Float32Array<ArrayBuffer>,
): Method {
  const param = storageBuffer(device, initial);
  const grad = storageBuffer(device, gradient);
  const optimizer = new Adafactor(device, packedTensors(shapes, param, grad, 'raw'));
  return {
    name: `Adafactor, one buffer (${optimizer.kernelVariant})`,
    step: () => {
      const encoder = device.createCommandEncoder();
      optimizer.step(encoder);
      device.queue.submit([encoder.finish()]);
    },
    dispose: () => {
      optimizer.destroy();
      param.destroy();
      grad.destroy();
    },
  };
}

/** bench/copy.wgsl over the parameters' bytes: a floor no step that reads and writes them can beat. */
function copyMethod(device: GPUDevice, initial: Float32Array<ArrayBuffer>): Method {
  const source = storageBuffer(device, initial);
  const destination = storageBuffer(device, initial);
  const record = copyRecorder(device, COPIES[0], source, destination);
  return {
    name: 'WGSL copy of the parameters',
    step: () => {
      const encoder = device.createCommandEncoder();
      record(encoder);
      device.queue.submit([encoder.finish()]);
    },
    dispose: () => {
      source.destroy();
      destination.destroy();
    },
  };
}

async function runCase(
  backend: WebGPUBackendInternals,
  name: string,
  steps: number,
  rounds: number,
  progress: (message: string) => void,
): Promise<TfjsCaseResult> {
  const device = backend.device;
  const shapes = CASES.find((c) => c.name === name)!.shapes;
  const sizes = shapes.map(numel);
  const params = sizes.reduce((a, b) => a + b, 0);
  progress(`${name} on tfjs: ${shapes.length} tensors, ${params} parameters`);
  const initial = new Float32Array(params).map(() => Math.random() - 0.5);
  const gradient = new Float32Array(params).map(() => (Math.random() - 0.5) * 1e-2);
  const pieces = (all: Float32Array) => {
    let offset = 0;
    return sizes.map((n) => all.slice(offset, (offset += n)));
  };
  const initialPieces = pieces(initial);
  const tensorsBefore = tf.memory().numTensors;
  device.pushErrorScope('validation');
  const grads = pieces(gradient).map((g, i) => tf.tensor(g, shapes[i]));
  const methods = [
    tfjsMethod('tf.train.adam(1e-3)', tf.train.adam(1e-3), `${name}/adam`, shapes, initialPieces, grads),
    tfjsMethod('tf.train.sgd(1e-3)', tf.train.sgd(1e-3), `${name}/sgd`, shapes, initialPieces, grads),
    tfjsMethod('AdafactorOptimizer', new AdafactorOptimizer(), `${name}/adafactor`, shapes, initialPieces, grads),
    rawAdafactorMethod(device, shapes, initial, gradient),
    copyMethod(device, initial),
  ];
  let result: TfjsCaseResult;
  try {
    for (const method of methods) for (let i = 0; i < WARMUP_STEPS; i++) await timeStep(backend, method);
    const numTensors = tf.memory().numTensors;
    progress(`  warmed up: ${numTensors} tensors in tf.memory()`);
    const samples = methods.map(() => [] as number[]);
    const roundMedians = methods.map(() => [] as number[]);
    for (let round = 0; round < rounds; round++) {
      for (const [m, method] of methods.entries()) {
        const times: number[] = [];
        for (let i = 0; i < steps; i++) times.push(await timeStep(backend, method));
        samples[m].push(...times);
        roundMedians[m].push(median(times));
      }
      progress(
        `  round ${round + 1}: ${methods.map((method, m) => `${method.name} ${roundMedians[m][round].toFixed(1)}`).join(', ')} ms`,
      );
      const now = tf.memory().numTensors;
      if (now !== numTensors)
        throw new Error(
          `tfjs case ${name}: tf.memory().numTensors went from ${numTensors} after warm-up to ${now} after round ${round + 1}; a step leaks tensors`,
        );
    }
    const error = await device.popErrorScope();
    if (error) throw new Error(`GPU error during the tfjs case ${name}: ${error.message}`);
    const adam = roundMedians[0];
    result = {
      name,
      params,
      tensors: shapes.length,
      numTensors,
      methods: methods.map((method, m) => ({
        method: method.name,
        medianMs: median(samples[m]),
        minMs: Math.min(...samples[m]),
        maxMs: Math.max(...samples[m]),
        timesFasterThanAdam: median(roundMedians[m].map((ms, round) => adam[round] / ms)),
      })),
    };
  } finally {
    for (const method of methods) method.dispose();
    tf.dispose(grads);
    await finished(backend);
  }
  const left = tf.memory().numTensors - tensorsBefore;
  if (left !== 0)
    throw new Error(`tfjs case ${name}: ${left} tensors left after disposing every variable, gradient and optimizer`);
  return result;
}

/** Runs the side-by-side on tfjs's webgpu backend (started here); `steps` and `rounds` as runBench takes them. */
export async function runTfjsBench(options: BenchOptions = {}): Promise<TfjsResult> {
  const steps = Math.max(10, options.steps ?? 10);
  const rounds = options.rounds ?? 1;
  const progress = options.progress ?? (() => {});
  if (!(await tf.setBackend('webgpu'))) throw new Error("tfjs could not start its 'webgpu' backend");
  const backend = webgpuBackend(tf.getBackend(), tf.backend());
  if (!backend) throw new Error(`tfjs runs on '${tf.getBackend()}', not webgpu`);
  progress(`tfjs ${tf.version_core} on its webgpu backend`);
  const cases: TfjsCaseResult[] = [];
  for (const name of TFJS_CASES) cases.push(await runCase(backend, name, steps, rounds, progress));
  return {
    backend: 'webgpu',
    version: tf.version_core,
    timer: 'wall time to onSubmittedWorkDone',
    steps,
    rounds,
    cases,
  };
}
