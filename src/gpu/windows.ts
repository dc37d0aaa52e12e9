/**
 * Windows: runs of a group's tiles whose parameters, gradients, V and M each fit in one binding
 * (maxStorageBufferBindingSize). Most groups are one window; a larger one is stepped window by
 * window, each bound at its own offsets.
 */
import { matrixOffset } from '../core/shape.js';
import type { Plan, PlannedGroup, TileGeometry } from './plan.js';

/** A byte range of a buffer, bound as one binding. */
export interface BindingRange {
  offset: number;
  size: number;
}

/** A run of a group's tiles whose data fits the binding limit in every windowed buffer. */
export interface PlannedWindow {
  firstTile: number;
  tileCount: number;
  /** Tiles of factored tensors the passes step, which come first in the window. */
  factoredTileCount: number;
  /** Tiles of small tensors stepped whole (one each), which come last in the window. */
  wholeTensorCount: number;
  /** Byte ranges to bind; undefined where the window touches nothing of that buffer. */
  param: BindingRange | undefined;
  grad: BindingRange | undefined;
  fullState: BindingRange | undefined;
  momentum: BindingRange | undefined;
}

type Space = 'param' | 'grad' | 'fullState' | 'momentum';
const SPACES: Space[] = ['param', 'grad', 'fullState', 'momentum'];

/**
 * Cuts a group's tiles into windows whose parameters, gradients, V and M each fit in
 * `limitBytes` when bound from an offset aligned to `offsetAlignment` (and to 16 bytes). Tiles are taken in order; a
 * band of factored tiles (the same rows of one matrix) always stays in one window.
 */
export function planWindows<B>(
  plan: Plan<B>,
  group: PlannedGroup<B>,
  limitBytes: number,
  offsetAlignment: number,
  tiles: TileGeometry,
  label: (input: number) => string,
): PlannedWindow[] {
  // Bases on a multiple of 16 bytes keep every tensor's quads where the table says (paramQuads).
  const alignBytes = Math.max(offsetAlignment, 16);
  const windows: PlannedWindow[] = [];
  let current:
    | {
        firstTile: number;
        tileCount: number;
        factoredTileCount: number;
        wholeTensorCount: number;
        lo: Record<Space, number>;
        hi: Record<Space, number>;
      }
    | undefined;
  const elementBytes: Record<Space, number> = {
    param: group.paramElementBytes,
    grad: group.gradElementBytes,
    fullState: 4,
    momentum: plan.momentumElementBytes,
  };
  const span = (space: Space, lo: number, hi: number) => {
    const bytes = elementBytes[space];
    return hi === -Infinity ? 0 : hi * bytes - Math.floor((lo * bytes) / alignBytes) * alignBytes;
  };
  const close = () => {
    if (!current) return;
    const c = current;
    const range = (space: Space): BindingRange | undefined => {
      if (c.hi[space] === -Infinity) return undefined;
      const bytes = elementBytes[space];
      const offset = Math.floor((c.lo[space] * bytes) / alignBytes) * alignBytes;
      const size = c.hi[space] * bytes - offset;
      // A 16-bit M is bound in whole u32 words (its buffer holds every tensor's last word whole).
      return { offset, size: space === 'momentum' ? Math.ceil(size / 4) * 4 : size };
    };
    windows.push({
      firstTile: c.firstTile,
      tileCount: c.tileCount,
      factoredTileCount: c.factoredTileCount,
      wholeTensorCount: c.wholeTensorCount,
      param: range('param'),
      grad: range('grad'),
      fullState: range('fullState'),
      momentum: range('momentum'),
    });
    current = undefined;
  };
  for (const planned of plan.tensors.slice(group.firstTensor, group.firstTensor + group.tensorCount)) {
    const f = planned.fields;
    const whole = planned.whole;
    // Units that never split: a band of tiles over the same rows of one matrix, or one vector tile.
    const bands = f.factored ? f.batch * f.tileRowCount : f.tileCount;
    const tilesPerBand = f.factored ? f.tileColCount : 1;
    for (let band = 0; band < bands; band++) {
      let lo: number;
      let hi: number;
      let unit: string; // the band, as an error names it
      if (f.factored) {
        const matrix = Math.floor(band / f.tileRowCount);
        const row0 = (band % f.tileRowCount) * tiles.TILE_ROWS;
        const rowEnd = Math.min(row0 + tiles.TILE_ROWS, f.rows);
        const start = matrixOffset(f, matrix);
        lo = start + row0 * f.rowStride;
        hi = start + (rowEnd - 1) * f.rowStride + (f.cols - 1) * f.colStride + 1;
        unit = `one band of ${rowEnd - row0} rows`;
      } else {
        lo = band * tiles.VECTOR_TILE;
        hi = Math.min(lo + tiles.VECTOR_TILE, f.cols);
        unit = `one tile of ${hi - lo} elements`;
      }
      const extents: Record<Space, [number, number] | undefined> = {
        param: [f.paramOffset + lo, f.paramOffset + hi],
        grad: [f.gradOffset + lo, f.gradOffset + hi],
        fullState: f.factored ? undefined : [f.fullState + lo, f.fullState + hi],
        momentum: f.momentum === tiles.NO_MOMENTUM ? undefined : [f.momentum + lo, f.momentum + hi],
      };
      const fits = (c: NonNullable<typeof current>) =>
        SPACES.every((space) => {
          const e = extents[space];
          return !e || span(space, Math.min(c.lo[space], e[0]), Math.max(c.hi[space], e[1])) <= limitBytes;
        });
      if (current && !fits(current)) close();
      if (!current) {
        current = {
          firstTile: f.firstTile + band * tilesPerBand,
          tileCount: 0,
          factoredTileCount: 0,
          wholeTensorCount: 0,
          lo: { param: Infinity, grad: Infinity, fullState: Infinity, momentum: Infinity },
          hi: { param: -Infinity, grad: -Infinity, fullState: -Infinity, momentum: -Infinity },
        };
        if (!fits(current)) {
          throw new Error(
            `${label(planned.input)}: ${unit} needs more than the ${limitBytes}-byte binding limit; it cannot be windowed`,
          );
        }
      }
      for (const space of SPACES) {
        const e = extents[space];
        if (!e) continue;
        current.lo[space] = Math.min(current.lo[space], e[0]);
        current.hi[space] = Math.max(current.hi[space], e[1]);
      }
      current.tileCount += tilesPerBand;
      if (whole) current.wholeTensorCount += 1;
      else if (f.factored) current.factoredTileCount += tilesPerBand;
    }
  }
  close();
  return windows;
}
