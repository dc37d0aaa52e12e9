/**
 * The tensor table: where each tensor's tiles, state and scratch live. A pure function of the
 * tensors' shapes and buffers, made once at construction; the shaders read it every step.
 *
 * Tensors whose parameters share one buffer and whose gradients share another form a group,
 * and each pass of a step is one dispatch per group, however many tensors it holds.
 */
import type { Geometry } from './shape.js';

export interface TileGeometry {
  TILE_ROWS: number;
  TILE_COLS: number;
  VECTOR_TILE: number;
  LINE_BLOCK: number;
  NO_MOMENTUM: number;
}

/** What the planner needs of one tensor. Buffers are compared by identity. */
export interface PlanInput<B> {
  geom: Geometry;
  paramBuffer: B;
  gradBuffer: B;
  /** Elements, not bytes. */
  paramOffset: number;
  gradOffset: number;
  /** Index of its option group in the settings table. */
  settings: number;
  momentum: boolean;
}

/** One row of the WGSL `Tensor` table; the field names are the struct's. */
export type TensorFields = Record<
  | 'paramOffset' | 'gradOffset' | 'batch' | 'rows' | 'cols' | 'factored' | 'tileRowCount' | 'tileColCount'
  | 'tileCount' | 'firstTile' | 'firstLineBlock' | 'settings' | 'rowState' | 'colState' | 'momentum'
  | 'rowPartials' | 'colPartials' | 'newRow' | 'newCol' | 'rowBlockSums' | 'tilePartials' | 'matrixFactors' | 'tensorScalars',
  number
>;

export interface PlannedTensor {
  /** Position in the caller's list. */
  input: number;
  fields: TensorFields;
}

export interface PlannedGroup<B> {
  paramBuffer: B;
  gradBuffer: B;
  /** Fields of the WGSL `Group` uniform. */
  firstTensor: number;
  tensorCount: number;
  tileCount: number;
  lineBlockCount: number;
  /** True when some tensor of the group is factored (passes 2 and 3 have work). */
  hasFactored: boolean;
}

export interface Plan<B> {
  /** Table order: the tensors of group 0, then of group 1, ... Empty tensors are left out. */
  tensors: PlannedTensor[];
  groups: PlannedGroup<B>[];
  /** f32 elements of each buffer the optimizer owns. */
  stateLength: number;
  momentumLength: number;
  scratchLength: number;
}

const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

export function planTensors<B>(inputs: readonly PlanInput<B>[], tiles: TileGeometry): Plan<B> {
  const byBuffers = new Map<B, Map<B, number[]>>();
  inputs.forEach((t, i) => {
    if (t.geom.numel === 0) return;
    let byGrad = byBuffers.get(t.paramBuffer);
    if (!byGrad) byBuffers.set(t.paramBuffer, (byGrad = new Map()));
    const members = byGrad.get(t.gradBuffer) ?? [];
    byGrad.set(t.gradBuffer, [...members, i]);
  });

  const plan: Plan<B> = { tensors: [], groups: [], stateLength: 0, momentumLength: 0, scratchLength: 0 };
  const allocate = (key: 'stateLength' | 'momentumLength' | 'scratchLength', length: number) => {
    const offset = plan[key];
    plan[key] += length;
    return offset;
  };

  for (const byGrad of byBuffers.values()) {
    for (const members of byGrad.values()) {
      const first = inputs[members[0]];
      const group: PlannedGroup<B> = {
        paramBuffer: first.paramBuffer,
        gradBuffer: first.gradBuffer,
        firstTensor: plan.tensors.length,
        tensorCount: members.length,
        tileCount: 0,
        lineBlockCount: 0,
        hasFactored: false,
      };
      for (const input of members) {
        const t = inputs[input];
        const { factored, batch, rows, cols, numel } = t.geom;
        const tileRowCount = factored ? ceilDiv(rows, tiles.TILE_ROWS) : 1;
        const tileColCount = factored ? ceilDiv(cols, tiles.TILE_COLS) : 1;
        const tileCount = factored ? batch * tileRowCount * tileColCount : ceilDiv(numel, tiles.VECTOR_TILE);
        const rowBlocks = ceilDiv(rows, tiles.LINE_BLOCK);
        const lineBlocks = factored ? batch * (rowBlocks + ceilDiv(cols, tiles.LINE_BLOCK)) : 0;
        const fields: TensorFields = {
          paramOffset: t.paramOffset,
          gradOffset: t.gradOffset,
          batch,
          rows,
          cols,
          factored: factored ? 1 : 0,
          tileRowCount,
          tileColCount,
          tileCount,
          firstTile: group.tileCount,
          firstLineBlock: group.lineBlockCount,
          settings: t.settings,
          rowState: allocate('stateLength', factored ? batch * rows : numel),
          colState: allocate('stateLength', factored ? batch * cols : 0),
          momentum: t.momentum ? allocate('momentumLength', numel) : tiles.NO_MOMENTUM,
          rowPartials: allocate('scratchLength', factored ? batch * rows * tileColCount : 0),
          colPartials: allocate('scratchLength', factored ? batch * cols * tileRowCount : 0),
          newRow: allocate('scratchLength', factored ? batch * rows : 0),
          newCol: allocate('scratchLength', factored ? batch * cols : 0),
          rowBlockSums: allocate('scratchLength', factored ? batch * rowBlocks : 0),
          tilePartials: allocate('scratchLength', 2 * tileCount),
          matrixFactors: allocate('scratchLength', factored ? batch : 0),
          tensorScalars: allocate('scratchLength', 2),
        };
        group.tileCount += tileCount;
        group.lineBlockCount += lineBlocks;
        group.hasFactored ||= factored;
        plan.tensors.push({ input, fields });
      }
      plan.groups.push(group);
    }
  }
  return plan;
}
