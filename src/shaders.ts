// The WGSL sources, bundled as strings so that the library needs no files at run time.
import common from '../shaders/common.wgsl?raw';
import stats from '../shaders/stats.wgsl?raw';
import finalizeStats from '../shaders/finalize_stats.wgsl?raw';
import updateNorm from '../shaders/update_norm.wgsl?raw';
import finalizeScale from '../shaders/finalize_scale.wgsl?raw';
import decideSkip from '../shaders/decide_skip.wgsl?raw';
import apply from '../shaders/apply.wgsl?raw';

/** Declarations every kernel shares: constants, table structs and the bindings. */
export const COMMON_SOURCE = common;

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
