/**
 * The WGSL sources, bundled as strings so that the library needs no files at run time, and the
 * kernel variants: one source, a few `const`s of interface.wgsl substituted per variant.
 */
import type { StateDtype } from '../core/half.js';
import type { KernelVariant } from '../core/options.js';
import { SHADER } from './interface.js';
import type { TileGeometry } from './plan.js';
import kernelInterface from '../../shaders/interface.wgsl?raw';
import common from '../../shaders/common.wgsl?raw';
import paramF32x4 from '../../shaders/param_f32x4.wgsl?raw';
import paramF32 from '../../shaders/param_f32.wgsl?raw';
import paramF16 from '../../shaders/param_f16.wgsl?raw';
import paramQuads from '../../shaders/param_quads.wgsl?raw';
import gradF32x4 from '../../shaders/grad_f32x4.wgsl?raw';
import gradF32 from '../../shaders/grad_f32.wgsl?raw';
import gradF16 from '../../shaders/grad_f16.wgsl?raw';
import gradQuads from '../../shaders/grad_quads.wgsl?raw';
import half from '../../shaders/half.wgsl?raw';
import momentumF32 from '../../shaders/momentum_f32.wgsl?raw';
import momentumPacked from '../../shaders/momentum_packed.wgsl?raw';
import momentumBf16 from '../../shaders/momentum_bf16.wgsl?raw';
import momentumF16 from '../../shaders/momentum_f16.wgsl?raw';
import stats from '../../shaders/stats.wgsl?raw';
import finalizeStats from '../../shaders/finalize_stats.wgsl?raw';
import meanRows from '../../shaders/mean_rows.wgsl?raw';
import updateNorm from '../../shaders/update_norm.wgsl?raw';
import finalizeScale from '../../shaders/finalize_scale.wgsl?raw';
import decideSkip from '../../shaders/decide_skip.wgsl?raw';
import cautionCount from '../../shaders/caution_count.wgsl?raw';
import gradNorm from '../../shaders/grad_norm.wgsl?raw';
import finalizeGradNorm from '../../shaders/finalize_grad_norm.wgsl?raw';
import finalizeCaution from '../../shaders/finalize_caution.wgsl?raw';
import apply from '../../shaders/apply.wgsl?raw';
import wholeTensor from '../../shaders/whole_tensor.wgsl?raw';

/**
 * How parameters (binding 0) and gradients (binding 1) are bound: as quads of f32 (when the
 * binding's size is a multiple of 16 bytes), as quads with no per-element test (when, besides,
 * every quad a kernel takes is whole and aligned), as single f32, or as f16. Each file of a
 * kind declares the same binding and functions.
 */
export const PARAM_VIEWS = { quads: paramQuads, f32x4: paramF32x4, f32: paramF32, f16: paramF16 } as const;
export const GRAD_VIEWS = { quads: gradQuads, f32x4: gradF32x4, f32: gradF32, f16: gradF16 } as const;
export type ViewName = keyof typeof PARAM_VIEWS;

/** How the first moment (binding 6) is kept, by momentumDtype: f32, or 16 bits packed two to a word. */
export const MOMENTUM_VIEWS: Record<StateDtype, string> = {
  f32: momentumF32,
  bf16: momentumPacked + momentumBf16,
  f16: momentumPacked + momentumF16,
};

/**
 * The kernels, one file each, each the entry point of its name: the passes of a step (the order
 * and extent of their dispatches is the step program's: program.ts), and whole_tensor, which runs
 * all of them for a small tensor in one workgroup.
 */
export const KERNEL_SOURCES = {
  gradNorm,
  finalizeGradNorm,
  stats,
  finalizeStats,
  meanRows,
  updateNorm,
  finalizeScale,
  cautionCount,
  finalizeCaution,
  decideSkip,
  apply,
  wholeTensor,
} as const;

export type KernelName = keyof typeof KERNEL_SOURCES;

/**
 * The WGSL of the shader module for the given views, variant and momentum format: the interface,
 * the shared math, the 16-bit conversions, the views and every kernel.
 */
