/**
 * How Adafactor sees a tensor's shape: a batch of [rows, cols] matrices, or one vector. The
 * factored dims are `rowDim` < `colDim` (the last two by default); the other dims form the batch:
 * `outer` dims before rowDim, `middle` between the two, `inner` after colDim, so that element
 * (matrix, r, c) lies at matrixOffset(matrix) + r * rowStride + c * colStride.
 */
export interface Geometry {
  /** Rank >= 2: row and column second moments; rank 0 or 1: a full second moment. */
  factored: boolean;
  /** Matrices in the tensor: outer * middle * inner (1 when unfactored). */
  batch: number;
  /** n, the size of rowDim (1 when unfactored). */
  rows: number;
  /** m, the size of colDim (the element count when unfactored). */
  cols: number;
  numel: number;
  rowDim: number;
  colDim: number;
  /** Products of the dims between the factored ones and after colDim. */
  middle: number;
  inner: number;
  rowStride: number;
  colStride: number;
}

/** Where matrix `matrix` of a tensor starts, in elements. */
export function matrixOffset(
  g: Pick<Geometry, 'rows' | 'cols' | 'middle' | 'inner' | 'rowStride' | 'colStride'>,
  matrix: number,
): number {
  const inner = matrix % g.inner;
  const middle = Math.floor(matrix / g.inner) % g.middle;
  const outer = Math.floor(matrix / (g.inner * g.middle));
  return outer * g.rows * g.rowStride + middle * g.cols * g.colStride + inner;
}

/** The element index of (matrix, row, col). */
export function elementIndex(g: Geometry, matrix: number, row: number, col: number): number {
  return matrixOffset(g, matrix) + row * g.rowStride + col * g.colStride;
}

/** The geometry that factors dims `rowDim` < `colDim` of `shape`. */
export function factoredGeometry(shape: readonly number[], rowDim: number, colDim: number): Geometry {
  const product = (from: number, to: number) => shape.slice(from, to).reduce((a, b) => a * b, 1);
  const numel = product(0, shape.length);
  const rows = shape[rowDim];
  const cols = shape[colDim];
  const middle = product(rowDim + 1, colDim);
  const inner = product(colDim + 1, shape.length);
  return {
    factored: true,
    batch: numel === 0 ? 0 : numel / (rows * cols),
    rows,
    cols,
    numel,
    rowDim,
    colDim,
    middle,
    inner,
    rowStride: middle * cols * inner,
    colStride: inner,
  };
}

function vectorGeometry(numel: number): Geometry {
  return {
    factored: false,
    batch: 1,
    rows: 1,
    cols: numel,
    numel,
    rowDim: 0,
    colDim: 0,
    middle: 1,
    inner: 1,
    rowStride: numel,
    colStride: 1,
  };
}

/** Checks a shape (throws naming `label`) and returns its geometry. */
export function geometry(shape: readonly number[], label: string): Geometry {
  if (!Array.isArray(shape)) throw new Error(`${label}: shape must be an array of dims, got ${String(shape)}`);
  for (const dim of shape) {
    if (typeof dim !== 'number' || !Number.isFinite(dim) || !Number.isInteger(dim) || dim < 0) {
      throw new Error(
        `${label}: shape [${shape.join(', ')}] has an invalid dim ${String(dim)}; dims must be integers >= 0`,
      );
    }
  }
  const numel = shape.reduce((a, b) => a * b, 1);
  if (numel > 2 ** 32 - 1)
    throw new Error(`${label}: shape [${shape.join(', ')}] has ${numel} elements, more than 2^32 - 1`);
  if (shape.length < 2) return vectorGeometry(numel);
  return factoredGeometry(shape, shape.length - 2, shape.length - 1);
}

/** A function factoring rule: the two dims of a tensor of this shape to factor, or null for none. */
export type FactorDimsRule = (shape: readonly number[]) => readonly [number, number] | null;

/**
 * Which two dims of a tensor of rank >= 2 are factored: 'last2' (Hugging Face, PyTorch), 'largest2'
 * (optax, t5x: the two largest, the later one on a tie), 'conv' (timm: for rank > 2, dims 0 and 1,
 * a convolution kernel's output and input channels, when both pass minDimSizeToFactor, else the
 * last two), or a function of the shape.
 */
export type FactorDims = 'last2' | 'largest2' | 'conv' | FactorDimsRule;

/**
 * The geometry under a factoring rule: a tensor whose factored dims are not both at least
 * `minDimSizeToFactor` keeps a full second moment (a function rule decides that itself).
 * `label` names the tensor in the error for a function that returns something other than null
 * or two distinct dims of the shape.
 */
export function withFactoringRule(
  geom: Geometry,
  shape: readonly number[],
  factorDims: FactorDims,
  minDimSizeToFactor: number,
  label = 'tensor',
): Geometry {
  if (!geom.factored) return geom;
  const big = (...dims: number[]) => dims.every((d) => shape[d] >= minDimSizeToFactor);
  const last = [shape.length - 2, shape.length - 1] as const;
  let dims: readonly [number, number] | null;
  if (typeof factorDims === 'function') dims = checkedDims(factorDims(shape), shape, label);
  else if (factorDims === 'largest2') {
    // numpy's argsort of the shape, as optax: ascending, earlier index first on a tie.
    const order = shape.map((_, i) => i).sort((a, b) => shape[a] - shape[b] || a - b);
    const pair = [order[order.length - 2], order[order.length - 1]] as const;
    dims = big(...pair) ? pair : null;
  } else if (factorDims === 'conv' && shape.length > 2 && big(0, 1)) dims = [0, 1];
  else dims = big(...last) ? last : null;
  if (!dims) return vectorGeometry(geom.numel);
  const [rowDim, colDim] = [...dims].sort((a, b) => a - b);
  return factoredGeometry(shape, rowDim, colDim);
}

function checkedDims(dims: unknown, shape: readonly number[], label: string): readonly [number, number] | null {
  if (dims === null) return null;
  const dim = (d: unknown) => Number.isInteger(d) && (d as number) >= 0 && (d as number) < shape.length;
  if (!Array.isArray(dims) || dims.length !== 2 || !dims.every(dim) || dims[0] === dims[1]) {
    throw new Error(
      `${label}: the factorDims function returned ${JSON.stringify(dims)} for shape [${shape.join(', ')}]; it must return null or two different dims of the shape`,
    );
  }
  return [dims[0], dims[1]];
}
