/**
 * GPU checks shared by the Node (Dawn) and browser (Chromium) suites. Each takes a GPUDevice,
 * throws an Error naming what differs, and returns a short summary of what it measured.
 */
import fc from 'fast-check';
import {
  Adafactor,
  type AdafactorOptions,
  ReferenceAdafactor,
  decodeSafetensors,
  encodeSafetensors,
  geometry,
} from '../../src/index.js';
import { floatValues } from '../../src/state/safetensors.js';
import type { ViewName } from '../../src/gpu/kernels.js';
import { options as randomOptions, shape as randomShape } from './arbitraries.js';
import type { GoldenCase } from './golden.js';
import { TensorSet, expectClose, normals, random, relativeError, toleranceFor } from './harness.js';

/** Every listed parameter after every listed step within TOLERANCE. */
/**
 * Replays one golden trace. `path: 'passes'` sets skipNonFinite (the traces' gradients are finite,
 * so the results are the same), which steps small tensors through the six passes instead of
 * whole_tensor.
 */
export async function checkGoldenCase(
  device: GPUDevice,
  golden: GoldenCase,
  layout: 'arena' | 'separate' = 'arena',
  path: 'whole' | 'passes' = 'whole',
  extraOptions: AdafactorOptions = {},
): Promise<string> {
  if (golden.refused) throw new Error(`${golden.name}: the preset refuses its options (${golden.refused})`);
  const tensors = new TensorSet(
    device,
    golden.params.map((p) => p.shape),
    golden.params.map((p) => p.init),
    layout,
  );
  const optimizer = tensors.newOptimizer({
    ...golden.options,
    ...(path === 'passes' ? { skipNonFinite: true } : {}),
    ...extraOptions,
  });
  if (golden.initialCount > 0) optimizer.loadState(await withStep(await optimizer.saveState(), golden.initialCount));
  let compared = 0;
  let worst = 0;
  try {
    for (const [s, step] of golden.steps.entries()) {
      tensors.writeGrads(step.grads);
      optimizer.step();
      if (!step.expected) continue;
      const params = await tensors.readParams();
      params.forEach((actual, i) => {
        const what = `${golden.name}: ${golden.params[i].name} ${JSON.stringify(golden.params[i].shape)} after step ${s + 1}`;
        expectClose(actual, step.expected![i], what, toleranceFor(golden.options));
        worst = Math.max(worst, relativeError(actual, step.expected![i]));
        compared++;
      });
    }
    await checkFinalState(optimizer, golden);
    await tensors.expectGapsUntouched();
  } finally {
    optimizer.destroy();
    tensors.destroy();
  }
  return `${golden.name}: ${compared} parameter checks, worst ${worst.toExponential(2)}`;
}

/** The saved state after the trace (saveState) matches Hugging Face's final state within TOLERANCE, relative. */
async function checkFinalState(optimizer: Adafactor, golden: GoldenCase): Promise<void> {
  const saved = decodeSafetensors(await optimizer.saveState());
  const steps = golden.initialCount + golden.steps.length;
  if (saved.metadata.step !== String(steps))
    throw new Error(`${golden.name}: saved step ${saved.metadata.step}, expected ${steps}`);
  const expectedNames: string[] = [];
  golden.finalState.forEach((state, i) => {
    for (const [key, want] of Object.entries(state)) {
      if (key === 'step' || typeof want !== 'object') continue;
      const name = `${golden.params[i].name}.${key}`;
      expectedNames.push(name);
      const found = saved.tensors.get(name);
      if (!found) throw new Error(`${golden.name}: saved state has no ${name}`);
      if (JSON.stringify(found.shape) !== JSON.stringify(want.shape))
        throw new Error(
          `${golden.name}: ${name} has shape ${JSON.stringify(found.shape)}, expected ${JSON.stringify(want.shape)}`,
        );
      const what = `${golden.name}: final state ${name}`;
      const dtype = golden.options.momentumDtype ?? 'f32';
      if (key === 'exp_avg' && dtype !== 'f32') expectWithinUlp(floatValues(found), want.data, dtype, what);
      else expectClose(floatValues(found), want.data, what);
    }
  });
  const extra = [...saved.tensors.keys()].filter((n) => !expectedNames.includes(n));
  if (extra.length > 0)
    throw new Error(`${golden.name}: saved state has tensors the traced library does not: ${extra.join(', ')}`);
}