export function moduleSource(
  param: ViewName,
  grad: ViewName,
  variant: KernelVariant = 'wide',
  momentum: StateDtype = 'f32',
): string {
  const f16 = param === 'f16' || grad === 'f16' ? 'enable f16;\n' : '';
  return (
    f16 +
    interfaceSource(KERNEL_VARIANTS[variant]) +
    common +
    half +
    PARAM_VIEWS[param] +
    GRAD_VIEWS[grad] +
    MOMENTUM_VIEWS[momentum] +
    Object.values(KERNEL_SOURCES).join('')
  );
}

/**
 * The compile-time geometry a kernel variant sets (see interface.wgsl): workgroup size, factored tile
 * shape, quads of a row an invocation takes in the tile passes, and the vector tile. Every variant runs the
 * same kernels from the same sources, with these `const`s substituted; each is exact (the sums are
 * fixed-order trees whatever their shape), so variants differ only in speed, and in the last bits
 * of the sums, whose order follows the tile shape.
 */
export interface VariantGeometry {
  WORKGROUP_SIZE: number;
  TILE_ROWS: number;
  TILE_COLS: number;
  QUADS_PER_INVOCATION: number;
  VECTOR_TILE: number;
  /** 1: the tile passes leave each invocation's partial sums, with no barrier; 0: one per tile. */
  INVOCATION_PARTIALS: number;
}

/**
 * The variants, by name. 'unsynced' suits the adapters that run on the CPU. It was made for
 * SwiftShader, which runs a workgroup as groups of four lanes and makes a kernel with any barrier
 * switch between them as coroutines: the tile passes (stats, update_norm) have no barrier (each
 * invocation leaves its own partial sums, which the finalize passes add); 16 invocations, so that
 * whole_tensor, which needs its barriers, has few lanes to switch between (16 took many-small from
 * 2.2-2.6 to 1.5-1.6 times the fused Adam's time against 32); and tall 256 x 64 tiles, because
 * SwiftShader pays a fixed price per workgroup (the tables, the column terms): against 64 x 64
 * tiles, in one interleaved run, large-matrix went from 0.63 to 0.70 of the copy bandwidth and
 * transformer from 0.95 to 0.81 times the fused Adam's time. It is also the faster on lavapipe,
 * which runs a workgroup as one loop over its invocations (one run: 0.91 against 1.15 times Adam's
 * time on large-matrix, 0.88 against 1.30 on transformer, 0.90 against 1.71 on many-small).
 * 'wide' is for GPUs: 64 invocations, the width of a GPU's SIMD groups or two, 96 x 256 tiles, and
 * the tile passes sum over the workgroup (on an NVIDIA H200: 0.53 against 1.14 ms on large-matrix,
 * 4.76 against 6.26 ms on GPT-2 small's 124M parameters; docs/performance.md).
 */
export const KERNEL_VARIANTS = {
  wide: {
    WORKGROUP_SIZE: 64,
    TILE_ROWS: 96,
    TILE_COLS: 256,
    QUADS_PER_INVOCATION: 2,
    VECTOR_TILE: 4096,
    INVOCATION_PARTIALS: 0,
  },
  unsynced: {
    WORKGROUP_SIZE: 16,
    TILE_ROWS: 256,
    TILE_COLS: 64,
    QUADS_PER_INVOCATION: 4,
    VECTOR_TILE: 4096,
    INVOCATION_PARTIALS: 1,
  },
} as const satisfies Record<KernelVariant, VariantGeometry>;

/** How a variant's tile passes split a tile (COL_GROUPS and ROW_LANES in interface.wgsl): blocks of quads across, lanes down. */
function blockLayout(g: VariantGeometry): { colGroups: number; rowLanes: number } {
  const colGroups = g.TILE_COLS / (4 * g.QUADS_PER_INVOCATION);
  return { colGroups, rowLanes: g.WORKGROUP_SIZE / colGroups };
}

