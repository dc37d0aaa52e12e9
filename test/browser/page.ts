/**
 * The browser side of the Chromium suite: the same GPU checks as in Node (test/gpu/checks.ts),
 * each run on request through `window.gpuChecks.run(name, ...args)` so that results come back
 * to the test runner test by test.
 */
import goldenJson from '../data/hf-adafactor.json';
import optaxJson from '../data/optax-adafactor.json';
import timmJson from '../data/timm-adafactor.json';
import torchJson from '../data/torch-adafactor.json';
import {
  checkDeterminism,
  checkGoldenCase,
  checkAgainstReference,
  checkRandomCases,
  checkStepsAcrossEncoders,
  checkTwoStepsInOneEncoder,
} from '../gpu/checks.js';
import { decodeGolden, decodeTimmTrace, decodeTrace } from '../gpu/golden.js';
import { withGpuErrors } from '../gpu/harness.js';
import { Adafactor } from '../../src/index.js';
import { KERNEL_VARIANT_NAMES, type KernelVariant } from '../../src/core/options.js';
import { BufferUsage } from '../../src/gpu/usage.js';

const golden = decodeGolden(goldenJson as Parameters<typeof decodeGolden>[0]);
const traces = {
  torch: decodeTrace(torchJson as Parameters<typeof decodeTrace>[0], 'torch'),
  optax: decodeTrace(optaxJson as Parameters<typeof decodeTrace>[0], 'optax'),
  timm: decodeTimmTrace(timmJson as Parameters<typeof decodeTimmTrace>[0]),
};

async function requestDevice(): Promise<GPUDevice> {
  if (!navigator.gpu)
    throw new Error('navigator.gpu is missing: this Chromium has no WebGPU (start it with --enable-unsafe-webgpu)');
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter)
    throw new Error(
      'no WebGPU adapter in Chromium: check the flags in tools/chromium.ts (SwiftShader needs --enable-unsafe-webgpu)',
    );
  return adapter.requestDevice();
}

const devicePromise = requestDevice();

const checks = {
  goldenCases: async () => golden.map((c) => c.name),
  golden: (device: GPUDevice, name: string, layout: 'arena' | 'separate', path: 'whole' | 'passes' = 'whole') => {
    const found = golden.find((c) => c.name === name);
    if (!found) throw new Error(`no golden case ${name}`);
    return checkGoldenCase(device, found, layout, path);
  },
  /** Every case of PyTorch's (optax's, timm's) traces that its preset reproduces, in both layouts. */
  traces: async (device: GPUDevice, library: 'torch' | 'optax' | 'timm') => {
    const cases = traces[library].filter((c) => !c.refused);
    for (const c of cases)
      for (const layout of ['arena', 'separate'] as const) await checkGoldenCase(device, c, layout);
    return `${library}: ${cases.length} cases in two layouts`;
  },
  randomCases: (device: GPUDevice, numRuns: number) => checkRandomCases(device, numRuns),
  shapes: (device: GPUDevice, shapes: number[][], seed: number) =>
    checkAgainstReference(device, {
      seed,
      shapes,
      options: { beta1: 0.9, weightDecay: 0.01 },
      steps: 3,
      layout: 'arena',
    }),
  twoStepsInOneEncoder: (device: GPUDevice) => checkTwoStepsInOneEncoder(device),
  stepsAcrossEncoders: (device: GPUDevice, stepsPerEncoder: number[]) =>
    checkStepsAcrossEncoders(device, stepsPerEncoder),
  determinism: (device: GPUDevice) => checkDeterminism(device),
  variantNames: async () => KERNEL_VARIANT_NAMES,
  /** One kernel variant, forced: every golden trace (small tensors whole and through the passes), random cases, bit-identical reruns. */
  variant: async (device: GPUDevice, kernelVariant: KernelVariant, numRuns: number) => {
    for (const c of golden)
      for (const path of ['whole', 'passes'] as const)
        await checkGoldenCase(device, c, 'arena', path, { kernelVariant });
    await checkDeterminism(device, { kernelVariant });
    return `${kernelVariant}: ${golden.length} golden traces two ways, ${await checkRandomCases(device, numRuns, { kernelVariant })}`;
  },
  /** The variant 'auto' picks on this adapter. */
  autoVariant: async (device: GPUDevice) => {
    const buffers = [0, 1].map(() => device.createBuffer({ size: 64, usage: BufferUsage.STORAGE }));
    const optimizer = new Adafactor(device, [{ param: buffers[0], grad: buffers[1], shape: [4, 4] }]);
    const picked = optimizer.kernelVariant;
    optimizer.destroy();
    for (const b of buffers) b.destroy();
    return picked;
  },
  adapter: async (device: GPUDevice) => {
    const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
    return info ? `${info.vendor} / ${info.architecture} / ${info.description}` : 'unknown';
  },
};

export type CheckName = keyof typeof checks;

async function run(name: CheckName, ...args: unknown[]): Promise<unknown> {
  const device = await devicePromise;
  const check = checks[name] as (device: GPUDevice, ...args: unknown[]) => Promise<unknown>;
  if (!check) throw new Error(`no check named ${name}`);
  return withGpuErrors(device, () => check(device, ...args));
}

declare global {
  interface Window {
    gpuChecks: { run: typeof run; ready: Promise<string> };
  }
}

window.gpuChecks = {
  run,
  ready: devicePromise.then((device) => {
    device.addEventListener('uncapturederror', (event) =>
      console.error(`uncaptured GPU error: ${(event as GPUUncapturedErrorEvent).error.message}`),
    );
    return 'ready';
  }),
};
