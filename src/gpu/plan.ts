/**
 * The tensor table: where each tensor's tiles, state and scratch live. A pure function of the
 * tensors' shapes and buffers, made once at construction; the shaders read it every step.
 *
 * Tensors whose parameters share one buffer and whose gradients share another form a group,
 * and each pass of a step is one dispatch per group, however many tensors it holds.
 */
import type { Geometry } from '../core/shape.js';

export interface TileGeometry {
  TILE_ROWS: number;
  TILE_COLS: number;
  VECTOR_TILE: number;
  LINE_BLOCK: number;
  NO_MOMENTUM: number;
  STATUS_WORDS: number;
  TILE_PARTIALS: number;
  /** Floats of a tensor's TensorScalars in scratch. */
  TENSOR_SCALARS: number;
  /** Partials a tile leaves per row, per column, and of its TILE_PARTIALS sums (see interface.wgsl); 1 when absent. */
  ROW_PARTS?: number;
  COL_PARTS?: number;
  TILE_PARTS?: number;
}

/** What the planner needs of one tensor. Buffers are compared by identity. */
export interface PlanInput<B> {
  geom: Geometry;
  paramBuffer: B;
  gradBuffer: B;
  /** Elements, not bytes. */
  paramOffset: number;
  gradOffset: number;
  /** Bytes of one element of the parameter and the gradient buffer. */
  paramElementBytes: number;
  gradElementBytes: number;
  /** Index of its option group in the settings table. */
  settings: number;
  momentum: boolean;
}

/** One row of the WGSL `Tensor` table; the field names are the struct's. */
export type TensorFields = Record<
  | 'paramOffset'
  | 'gradOffset'
  | 'batch'
  | 'rows'
  | 'cols'
  | 'factored'
  | 'middle'
  | 'inner'
  | 'rowStride'
  | 'colStride'
  | 'tileRowCount'
  | 'tileColCount'
  | 'tileCount'
  | 'firstTile'
  | 'firstLineBlock'
  | 'settings'
  | 'rowState'
  | 'colState'
  | 'fullState'
  | 'momentum'
  | 'rowPartials'
  | 'colPartials'
  | 'newRow'
  | 'newCol'
  | 'rowFactors'
  | 'colFactors'
  | 'meanRows'
  | 'tilePartials'
  | 'matrixFactors'
  | 'tensorScalars',
  number
>;

export interface PlannedTensor {
  /** Position in the caller's list. */
  input: number;
  /** A small tensor (one tile), stepped whole by one workgroup of whole_tensor. */
  whole: boolean;
  /**
   * Every quad of elements the kernels take of its parameters (gradients) is four consecutive
   * elements from a multiple of four: bound as f32 quads, they need no per-element test.
   */
  paramQuads: boolean;
  gradQuads: boolean;
  fields: TensorFields;
}

export interface PlannedGroup<B> {
  paramBuffer: B;
  gradBuffer: B;
  paramElementBytes: number;
  gradElementBytes: number;
  /** Fields of the WGSL `Group` uniform. */
  firstTensor: number;
  tensorCount: number;
  tileCount: number;
  lineBlockCount: number;
  /** Factored tensors that go through the passes: the group's first ones (mean_rows takes them). */
  factoredTensorCount: number;
  /** Small tensors stepped whole, the last of the group's tensors (and tiles). */
  wholeTensorCount: number;
}

export interface Plan<B> {
  /** Table order: the tensors of group 0, then of group 1, ... Empty tensors are left out. */
  tensors: PlannedTensor[];
  groups: PlannedGroup<B>[];
  /** Elements of each buffer the optimizer owns: R and C; V; M; scratch (f32, but M of momentumElementBytes). */
  factorStateLength: number;
  fullStateLength: number;
  momentumLength: number;
  scratchLength: number;
  /** 4 (f32), or 2: then each tensor's M starts on an even element and takes an even count, so that it is whole u32 words. */
  momentumElementBytes: number;
}

const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

function tileCountOf(geom: Geometry, tiles: TileGeometry): number {
  return geom.factored
    ? geom.batch * ceilDiv(geom.rows, tiles.TILE_ROWS) * ceilDiv(geom.cols, tiles.TILE_COLS)
    : ceilDiv(geom.numel, tiles.VECTOR_TILE);
}

/**
 * Two lists merged so that every stretch of the result takes from both in proportion. CPU
 * adapters give each thread one contiguous run of a dispatch's workgroups: small matrices cost
 * far more than small vectors, and a run of only one kind would leave threads idle.
 */
function interleave(a: readonly number[], b: readonly number[]): number[] {
  const merged: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    // Take from `a` while it is behind its share of what is merged so far.
    if (j >= b.length || (i < a.length && i * b.length <= j * a.length)) merged.push(a[i++]);
    else merged.push(b[j++]);
  }
  return merged;
}

/**
 * The table. With `wholeSmallTensors`, tensors of one tile are stepped whole by one workgroup
 * each (whole_tensor.wgsl) instead of by the passes.
 */