/** The tile geometry the planner needs (see plan.ts), with the partial counts the variant implies. */
export function variantTiles(g: VariantGeometry): {
  TILE_ROWS: number;
  TILE_COLS: number;
  VECTOR_TILE: number;
  LINE_BLOCK: number;
  ROW_PARTS: number;
  COL_PARTS: number;
  TILE_PARTS: number;
} {
  const { colGroups, rowLanes } = blockLayout(g);
  const each = g.INVOCATION_PARTIALS === 1;
  return {
    TILE_ROWS: g.TILE_ROWS,
    TILE_COLS: g.TILE_COLS,
    VECTOR_TILE: g.VECTOR_TILE,
    LINE_BLOCK: g.WORKGROUP_SIZE,
    ROW_PARTS: each ? colGroups : 1,
    COL_PARTS: each ? rowLanes : 1,
    TILE_PARTS: each ? g.WORKGROUP_SIZE : 1,
  };
}

/** Everything the planner needs of a variant's tiles (plan.ts): the shaders' constants with the variant's geometry. */
export function tileGeometry(variant: KernelVariant): TileGeometry {
  return {
    ...SHADER.constants,
    ...variantTiles(KERNEL_VARIANTS[variant]),
    TENSOR_SCALARS: SHADER.structs.TensorScalars.size / 4,
  };
}

/** Bytes of workgroup memory a variant's kernels declare (stats' `lines` and the reduction): at most 16 KiB. */
export function workgroupBytes(g: VariantGeometry): number {
  const { colGroups, rowLanes } = blockLayout(g);
  const lines = g.INVOCATION_PARTIALS === 1 ? 1 : Math.max(g.TILE_ROWS * colGroups, rowLanes * g.TILE_COLS);
  return 4 * lines + 16 * g.WORKGROUP_SIZE + 16;
}

/** Throws unless the geometry divides as the kernels assume. */
export function checkGeometry(name: string, g: VariantGeometry): void {
  const { colGroups } = blockLayout(g);
  const blocks = [1, 2, 4]; // the quads of a block the tile passes take (see blockCounts in common.wgsl)
  const ok =
    blocks.includes(g.QUADS_PER_INVOCATION) &&
    Number.isInteger(colGroups) &&
    g.WORKGROUP_SIZE % colGroups === 0 &&
    g.WORKGROUP_SIZE % 8 === 0 &&
    g.VECTOR_TILE % (4 * g.WORKGROUP_SIZE) === 0;
  if (!ok) throw new Error(`internal: kernel variant ${name} has a geometry the kernels cannot use`);
  if (workgroupBytes(g) > 16384)
    throw new Error(`internal: kernel variant ${name} needs more than 16 KiB of workgroup memory`);
}

/** interface.wgsl with a variant's constants in place of its own (each declared once, as `const NAME = ...;`). */
export function interfaceSource(g: VariantGeometry): string {
  let source = kernelInterface;
  for (const [name, value] of Object.entries(g)) {
    const declaration = new RegExp(`^const ${name} = [^;]+;`, 'm');
    if (!declaration.test(source)) throw new Error(`internal: interface.wgsl declares no const ${name}`);
    source = source.replace(declaration, `const ${name} = ${value}u;`);
  }
  return source;
}

/** Names in an adapter's info that mark an adapter running on the CPU: SwiftShader (Chromium's), and Mesa's lavapipe (llvmpipe). */
const CPU_ADAPTERS = ['swiftshader', 'llvmpipe', 'lavapipe'];

/**
 * Which variant suits an adapter, from what it says of itself (`GPUDevice.adapterInfo`, in Chromium
 * and Dawn's Node package): the adapters that run on the CPU (SwiftShader: vendor 'google',
 * architecture 'swiftshader'; lavapipe: vendor 'mesa', description 'llvmpipe ...') take 'unsynced',
 * which was the faster on both in every benchmark case; everything else 'wide' (the faster on an
 * NVIDIA H200 but for many small tensors).
 */
export function autoVariant(
  info: Partial<Pick<GPUAdapterInfo, 'vendor' | 'architecture' | 'description'>> | undefined,
): KernelVariant {
  const words = `${info?.vendor ?? ''} ${info?.architecture ?? ''} ${info?.description ?? ''}`.toLowerCase();
  return CPU_ADAPTERS.some((name) => words.includes(name)) ? 'unsynced' : 'wide';
}
