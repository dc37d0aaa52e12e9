// A WebGPU device in Node: Dawn through the `webgpu` package (lavapipe on machines without a GPU).
import { afterAll, afterEach, beforeAll } from 'vitest';
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
/** Dawn's GPU object; kept referenced, since Dawn crashes if it is collected while devices live. */
export const gpu = create([]);

export async function nodeDevice(requiredFeatures: GPUFeatureName[] = []): Promise<GPUDevice> {
  const adapter = await gpu.requestAdapter();
  if (!adapter)
    throw new Error(
      'No WebGPU adapter in Node: install a Vulkan driver (Mesa lavapipe from bookworm-backports; run: sudo bash tools/install-system.sh)',
    );
  const missing = requiredFeatures.filter((f) => !adapter.features.has(f));
  if (missing.length > 0)
    throw new Error(`The WebGPU adapter in Node lacks ${missing.join(', ')} (lavapipe from Mesa 25 has shader-f16)`);
  return adapter.requestDevice({ requiredFeatures, requiredLimits: { maxBufferSize: adapter.limits.maxBufferSize } });
}

/**
 * One device per test file, made before its tests; a GPU error that no error scope caught fails
 * the test during which it was raised.
 */
export function useDevice(requiredFeatures: GPUFeatureName[] = []): { readonly device: GPUDevice } {
  const holder = { device: undefined as unknown as GPUDevice };
  const uncaptured: string[] = [];
  beforeAll(async () => {
    holder.device = await nodeDevice(requiredFeatures);
    holder.device.addEventListener('uncapturederror', (event) => {
      uncaptured.push((event as GPUUncapturedErrorEvent).error.message);
    });
  });
  afterEach(async () => {
    await holder.device.queue.onSubmittedWorkDone();
    if (uncaptured.length > 0) throw new Error(`uncaptured GPU errors: ${uncaptured.splice(0).join('; ')}`);
  });
  afterAll(() => holder.device?.destroy());
  return holder;
}
