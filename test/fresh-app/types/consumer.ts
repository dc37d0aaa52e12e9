// The main entry's types, as a TypeScript consumer uses them.
import { Adafactor, type AdafactorOptions, type AdafactorStats, presets } from 'webgpu-adafactor';

export async function make(device: GPUDevice, param: GPUBuffer, grad: GPUBuffer): Promise<number> {
  const options: AdafactorOptions = presets.huggingFace({ beta1: 0.9 });
  const optimizer = new Adafactor(device, [{ param, grad, shape: [4, 4] }], options);
  optimizer.step();
  const stats: AdafactorStats = await optimizer.stats();
  return stats.step + optimizer.stepCount;
}
