/**
 * The paper's experiment in Node: tfjs's webgpu backend on Dawn (the `webgpu` package; Mesa's
 * lavapipe on a machine without a GPU), with the same model, configurations, minibatches and
 * report as the page in Chromium (../experiment.ts).
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { create, globals } from 'webgpu';
import { type ExperimentHooks, type PaperResult, type PaperRunOptions, runExperiment } from '../experiment.js';

/** Dawn's GPU object: kept referenced, since Dawn crashes if it is collected while devices live. */
let gpu: GPU | undefined;

/** tfjs's webgpu backend on a Dawn device, made once per process; returns the adapter's description. */
export async function startNodeBackend(): Promise<GPUAdapterInfo> {
  if (!gpu) {
    Object.assign(globalThis, globals);
    gpu = create([]);
    // tfjs's webgpu backend looks for navigator.gpu, which Node 20 lacks.
    if (!(globalThis.navigator as Navigator | undefined)?.gpu)
      Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true });
  }
  if (tf.getBackend() !== 'webgpu') {
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter)
      throw new Error('No WebGPU adapter in Node: install a Vulkan driver (run: sudo bash tools/install-system.sh)');
    const device = await adapter.requestDevice({
      requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
      requiredLimits: { maxBufferSize: adapter.limits.maxBufferSize },
    });
    tf.registerBackend('webgpu', () => new WebGPUBackend(device));
    if (!(await tf.setBackend('webgpu'))) throw new Error("tfjs could not start its 'webgpu' backend on Dawn");
  }
  return (tf.backend() as unknown as { device: GPUDevice & { adapterInfo?: GPUAdapterInfo } }).device.adapterInfo!;
}

/** The experiment on tfjs's webgpu backend in Node; `onProgress` gets a line per configuration and about every 10 s. */
export async function runInNode(
  options: PaperRunOptions,
  onProgress: (line: string) => void = () => {},
  hooks: ExperimentHooks = {},
): Promise<PaperResult> {
  await startNodeBackend();
  let lastProgress = performance.now();
  return runExperiment(options, {
    ...hooks,
    onStep: (i, step, loss) => {
      if (performance.now() - lastProgress > 10_000) {
        lastProgress = performance.now();
        onProgress(`  configuration ${i + 1}: step ${step} of ${options.steps}, loss ${loss.toFixed(4)}`);
      }
      return hooks.onStep?.(i, step, loss);
    },
    onConfigDone: (i, r, seconds) => {
      onProgress(
        `${i + 1} ${r.name}: final loss ${r.finalLoss.toFixed(4)}, state ${r.stateBytes} bytes, ${r.stepsPerSecond.toFixed(2)} steps/s, ${seconds.toFixed(0)} s`,
      );
      hooks.onConfigDone?.(i, r, seconds);
    },
  });
}
