// The math and helpers that every kernel shares: the step's settings, indices into the windowed
// buffers, tiles, the factored update's terms, fixed-order reductions, and the per-tensor scalars.
// Declarations the host reads (constants, structs, bindings) are in interface.wgsl.

// A group's options with this step's scalars, as the kernels use them.
struct Settings {
  beta2: f32,
  oneMinusBeta2: f32,
  rho: f32,
  eps1: f32,
  eps2: f32,
  clipThreshold: f32,
  beta1: f32,
  oneMinusBeta1: f32,
  weightDecay: f32,
  weightDecayMaxLr: f32,
  scaleParameter: u32,
  skipNonFinite: u32,
  weightDecayScaled: u32,
  roundingSeed: u32,
  epsFloor: u32,
  momentumBeforeLr: u32,
  momentumLerp: u32,
  caution: u32,
  maxGradNorm: f32,
  invGradScale: f32,
  epsAdded: f32,        // added to G^2: eps1, or 0 with epsFloor
  vectorFloor: f32,     // floor of the second-moment estimate: eps1^2 with epsFloor, else 0
  meanRowFloor: f32,    // floor of mean(R_t): eps1 with epsFloor, else 0
}

fn joinHalves(low: u32, high: u32) -> u32 { return low | (high << 16u); }

fn settingsOf(group: u32) -> Settings {
  let g = settings[group];
  return Settings(
    bitcast<f32>(joinHalves(g.beta2Low, g.beta2High)),
    bitcast<f32>(joinHalves(g.oneMinusBeta2Low, g.oneMinusBeta2High)),
    bitcast<f32>(joinHalves(g.rhoLow, g.rhoHigh)),
    g.eps1, g.eps2, g.clipThreshold, g.beta1, g.oneMinusBeta1, g.weightDecay, g.weightDecayMaxLr,
    g.scaleParameter, g.skipNonFinite, g.weightDecayScaled,
    joinHalves(g.roundingSeedLow, g.roundingSeedHigh),
    g.epsFloor, g.momentumBeforeLr, g.momentumLerp, g.caution, g.maxGradNorm,
    bitcast<f32>(joinHalves(g.invGradScaleLow, g.invGradScaleHigh)),
    select(g.eps1, 0.0, g.epsFloor == 1u),
    select(0.0, g.eps1 * g.eps1, g.epsFloor == 1u),
    select(0.0, g.eps1, g.epsFloor == 1u));
}

// Up to four gradients `stride` apart from element `element` of tensor t, as the step uses them:
// divided by the loss scale, and with maxGradNorm times the step's global clipping factor.
fn loadGradient(t: Tensor, s: Settings, element: u32, count: u32, stride: u32) -> vec4<f32> {
  var factor = s.invGradScale;
  if (s.maxGradNorm > 0.0) { factor = factor * scratch[STATUS_GRAD_CLIP]; }
  return loadGrad4(gradIndex(t, element), count, stride) * factor;
}

// Floors that keep a NaN a NaN (WGSL's max need not).
fn atLeast(x: f32, floor: f32) -> f32 { return select(x, floor, x < floor); }
fn atLeast4(x: vec4<f32>, floor: f32) -> vec4<f32> { return select(x, vec4<f32>(floor), x < vec4<f32>(floor)); }

// Set by apply from the step's settings before it stores parameters: the seed of stochastic
// rounding (param_f16.wgsl), or NO_STOCHASTIC_ROUNDING.
var<private> roundingSeed: u32 = NO_STOCHASTIC_ROUNDING;

// Indices into the windowed buffers of element `i` of tensor `t`.
fn paramIndex(t: Tensor, i: u32) -> u32 { return t.paramOffset + i - window.paramBase; }
fn gradIndex(t: Tensor, i: u32) -> u32 { return t.gradOffset + i - window.gradBase; }
fn fullStateIndex(t: Tensor, i: u32) -> u32 { return t.fullState + i - window.fullStateBase; }
fn momentumIndex(t: Tensor, i: u32) -> u32 { return t.momentum + i - window.momentumBase; }

// NaN and infinity tests on the bits, which no floating-point optimisation can fold away.
fn isFinite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }
fn isNan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
// `value`, or a NaN where `bad` (built from bits at run time: a constant NaN is a WGSL error).
fn nanWhere(bad: bool, value: f32) -> f32 { return bitcast<f32>(select(bitcast<u32>(value), 0x7fc00000u, bad)); }

// The window's tile that this workgroup handles, if any: dispatch grids are 2-D when one
// dimension would pass maxComputeWorkgroupsPerDimension.
fn windowTile(workgroupId: vec3<u32>, workgroupCount: vec3<u32>) -> u32 {
  return window.firstTile + flatWorkgroupIndex(workgroupId, workgroupCount);
}
fn inWindow(tile: u32) -> bool { return tile < window.firstTile + window.tileCount; }