export function planTensors<B>(
  inputs: readonly PlanInput<B>[],
  tiles: TileGeometry,
  wholeSmallTensors = true,
  momentumElementBytes = 4,
): Plan<B> {
  const byBuffers = new Map<B, Map<B, number[]>>();
  inputs.forEach((t, i) => {
    if (t.geom.numel === 0) return;
    let byGrad = byBuffers.get(t.paramBuffer);
    if (!byGrad) byBuffers.set(t.paramBuffer, (byGrad = new Map()));
    const members = byGrad.get(t.gradBuffer) ?? [];
    byGrad.set(t.gradBuffer, [...members, i]);
  });

  // Scratch opens with the status words and every tensor's scalars, in table order (see interface.wgsl).
  const tensorCount = inputs.filter((t) => t.geom.numel > 0).length;
  const plan: Plan<B> = {
    tensors: [],
    groups: [],
    factorStateLength: 0,
    fullStateLength: 0,
    momentumLength: 0,
    scratchLength: tiles.STATUS_WORDS + tiles.TENSOR_SCALARS * tensorCount,
    momentumElementBytes,
  };
  const momentumWords = (numel: number) => (momentumElementBytes === 2 ? numel + (numel % 2) : numel);
  const allocate = (
    key: 'factorStateLength' | 'fullStateLength' | 'momentumLength' | 'scratchLength',
    length: number,
  ) => {
    const offset = plan[key];
    plan[key] += length;
    return offset;
  };

  for (const byGrad of byBuffers.values()) {
    for (const unordered of byGrad.values()) {
      // Factored tensors first: then every window's factored tiles come before its vector tiles,
      // and update_norm, which has nothing to do for vectors, is dispatched over those alone.
      // Small tensors stepped whole come last, after every tile of the passes.
      const whole = (i: number) => wholeSmallTensors && tileCountOf(inputs[i].geom, tiles) === 1;
      const passed = unordered.filter((i) => !whole(i));
      const wholeOnes = unordered.filter(whole);
      const members = [
        ...passed.filter((i) => inputs[i].geom.factored),
        ...passed.filter((i) => !inputs[i].geom.factored),
        ...interleave(
          wholeOnes.filter((i) => inputs[i].geom.factored),
          wholeOnes.filter((i) => !inputs[i].geom.factored),
        ),
      ];
      const first = inputs[members[0]];
      const group: PlannedGroup<B> = {
        paramBuffer: first.paramBuffer,
        gradBuffer: first.gradBuffer,
        paramElementBytes: first.paramElementBytes,
        gradElementBytes: first.gradElementBytes,
        firstTensor: plan.tensors.length,
        tensorCount: members.length,
        tileCount: 0,
        lineBlockCount: 0,
        factoredTensorCount: 0,
        wholeTensorCount: members.length - passed.length,
      };
      for (const input of members) {
        const t = inputs[input];
        const { factored, batch, rows, cols, numel } = t.geom;
        const tileRowCount = factored ? ceilDiv(rows, tiles.TILE_ROWS) : 1;
        const tileColCount = factored ? ceilDiv(cols, tiles.TILE_COLS) : 1;
        const tileCount = tileCountOf(t.geom, tiles);
        const rowBlocks = ceilDiv(rows, tiles.LINE_BLOCK);
        // finalize_stats: block k of a matrix takes its rows and its columns k * LINE_BLOCK onwards
        // (whole_tensor does a small tensor's blocks itself).
        const lineBlocks = factored && !whole(input) ? batch * Math.max(rowBlocks, ceilDiv(cols, tiles.LINE_BLOCK)) : 0;
        // Every quad the kernels take is four consecutive elements from a multiple of four when
        // the columns are the last dim and a multiple of four long (vectors: the length), and
        // the tensor starts on a multiple of four (window bases always do).
        const wholeQuads = factored ? t.geom.colStride === 1 && cols % 4 === 0 : numel % 4 === 0;
        const fields: TensorFields = {
          paramOffset: t.paramOffset,
          gradOffset: t.gradOffset,
          batch,
          rows,
          cols,
          factored: factored ? 1 : 0,
          middle: t.geom.middle,
          inner: t.geom.inner,
          rowStride: t.geom.rowStride,
          colStride: t.geom.colStride,
          tileRowCount,
          tileColCount,
          tileCount,
          firstTile: group.tileCount,
          firstLineBlock: group.lineBlockCount,
          settings: t.settings,
          rowState: allocate('factorStateLength', factored ? batch * rows : 0),
          colState: allocate('factorStateLength', factored ? batch * cols : 0),
          fullState: allocate('fullStateLength', factored ? 0 : numel),
          momentum: t.momentum ? allocate('momentumLength', momentumWords(numel)) : tiles.NO_MOMENTUM,
          rowPartials: allocate('scratchLength', factored ? batch * rows * tileColCount * (tiles.ROW_PARTS ?? 1) : 0),
          colPartials: allocate('scratchLength', factored ? batch * cols * tileRowCount * (tiles.COL_PARTS ?? 1) : 0),
          newRow: allocate('scratchLength', factored ? batch * rows : 0),
          newCol: allocate('scratchLength', factored ? batch * cols : 0),
          rowFactors: allocate('scratchLength', factored ? batch * rows : 0),
          colFactors: allocate('scratchLength', factored ? batch * cols : 0),
          meanRows: allocate('scratchLength', factored ? batch : 0),
          tilePartials: allocate('scratchLength', tiles.TILE_PARTIALS * tileCount * (tiles.TILE_PARTS ?? 1)),
          matrixFactors: allocate('scratchLength', factored ? batch : 0),
          tensorScalars: tiles.STATUS_WORDS + tiles.TENSOR_SCALARS * plan.tensors.length,
        };
        group.tileCount += tileCount;
        group.lineBlockCount += lineBlocks;
        if (factored && !whole(input)) group.factoredTensorCount += 1;
        plan.tensors.push({
          input,
          whole: whole(input),
          paramQuads: wholeQuads && t.paramOffset % 4 === 0,
          gradQuads: wholeQuads && t.gradOffset % 4 === 0,
          fields,
        });
      }
      plan.groups.push(group);
    }
  }
  return plan;
}