/**
 * A 16-bit M against a float64 run's: each element within one unit in the last place of the
 * format, since an f32 and a float64 computation may round an element to neighbouring values.
 */
function expectWithinUlp(actual: Float32Array, expected: Float64Array, dtype: 'bf16' | 'f16', what: string): void {
  const [mantissaBits, minExponent] = dtype === 'bf16' ? [7, -126] : [10, -14];
  expected.forEach((want, i) => {
    const ulp = 2 ** (Math.max(Math.floor(Math.log2(Math.abs(want) || 2 ** minExponent)), minExponent) - mantissaBits);
    if (!(Math.abs(actual[i] - want) <= ulp))
      throw new Error(`${what}: element ${i} is ${actual[i]}, expected ${want} within one ${dtype} ulp (${ulp})`);
  });
}

/** A saved state with another step count, for a run that starts from that count. */
async function withStep(saved: Uint8Array, step: number): Promise<Uint8Array> {
  const file = decodeSafetensors(saved);
  const tensors = [...file.tensors].map(([name, t]) => ({ name, shape: t.shape, data: floatValues(t) }));
  return encodeSafetensors(tensors, { ...file.metadata, step: String(step) });
}

export interface RandomCase {
  seed: number;
  shapes: number[][];
  options: AdafactorOptions;
  steps: number;
  layout: 'arena' | 'separate';
  /** Gradient scale per step, so that clipping and its absence both happen. */
  gradScale?: number;
  /** Floats between tensors in an arena (default 3: offsets off every multiple of 4). */
  gapFloats?: number;
  /** Buffer sizes are rounded up to this many bytes (16: parameters can be read as quads). */
  bufferMultipleOf?: number;
  /** The view of parameters and gradients every group must use, when the case is about one. */
  expectView?: ViewName | { param: ViewName; grad: ViewName };
}

/** Runs a random case on the GPU and in float64 on the CPU; parameters and state must agree. */
export async function checkAgainstReference(device: GPUDevice, c: RandomCase): Promise<number> {
  const rand = random(c.seed);
  const sizes = c.shapes.map((s) => geometry(s, 'case').numel);
  const init = sizes.map((n) => normals(n, rand));
  const tensors = new TensorSet(device, c.shapes, init, c.layout, c.gapFloats, c.bufferMultipleOf);
  const reference = new ReferenceAdafactor(
    c.shapes.map((shape, i) => ({ data: init[i], shape })),
    c.options,
  );
  const optimizer = tensors.newOptimizer(c.options);
  if (c.expectView) {
    const expected = typeof c.expectView === 'string' ? { param: c.expectView, grad: c.expectView } : c.expectView;
    const views = optimizer.engine.views;
    if (!views.every((v) => v.param === expected.param && v.grad === expected.grad))
      throw new Error(`expected every group to bind ${JSON.stringify(expected)}, got ${JSON.stringify(views)}`);
  }
  let worst = 0;
  try {
    for (let s = 0; s < c.steps; s++) {
      const scale = (c.gradScale ?? 1) * (s % 3 === 2 ? 10 : 1);
      const grads = sizes.map((n) => normals(n, rand, scale));
      tensors.writeGrads(grads);
      optimizer.step();
      reference.step(grads);
    }
    const params = await tensors.readParams();
    params.forEach((actual, i) => {
      const what = `seed ${c.seed}, tensor ${i} ${JSON.stringify(c.shapes[i])}, options ${describe(c.options)}, after ${c.steps} steps`;
      expectClose(actual, reference.params[i], what, toleranceFor(c.options));
      worst = Math.max(worst, relativeError(actual, reference.params[i]));
    });
    await tensors.expectGapsUntouched();
  } finally {
    optimizer.destroy();
    tensors.destroy();
  }
  return worst;
}

/** Property: random shapes, options, step counts and buffer layouts agree with the reference (`extraOptions` added to each case's). */
export async function checkRandomCases(
  device: GPUDevice,
  numRuns: number,
  extraOptions: AdafactorOptions = {},
): Promise<string> {
  let worst = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(randomShape(), { minLength: 1, maxLength: 5 }),
      randomOptions,
      fc.integer({ min: 1, max: 4 }),
      fc.constantFrom<'arena' | 'separate'>('arena', 'separate'),
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      async (shapes, options, steps, layout, seed) => {
        worst = Math.max(
          worst,
          await checkAgainstReference(device, {
            seed,
            shapes,
            options: { ...options, ...extraOptions },
            steps,
            layout,
          }),
        );
      },
    ),
    { numRuns },
  );
  return `${numRuns} random cases, worst ${worst.toExponential(2)}`;
}

