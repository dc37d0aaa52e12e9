/**
 * What the tfjs entry uses of @tensorflow/tfjs-backend-webgpu's backend object (4.x), which
 * tfjs-core's types do not show, and TensorFlow.js's own GPUDevice for those who run the WebGPU
 * `Adafactor` beside tfjs.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * What this path uses of @tensorflow/tfjs-backend-webgpu's backend object (4.x), which
 * tfjs-core's types do not show.
 */
export interface WebGPUBackendInternals {
  device: GPUDevice;
  tensorMap: { get(dataId: object): { resource?: unknown; values?: unknown } | undefined };
  refCount(dataId: object): number;
  uploadToGPU(dataId: object): void;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

/** The backend object when tfjs runs on its `webgpu` backend, else undefined. */
export function webgpuBackend(name: string, current: unknown): WebGPUBackendInternals | undefined {
  if (name !== 'webgpu') return undefined;
  const backend = current as Partial<WebGPUBackendInternals>;
  const methods = [
    'refCount',
    'uploadToGPU',
    'ensureCommandEncoderReady',
    'endComputePassEncoder',
    'submitQueue',
  ] as const;
  const missing = [
    ...(['device', 'tensorMap'] as const).filter((m) => !backend[m]),
    ...methods.filter((m) => typeof backend[m] !== 'function'),
  ];
  if (missing.length > 0) {
    throw new Error(
      `AdafactorOptimizer: tfjs's webgpu backend has no ${missing.join(', ')}, which this optimizer uses; it is built for @tensorflow/tfjs-backend-webgpu 4.x`,
    );
  }
  return backend as WebGPUBackendInternals;
}

/** Submits the commands tfjs has recorded and not yet submitted (it submits in batches). */
export function submitPending(backend: WebGPUBackendInternals): void {
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.submitQueue();
}

/**
 * TensorFlow.js's own GPUDevice, for the WebGPU `Adafactor` beside tfjs on its webgpu backend:
 * make your buffers and the optimizer on `device`, record steps into encoders of your own, and
 * call `submitPending()` before you submit one: tfjs records its commands into an encoder of its
 * own and submits them in batches, so a gradient it computed may not be submitted yet; the queue
 * then runs your commands after tfjs's. Throws unless tfjs runs on its 'webgpu' backend.
 */
export function tfjsDevice(): { device: GPUDevice; submitPending: () => void } {
  const backend = webgpuBackend(tf.getBackend(), tf.backend());
  if (!backend)
    throw new Error(
      `tfjsDevice: tfjs runs on its '${tf.getBackend()}' backend; call await tf.setBackend('webgpu') first`,
    );
  return { device: backend.device, submitPending: () => submitPending(backend) };
}