// Dispatch grids are 2-D when one dimension would pass maxComputeWorkgroupsPerDimension.
fn flatWorkgroupIndex(workgroupId: vec3<u32>, workgroupCount: vec3<u32>) -> u32 {
  return workgroupId.x + workgroupId.y * workgroupCount.x;
}

// The group's tensor that owns item `index` of its tiles (or, with `lineBlocks`, of its
// finalize_stats line blocks): the last one whose first item is <= index. Tensors own consecutive
// runs of items in table order, and those that own no line blocks (vectors, small tensors) come
// after those that do.
fn tensorOwning(index: u32, lineBlocks: bool) -> u32 {
  var lo = window.firstTensor;
  var hi = window.firstTensor + window.tensorCount - 1u;
  while (lo < hi) {
    let mid = (lo + hi + 1u) / 2u;
    let first = select(tensors[mid].firstTile, tensors[mid].firstLineBlock, lineBlocks);
    if (first <= index) { lo = mid; } else { hi = mid - 1u; }
  }
  return lo;
}

fn tensorOfTile(tile: u32) -> u32 { return tensorOwning(tile, false); }

// Where matrix `matrix` of a tensor starts: its batch index splits into the dims before the
// factored ones, between them, and after them (the last two; middle = inner = 1 by default).
fn matrixOffset(t: Tensor, matrix: u32) -> u32 {
  let inner = matrix % t.inner;
  let middle = (matrix / t.inner) % t.middle;
  let outer = matrix / (t.inner * t.middle);
  return outer * t.rows * t.rowStride + middle * t.cols * t.colStride + inner;
}

// Where one tile of a tensor lies: its matrix, first row and column, and extent.
struct Tile {
  matrix: u32,
  row0: u32,
  col0: u32,
  rowCount: u32,
  colCount: u32,
  tileRow: u32,
  tileCol: u32,
}

fn factoredTile(t: Tensor, localTile: u32) -> Tile {
  let tilesPerMatrix = t.tileRowCount * t.tileColCount;
  var tile: Tile;
  tile.matrix = localTile / tilesPerMatrix;
  let inMatrix = localTile % tilesPerMatrix;
  tile.tileRow = inMatrix / t.tileColCount;
  tile.tileCol = inMatrix % t.tileColCount;
  tile.row0 = tile.tileRow * TILE_ROWS;
  tile.col0 = tile.tileCol * TILE_COLS;
  tile.rowCount = min(TILE_ROWS, t.rows - tile.row0);
  tile.colCount = min(TILE_COLS, t.cols - tile.col0);
  return tile;
}

// The normalized update of up to four elements of a factored tensor from the terms of their row
// and columns (rowTerm, colTerms, each column's times a per-matrix term):
//   eps1 added (Hugging Face, optax): row 1 / sqrt(R_t), columns sqrt(mean(R_t)) / sqrt(C_t):
//     U = G row columns = G / sqrt(R_t C_t / mean(R_t));
//   eps1 floor (PyTorch): row R_t, columns C_t / max(mean(R_t), eps1):
//     U = G / sqrt(max(R_t C_t / max(mean(R_t), eps1), eps1^2)).
fn factoredUpdate(s: Settings, g: vec4<f32>, row: f32, cols: vec4<f32>) -> vec4<f32> {
  if (USES_EPS_FLOOR && s.epsFloor == 1u) { return g * inverseSqrt(atLeast4(row * cols, s.vectorFloor)); }
  return g * (row * cols);
}

fn rowTerm(t: Tensor, s: Settings, rowIndex: u32) -> f32 {
  return scratch[select(t.rowFactors, t.newRow, s.epsFloor == 1u) + rowIndex];
}

// The column terms of up to four consecutive columns of a tile (zero beyond `count`): 1 / sqrt(C_t),
// or C_t with the eps1 floor.
fn colTerms(t: Tensor, s: Settings, tile: Tile, firstCol: u32, count: u32) -> vec4<f32> {
  let base = select(t.colFactors, t.newCol, s.epsFloor == 1u) + tile.matrix * t.cols + tile.col0 + firstCol;
  var terms = vec4<f32>(0.0);
  for (var c = 0u; c < count; c = c + 1u) { terms[c] = scratch[base + c]; }
  return terms;
}

