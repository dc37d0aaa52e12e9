// The tfjs entry's types, as a TypeScript consumer uses them.
import type { Optimizer } from '@tensorflow/tfjs';
import { AdafactorOptimizer, type AdafactorOptimizerGroup, tfjsDevice } from 'webgpu-adafactor/tfjs';

const groups: AdafactorOptimizerGroup[] = [{ match: /bias/, scaleParameter: false }];
export const optimizer: Optimizer = new AdafactorOptimizer({ beta1: 0.9 }, groups);
export const device = (): GPUDevice => tfjsDevice().device;
