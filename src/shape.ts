/** How Adafactor sees a tensor's shape: a batch of [rows, cols] matrices, or one vector. */
export interface Geometry {
  /** Rank >= 2: row and column second moments; rank 0 or 1: a full second moment. */
  factored: boolean;
  /** Product of the leading dims (1 when unfactored). */
  batch: number;
  /** n, the second-to-last dim (1 when unfactored). */
  rows: number;
  /** m, the last dim (the element count when unfactored). */
  cols: number;
  numel: number;
}

/** Checks a shape (throws naming `label`) and returns its geometry. */
export function geometry(shape: readonly number[], label: string): Geometry {
  if (!Array.isArray(shape)) throw new Error(`${label}: shape must be an array of dims, got ${String(shape)}`);
  for (const dim of shape) {
    if (typeof dim !== 'number' || !Number.isFinite(dim) || !Number.isInteger(dim) || dim < 0) {
      throw new Error(`${label}: shape [${shape.join(', ')}] has an invalid dim ${String(dim)}; dims must be integers >= 0`);
    }
  }
  const numel = shape.reduce((a, b) => a * b, 1);
  if (numel > 2 ** 32 - 1) throw new Error(`${label}: shape [${shape.join(', ')}] has ${numel} elements, more than 2^32 - 1`);
  if (shape.length < 2) return { factored: false, batch: 1, rows: 1, cols: numel, numel };
  const rows = shape[shape.length - 2];
  const cols = shape[shape.length - 1];
  return { factored: true, batch: numel === 0 ? 0 : numel / (rows * cols), rows, cols, numel };
}

/**
 * The geometry under a minimum dim size to factor (optax and t5x use 128): a tensor whose
 * factored dims are not both at least `minDimSizeToFactor` keeps a full second moment.
 */
export function withFactoringRule(geom: Geometry, minDimSizeToFactor: number): Geometry {
  if (!geom.factored || Math.min(geom.rows, geom.cols) >= minDimSizeToFactor) return geom;
  return { factored: false, batch: 1, rows: 1, cols: geom.numel, numel: geom.numel };
}