// A block: the QUADS_PER_INVOCATION (1, 2 or 4) consecutive quads of a row that an invocation
// takes, from column `firstCol` of the tile on. Its elements in each of four quads: 0 for a quad
// past the block or past the tile's edge. The tile passes take the block's quads by calls of their
// own, written out (`if (QUADS_PER_INVOCATION > 1u)`, constant for a variant): a loop over them,
// with arrays indexed by the loop, costs twice as much on SwiftShader (measured).
fn blockCounts(tile: Tile, firstCol: u32) -> vec4<u32> {
  let starts = vec4<u32>(firstCol) + vec4<u32>(0u, 1u, 2u, 3u) * QUAD;
  let counts = min(vec4<u32>(QUAD), vec4<u32>(tile.colCount) - min(vec4<u32>(tile.colCount), starts));
  return select(vec4<u32>(0u), counts, vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(QUADS_PER_INVOCATION));
}

// The column terms (see colTerms) of a block's quads: column h of the matrix is quad h's.
fn blockColTerms(t: Tensor, s: Settings, tile: Tile, firstCol: u32, counts: vec4<u32>) -> mat4x4<f32> {
  return mat4x4<f32>(colTerms(t, s, tile, firstCol, counts.x), colTerms(t, s, tile, firstCol + QUAD, counts.y),
                     colTerms(t, s, tile, firstCol + 2u * QUAD, counts.z), colTerms(t, s, tile, firstCol + 3u * QUAD, counts.w));
}

// The per-matrix factor of the column terms (see factoredUpdate): sqrt(mean(R_t)), or with the
// eps1 floor 1 / max(mean(R_t), eps1).
fn matrixFactor(s: Settings, meanRow: f32) -> f32 {
  if (s.epsFloor == 1u) { return 1.0 / atLeast(meanRow, s.meanRowFloor); }
  return sqrt(meanRow);
}

// Fixed-order reduction over the workgroup in two levels (REDUCE_PARTS sums of consecutive
// values, then their sum): every invocation gets the same sum, the same inputs always give the
// same bits (no atomics), and it takes few barriers, which matter most on CPU adapters.
const REDUCE_PARTS = 8u;
const REDUCE_PART = WORKGROUP_SIZE / REDUCE_PARTS;
var<workgroup> reduction: array<vec4<f32>, WORKGROUP_SIZE>;
var<workgroup> reductionTotal: vec4<f32>;

fn workgroupSum(lid: u32, value: vec4<f32>) -> vec4<f32> {
  reduction[lid] = value;
  workgroupBarrier();
  if (lid < REDUCE_PARTS) {
    var partial = vec4<f32>(0.0);
    for (var k = 0u; k < REDUCE_PART; k = k + 1u) { partial = partial + reduction[lid * REDUCE_PART + k]; }
    reduction[lid * REDUCE_PART] = partial;
  }
  workgroupBarrier();
  if (lid == 0u) {
    var total = vec4<f32>(0.0);
    for (var k = 0u; k < REDUCE_PARTS; k = k + 1u) { total = total + reduction[k * REDUCE_PART]; }
    reductionTotal = total;
  }
  return workgroupUniformLoad(&reductionTotal);
}

// A tile's sum to its `slot` of the tile's partials in scratch (see TILE_PARTIALS): the
// workgroup's sum as the one part, or with INVOCATION_PARTIALS each of the first TILE_PARTS
// invocations' own value as its part. Called by every invocation (it may reach a barrier).
fn storeTilePartial(t: Tensor, localTile: u32, lid: u32, slot: u32, value: f32) {
  var partial = value;
  var part = lid;
  if (INVOCATION_PARTIALS == 0u) {
    partial = workgroupSum(lid, vec4<f32>(value, 0.0, 0.0, 0.0)).x;
    part = 0u;
  }
  if (part < TILE_PARTS) {
    scratch[t.tilePartials + TILE_PARTIALS * (localTile * TILE_PARTS + part) + slot] = partial;
  }
}

// Part k (of t.tileCount * TILE_PARTS, tile by tile) of a tensor's partials in `slot`.
fn tilePartial(t: Tensor, k: u32, slot: u32) -> f32 { return scratch[t.tilePartials + TILE_PARTIALS * k + slot]; }

// A tensor's TensorScalars (see interface.wgsl), read and written whole.
fn loadTensorScalars(t: Tensor) -> TensorScalars {
  let at = t.tensorScalars;
  return TensorScalars(scratch[at], scratch[at + 1u], scratch[at + 2u], scratch[at + 3u],
                       scratch[at + 4u], scratch[at + 5u], scratch[at + 6u], scratch[at + 7u]);
}

fn storeTensorScalars(t: Tensor, v: TensorScalars) {
  let at = t.tensorScalars;
  scratch[at] = v.scale;
  scratch[at + 1u] = v.decay;
  scratch[at + 2u] = v.nonFinite;
  scratch[at + 3u] = v.paramRms;
  scratch[at + 4u] = v.stepSize;
  scratch[at + 5u] = v.updateRms;
  scratch[at + 6u] = v.clipDivisor;
  scratch[at + 7u] = v.momentumScale;
}
