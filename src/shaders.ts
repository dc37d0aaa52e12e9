// The WGSL sources, bundled as strings so that the library needs no files at run time.
import common from '../shaders/common.wgsl?raw';
import viewsVec4 from '../shaders/views_vec4.wgsl?raw';
import viewsScalar from '../shaders/views_scalar.wgsl?raw';
import stats from '../shaders/stats.wgsl?raw';
import finalizeStats from '../shaders/finalize_stats.wgsl?raw';
import updateNorm from '../shaders/update_norm.wgsl?raw';
import finalizeScale from '../shaders/finalize_scale.wgsl?raw';
import decideSkip from '../shaders/decide_skip.wgsl?raw';
import apply from '../shaders/apply.wgsl?raw';

/** Declarations every kernel shares: constants, table structs and the bindings but param and grad. */
export const COMMON_SOURCE = common;

/**
 * The two ways to bind parameters and gradients: as quads of floats (when the bindings' sizes
 * are multiples of 16 bytes) or as single floats. Each declares bindings 0 and 1 and the same
 * access functions; a kernel is COMMON_SOURCE + a view + its own file.
 */
export const VIEW_SOURCES = { vec4: viewsVec4, scalar: viewsScalar } as const;
export type ViewName = keyof typeof VIEW_SOURCES;

/** The passes of one step, in the order they run. Each is the common prelude plus its own file. */
export const KERNEL_SOURCES = {
  stats,
  finalizeStats,
  updateNorm,
  finalizeScale,
  decideSkip,
  apply,
} as const;

export type KernelName = keyof typeof KERNEL_SOURCES;
export const KERNEL_ORDER = Object.keys(KERNEL_SOURCES) as KernelName[];