/**
 * Steps recorded into several encoders, `stepsPerEncoder[k]` into the k-th, all before any is
 * submitted, then submitted in recording order: bit-identical to the same steps submitted one at
 * a time, and the float64 reference's as many steps (each with its own t and lr(t)).
 */
export async function checkStepsAcrossEncoders(device: GPUDevice, stepsPerEncoder: readonly number[]): Promise<void> {
  const rand = random(7);
  const shapes = [[37, 70], [70], [3, 5, 9], []];
  const sizes = shapes.map((s) => geometry(s, 'case').numel);
  const init = sizes.map((n) => normals(n, rand));
  const grads = sizes.map((n) => normals(n, rand));
  const options: AdafactorOptions = { relativeStep: false, lr: (t) => 0.01 / t, beta1: 0.5, warmupInit: false };
  const steps = stepsPerEncoder.reduce((a, b) => a + b, 0);
  const results: Float32Array[][] = [];
  for (const together of [false, true]) {
    const tensors = new TensorSet(device, shapes, init);
    const optimizer = tensors.newOptimizer(options);
    tensors.writeGrads(grads);
    if (together) {
      const encoders = stepsPerEncoder.map((count) => {
        const encoder = device.createCommandEncoder();
        for (let i = 0; i < count; i++) optimizer.step(encoder);
        return encoder;
      });
      device.queue.submit(encoders.map((e) => e.finish()));
    } else {
      for (let i = 0; i < steps; i++) optimizer.step();
    }
    results.push(await tensors.readParams());
    optimizer.destroy();
    tensors.destroy();
  }
  const recorded = `${steps} steps recorded into encoders of ${stepsPerEncoder.join(' + ')}`;
  results[0].forEach((apart, i) => {
    const joint = results[1][i];
    for (let k = 0; k < apart.length; k++) {
      if (!Object.is(apart[k], joint[k])) {
        throw new Error(
          `tensor ${i} ${JSON.stringify(shapes[i])} element ${k}: ${joint[k]} with ${recorded}, ${apart[k]} with a submit per step`,
        );
      }
    }
  });
  // And the result is that many steps of the reference, not fewer or some with another step's schedule.
  const reference = new ReferenceAdafactor(
    shapes.map((shape, i) => ({ data: init[i], shape })),
    options,
  );
  for (let i = 0; i < steps; i++) reference.step(grads);
  results[1].forEach((joint, i) => expectClose(joint, reference.params[i], `${recorded}, tensor ${i}`));
}

export async function checkTwoStepsInOneEncoder(device: GPUDevice): Promise<void> {
  await checkStepsAcrossEncoders(device, [2]);
}

export async function checkDeterminism(device: GPUDevice, extraOptions: AdafactorOptions = {}): Promise<void> {
  const rand = random(11);
  const shapes = [[300, 515], [4, 67, 33], [9000], []];
  const sizes = shapes.map((s) => geometry(s, 'case').numel);
  const init = sizes.map((n) => normals(n, rand));
  const grads = [0, 1, 2].map(() => sizes.map((n) => normals(n, rand)));
  const runs: Float32Array[][] = [];
  for (let run = 0; run < 2; run++) {
    const tensors = new TensorSet(device, shapes, init);
    const optimizer = tensors.newOptimizer({ beta1: 0.9, ...extraOptions });
    for (const g of grads) {
      tensors.writeGrads(g);
      optimizer.step();
    }
    runs.push(await tensors.readParams());
    optimizer.destroy();
    tensors.destroy();
  }
  runs[0].forEach((first, i) => {
    for (let k = 0; k < first.length; k++) {
      if (!Object.is(first[k], runs[1][i][k]))
        throw new Error(`tensor ${i} element ${k} differs between runs: ${first[k]} vs ${runs[1][i][k]}`);
    }
  });
}

function describe(options: AdafactorOptions): string {
  return JSON.stringify(options, (_, v) => (typeof v === 'function' ? String(v) : v));
}
