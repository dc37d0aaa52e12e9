/** Shader modules and compute pipelines, each made once, on first use, and shared by the groups that use the same views. */
import type { StateDtype } from '../core/half.js';
import type { KernelVariant, ResolvedOptions } from '../core/options.js';
import type { GroupViews } from './bindings.js';
import { type KernelName, moduleSource } from './kernels.js';

/** The shaders' override constants (1: true, 0: false): which options some parameter group uses (see interface.wgsl). */
interface PipelineFeatures {
  USES_MOMENTUM: number;
  USES_EPS_FLOOR: number;
}

function pipelineFeatures(groups: readonly ResolvedOptions[]): PipelineFeatures {
  return {
    USES_MOMENTUM: Number(groups.some((o) => o.beta1 !== undefined)),
    USES_EPS_FLOOR: Number(groups.some((o) => o.eps1Mode === 'floor')),
  };
}

/** Makes each shader module (per views) and each pipeline (per kernel and views) once, on first use. */
export function pipelineFactory(
  device: GPUDevice,
  layout: GPUBindGroupLayout,
  variant: KernelVariant,
  groups: readonly ResolvedOptions[],
  momentum: StateDtype,
): (kernel: KernelName, views: GroupViews) => GPUComputePipeline {
  const features = pipelineFeatures(groups);
  const pipelineLayout = device.createPipelineLayout({ label: 'adafactor', bindGroupLayouts: [layout] });
  const modules = new Map<string, GPUShaderModule>();
  const made = new Map<string, GPUComputePipeline>();
  return (kernel, views) => {
    const viewKey = `${views.param} ${views.grad}`;
    const key = `${kernel} ${viewKey}`;
    let found = made.get(key);
    if (!found) {
      let module = modules.get(viewKey);
      if (!module) {
        module = device.createShaderModule({
          label: `adafactor ${variant} ${viewKey} ${momentum}`,
          code: moduleSource(views.param, views.grad, variant, momentum),
        });
        modules.set(viewKey, module);
      }
      found = device.createComputePipeline({
        label: `adafactor ${key}`,
        layout: pipelineLayout,
        compute: { module, entryPoint: kernel, constants: { ...features } },
      });
      made.set(key, found);
    }
    return found;
  };
}
