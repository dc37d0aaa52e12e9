// The WGSL sources, bundled as strings so that the library needs no files at run time.
import common from '../shaders/common.wgsl?raw';
import paramF32x4 from '../shaders/param_f32x4.wgsl?raw';
import paramF32 from '../shaders/param_f32.wgsl?raw';
import paramF16 from '../shaders/param_f16.wgsl?raw';
import paramQuads from '../shaders/param_quads.wgsl?raw';
import gradF32x4 from '../shaders/grad_f32x4.wgsl?raw';
import gradF32 from '../shaders/grad_f32.wgsl?raw';
import gradF16 from '../shaders/grad_f16.wgsl?raw';
import gradQuads from '../shaders/grad_quads.wgsl?raw';
import stats from '../shaders/stats.wgsl?raw';
import finalizeStats from '../shaders/finalize_stats.wgsl?raw';
import updateNorm from '../shaders/update_norm.wgsl?raw';
import finalizeScale from '../shaders/finalize_scale.wgsl?raw';
import decideSkip from '../shaders/decide_skip.wgsl?raw';
import apply from '../shaders/apply.wgsl?raw';
import wholeTensor from '../shaders/whole_tensor.wgsl?raw';

/** Declarations every kernel shares: constants, table structs and the bindings but param and grad. */
export const COMMON_SOURCE = common;

/**
 * How parameters (binding 0) and gradients (binding 1) are bound: as quads of f32 (when the
 * binding's size is a multiple of 16 bytes), as quads with no per-element test (when, besides,
 * every quad a kernel takes is whole and aligned), as single f32, or as f16. Each file of a
 * kind declares the same binding and functions.
 */
export const PARAM_VIEWS = { quads: paramQuads, f32x4: paramF32x4, f32: paramF32, f16: paramF16 } as const;
export const GRAD_VIEWS = { quads: gradQuads, f32x4: gradF32x4, f32: gradF32, f16: gradF16 } as const;
export type ViewName = keyof typeof PARAM_VIEWS;

/**
 * The kernels, one file each: the passes of a step in the order they run, then whole_tensor,
 * which runs all of them for a small tensor in one workgroup. Each is the entry point of its name.
 */
export const KERNEL_SOURCES = {
  stats,
  finalizeStats,
  updateNorm,
  finalizeScale,
  decideSkip,
  apply,
  wholeTensor,
} as const;

export type KernelName = keyof typeof KERNEL_SOURCES;
export const KERNEL_ORDER = Object.keys(KERNEL_SOURCES) as KernelName[];

/** The WGSL of the shader module for the given views: the prelude, the views and every kernel. */
export function moduleSource(param: ViewName, grad: ViewName): string {
  const f16 = param === 'f16' || grad === 'f16' ? 'enable f16;\n' : '';
  return f16 + COMMON_SOURCE + PARAM_VIEWS[param] + GRAD_VIEWS[grad] + Object.values(KERNEL_SOURCES).join('');
}
