/**
 * The step program: the one table of the passes of a step, in the order they run, with the
 * kernel each dispatches, how often (per window of tiles, per group, or once in all) and over how
 * many workgroups. Recording a step, profiling its kernels and counting its dispatches all read it.
 * docs/internals.md describes each pass and maps the algorithm's stages to them.
 */
import type { KernelName } from './kernels.js';
import type { PlannedGroup } from './plan.js';
import type { PlannedWindow } from './windows.js';

/** How often a pass is dispatched: once per window of a group's tiles, once per group, or once for the whole optimizer. */
export type PassScope = 'window' | 'group' | 'optimizer';

export interface Pass {
  kernel: KernelName;
  scope: PassScope;
  /** Its workgroups over a group (and, for window passes, one of the group's windows); a pass with none is left out. */
  workgroups: (group: PlannedGroup<unknown>, window: PlannedWindow) => number;
  /** Whether the step has the pass: only with skipNonFinite, only where a group uses caution, or always. */
  onlyWith?: keyof ProgramFeatures;
}

/** The options that add passes to a step. */
export interface ProgramFeatures {
  skipNonFinite: boolean;
  caution: boolean;
  maxGradNorm: boolean;
}

/** The tiles of a window that go through the passes: all but those of small tensors, which whole_tensor steps. */
const passTiles = (_: PlannedGroup<unknown>, w: PlannedWindow) => w.tileCount - w.wholeTensorCount;

export const STEP_PROGRAM: readonly Pass[] = [
  // With maxGradNorm: sums of G^2 per tile, then in one workgroup the global norm and clip factor.
  { kernel: 'gradNorm', scope: 'window', workgroups: passTiles, onlyWith: 'maxGradNorm' },
  { kernel: 'finalizeGradNorm', scope: 'optimizer', workgroups: () => 1, onlyWith: 'maxGradNorm' },
  // 1. Row and column sums of Q (vectors: V_t), sums of X^2: a workgroup per tile.
  { kernel: 'stats', scope: 'window', workgroups: passTiles },
  // 2. R_t and C_t of factored tensors: a workgroup per block of LINE_BLOCK rows and columns.
  { kernel: 'finalizeStats', scope: 'group', workgroups: (g) => g.lineBlockCount },
  // 3. mean(R_t) per matrix: a workgroup per factored tensor (they lead the group's tensors).
  { kernel: 'meanRows', scope: 'group', workgroups: (g) => g.factoredTensorCount },
  // 4. Sums of U^2 of factored tensors: a workgroup per factored tile (they lead every window).
  { kernel: 'updateNorm', scope: 'window', workgroups: (_, w) => w.factoredTileCount },
  // 5. RMS(X), alpha_t, RMS(U), the clip divisor: a workgroup per tensor but the small ones.
  { kernel: 'finalizeScale', scope: 'group', workgroups: (g) => g.tensorCount - g.wholeTensorCount },
  // With caution: per tile, how many elements of M_t agree in sign with G; then per tensor, the fraction.
  { kernel: 'cautionCount', scope: 'window', workgroups: passTiles, onlyWith: 'caution' },
  {
    kernel: 'finalizeCaution',
    scope: 'group',
    workgroups: (g) => g.tensorCount - g.wholeTensorCount,
    onlyWith: 'caution',
  },
  // With skipNonFinite: one workgroup decides, from every tensor's counts, whether the step is skipped.
  { kernel: 'decideSkip', scope: 'optimizer', workgroups: () => 1, onlyWith: 'skipNonFinite' },
  // 6. X_t, M_t and the new R, C, V: a workgroup per tile.
  { kernel: 'apply', scope: 'window', workgroups: passTiles },
  // The whole step of each small tensor (one tile): a workgroup each (none with skipNonFinite, caution or maxGradNorm).
  { kernel: 'wholeTensor', scope: 'window', workgroups: (_, w) => w.wholeTensorCount },
];

/** One dispatch of a step: its kernel, pipeline, bind group and workgroup count. */
export interface Dispatch {
  kernel: KernelName;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: number;
}

/** A group as the program sees it: its plan, its windows' bind groups, and its pipelines. */
export interface ProgramGroup {
  group: PlannedGroup<unknown>;
  windows: readonly (PlannedWindow & { bindGroup: GPUBindGroup })[];
  pipelineFor: (kernel: KernelName) => GPUComputePipeline;
}

/**
 * The dispatches of one step, in the program's order: each pass over every group before the
 * next pass; group passes through the group's first window's bind group, the optimizer-wide pass
 * through the first group's. Passes with no workgroups are left out.
 */
export function programDispatches(groups: readonly ProgramGroup[], features: ProgramFeatures): Dispatch[] {
  const dispatches: Dispatch[] = [];
  const add = (pass: Pass, g: ProgramGroup, bindGroup: GPUBindGroup, workgroups: number) => {
    if (workgroups > 0)
      dispatches.push({ kernel: pass.kernel, pipeline: g.pipelineFor(pass.kernel), bindGroup, workgroups });
  };
  for (const pass of STEP_PROGRAM) {
    if (pass.onlyWith && !features[pass.onlyWith]) continue;
    if (pass.scope === 'optimizer') {
      if (groups.length > 0)
        add(pass, groups[0], groups[0].windows[0].bindGroup, pass.workgroups(groups[0].group, groups[0].windows[0]));
      continue;
    }
    for (const g of groups) {
      if (pass.scope === 'group') add(pass, g, g.windows[0].bindGroup, pass.workgroups(g.group, g.windows[0]));
      else for (const w of g.windows) add(pass, g, w.bindGroup, pass.workgroups(g.group, w));
    }
  }
  return dispatches;
}

/**
 * Records `dispatches` into `encoder`: in one compute pass, or with `passFor` each in a compute
 * pass of its own made from `passFor(kernel, i)` (for profiling with timestamp writes).
 */
export function recordDispatches(
  encoder: GPUCommandEncoder,
  dispatches: readonly Dispatch[],
  maxPerDimension: number,
  label: string,
  passFor?: (kernel: KernelName, index: number) => GPUComputePassDescriptor,
): void {
  const shared = passFor ? undefined : encoder.beginComputePass({ label });
  dispatches.forEach((d, i) => {
    const pass = shared ?? encoder.beginComputePass(passFor!(d.kernel, i));
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(...dispatchGrid(d.workgroups, maxPerDimension));
    if (!shared) pass.end();
  });
  shared?.end();
}

/** A 1-D count as an (x, y) grid within the per-dimension limit; shaders flatten it back. */
export function dispatchGrid(count: number, maxPerDimension: number): [number, number] {
  const x = Math.min(count, maxPerDimension);
  return [x, Math.ceil(count / x)];
}
