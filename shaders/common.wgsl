// Declarations shared by every Adafactor kernel: the tile geometry, the tables the host
// writes at construction, and the bindings (declared here once; the host derives its bind
// group layout and buffer checks from them). A shader module is this prelude, the views of
// parameters and gradients, and every kernel file; each kernel is the entry point named after it,
// and whole_tensor.wgsl calls the other kernels' per-tile functions.

const WORKGROUP_SIZE = 64u;
// A factored tensor [batch, rows, cols] is cut into tiles of TILE_ROWS x TILE_COLS per matrix:
// wide, so that the passes read long runs of each row (a CPU adapter streams them faster), and as
// large as the 16 KiB of workgroup memory every device has allows stats (its `lines`).
const TILE_ROWS = 96u;
const TILE_COLS = 256u;
// Elements move in quads of four consecutive ones (see param_f32x4.wgsl). Inside a factored tile
// the tile passes (stats, update_norm, apply) give each invocation a block of QUADS_PER_INVOCATION
// consecutive quads (1, 2 or 4) of every ROW_LANES-th row (see blockCounts).
const QUAD = 4u;
const QUADS_PER_INVOCATION = 2u;
const COL_GROUPS = TILE_COLS / (QUAD * QUADS_PER_INVOCATION);
const ROW_LANES = WORKGROUP_SIZE / COL_GROUPS;
// An unfactored tensor (rank 0 or 1) is cut into tiles of VECTOR_TILE elements.
const VECTOR_TILE = 4096u;
// finalize_stats gives one invocation to each row (or column); LINE_BLOCK of them per workgroup.
// mean_rows adds R_t in blocks of LINE_BLOCK rows.
const LINE_BLOCK = WORKGROUP_SIZE;
const NO_MOMENTUM = 0xffffffffu;
// The first STATUS_WORDS words of scratch: whether this step is skipped; how many steps were
// skipped, in SKIPPED_DIGITS floats of base SKIPPED_DIGIT_BASE (least significant first: exact
// in f32 up to 2^72); and the number t of the last step that ran, in four 16-bit halves (u32
// words, least significant first) that each step's commands copy in and only the host reads.
const STATUS_SKIP = 0u;
const STATUS_SKIPPED_STEPS = 1u;
const SKIPPED_DIGITS = 3u;
const SKIPPED_DIGIT_BASE = 16777216.0;
const STATUS_STEP = 4u;
const STATUS_WORDS = 8u;
// Floats of tilePartials per tile: sum of U'^2, sum of X^2, count of non-finite sums of Q (see quadStats), unused.
const TILE_PARTIALS = 4u;
// 0: the tile passes (stats, update_norm) sum over their workgroup (a few barriers per tile) and
// leave one partial per tile, row and column. 1: each invocation leaves its own partials and the
// finalize passes add them (no barrier in the tile passes: some adapters pay dearly for one).
const INVOCATION_PARTIALS = 0u;
// Partials per tile: of each row (one per column group), of each column (one per row lane), and
// of the tile's TILE_PARTIALS sums (one per invocation).
const ROW_PARTS = 1u + INVOCATION_PARTIALS * (COL_GROUPS - 1u);
const COL_PARTS = 1u + INVOCATION_PARTIALS * (ROW_LANES - 1u);
const TILE_PARTS = 1u + INVOCATION_PARTIALS * (WORKGROUP_SIZE - 1u);
// Floats of tensorScalars per tensor, written by finalize_scale: the update scale, the weight
// decay factor and the count of non-finite values, which apply and decide_skip use; then, for
// optimizer.stats(), RMS(X_{t-1}), alpha_t, RMS(U) before clipping and the clip divisor. They
// follow the status words, tensor after tensor, so that stats() reads them in one copy.
const TENSOR_SCALARS = 8u;

// Whether any parameter group of the optimizer keeps a first moment, and whether any uses the eps1
// floor: set per pipeline, false where none does, so that the branch for it is compiled away.
// SwiftShader runs both sides of every branch (with the lanes masked), so a branch that no tensor
// takes still costs its work on every element there.
override USES_MOMENTUM: bool = true;
override USES_EPS_FLOOR: bool = true;

// One entry per tensor. Offsets count f32 elements from the start of the buffer named beside
// them; the windowed buffers (param, grad, fullState, momentum) are indexed through the
// functions below, which subtract where the current window's binding starts.
struct Tensor {
  paramOffset: u32,     // param
  gradOffset: u32,      // grad
  batch: u32,           // matrices in the tensor (product of the leading dims); 1 when unfactored
  rows: u32,            // n; 1 when unfactored
  cols: u32,            // m; the element count when unfactored
  factored: u32,        // 1: rank >= 2, row and column second moments; 0: full second moment
  middle: u32,          // batch dims between the two factored dims (their product), and
  inner: u32,           //   after the second: element (matrix, r, c) is at matrixOffset + r rowStride + c colStride
  rowStride: u32,
  colStride: u32,
  tileRowCount: u32,    // tiles down one matrix
  tileColCount: u32,    // tiles across one matrix (1 when unfactored)
  tileCount: u32,       // tiles in the whole tensor
  firstTile: u32,       // index of its first tile among its group's tiles
  firstLineBlock: u32,  // index of its first finalize_stats workgroup among its group's
  settings: u32,        // index into settings: the option group it belongs to
  rowState: u32,        // factorState: R [batch, rows] (factored only)
  colState: u32,        // factorState: C [batch, cols] (factored only)
  fullState: u32,       // fullState: V [cols] (unfactored only)
  momentum: u32,        // momentum: M [numel], or NO_MOMENTUM
  rowPartials: u32,     // scratch: per row, ROW_PARTS partial sums of Q per column tile
  colPartials: u32,     // scratch: per column, COL_PARTS partial sums of Q per row tile
  newRow: u32,          // scratch: R_t, written by finalize_stats, committed by apply
  newCol: u32,          // scratch: C_t
  rowFactors: u32,      // scratch: 1 / sqrt(R_t), per row
  colFactors: u32,      // scratch: 1 / sqrt(C_t), per column
  meanRows: u32,        // scratch: mean(R_t) per matrix, written by mean_rows
  tilePartials: u32,    // scratch: TILE_PARTIALS per tile and part (TILE_PARTS per tile)
  matrixFactors: u32,   // scratch: per matrix, matrixFactor of mean(R_t), written by mean_rows (whole_tensor: its own)
  tensorScalars: u32,   // scratch: TENSOR_SCALARS floats
}

// Options of one parameter group, written once at construction, and this step's scalars, which
// each step's own commands copy in (see src/step_scalars.ts) as 16-bit halves from a constant
// table: a step recorded now cannot overwrite the scalars of a step recorded earlier and not yet
// run, however many there are. Read through settingsOf().
struct GroupSettings {
  eps1: f32,
  eps2: f32,
  clipThreshold: f32,
  beta1: f32,
  weightDecay: f32,
  scaleParameter: u32,  // 1: alpha_t = rho_t * max(eps2, RMS(X_{t-1}))
  skipNonFinite: u32,   // 1: a step with a non-finite gradient or statistic anywhere changes nothing
  weightDecayScaled: u32, // 1: X -= weightDecay * alpha_t * X; 0: X -= weightDecay * X
  epsFloor: u32,        // 1: eps1 floors mean(R_t) and eps1^2 the estimate (PyTorch); 0: eps1 is added to G^2
  beta2Low: u32,        // beta2_t = 1 - t^decayRate: the bits of an f32, low and high halves
  beta2High: u32,
  oneMinusBeta2Low: u32, // t^decayRate, computed in float64 on the host
  oneMinusBeta2High: u32,
  rhoLow: u32,          // relative step size rho_t, or the learning rate lr(t)
  rhoHigh: u32,
  roundingSeedLow: u32, // seed of this step's stochastic rounding of f16 parameters, or NO_STOCHASTIC_ROUNDING
  roundingSeedHigh: u32,
}

// A group's options with this step's scalars, as the kernels use them.
struct Settings {
  beta2: f32,
  oneMinusBeta2: f32,
  rho: f32,
  eps1: f32,
  eps2: f32,
  clipThreshold: f32,
  beta1: f32,
  weightDecay: f32,
  scaleParameter: u32,
  skipNonFinite: u32,
  weightDecayScaled: u32,
  roundingSeed: u32,
  epsFloor: u32,
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
    g.eps1, g.eps2, g.clipThreshold, g.beta1, g.weightDecay,
    g.scaleParameter, g.skipNonFinite, g.weightDecayScaled,
    joinHalves(g.roundingSeedLow, g.roundingSeedHigh),
    g.epsFloor,
    select(g.eps1, 0.0, g.epsFloor == 1u),
    select(0.0, g.eps1 * g.eps1, g.epsFloor == 1u),
    select(0.0, g.eps1, g.epsFloor == 1u));
}

// Floors that keep a NaN a NaN (WGSL's max need not).
fn atLeast(x: f32, floor: f32) -> f32 { return select(x, floor, x < floor); }
fn atLeast4(x: vec4<f32>, floor: f32) -> vec4<f32> { return select(x, vec4<f32>(floor), x < vec4<f32>(floor)); }

// One window of a group. A group is the tensors whose parameters share one buffer and whose
// gradients share another; a window is a run of its tiles whose parameters, gradients, V and M
// each fit in one binding, bound from the bases below (f32 elements). Most groups are one window.
// The tiles of small tensors (one tile each) come last in a window: whole_tensor takes them.
struct Window {
  firstTensor: u32,     // the group's tensors in the table
  tensorCount: u32,
  lineBlockCount: u32,  // finalize_stats workgroups of the group
  firstTile: u32,       // the window's tiles, among the group's, for the passes
  tileCount: u32,
  wholeTensorCount: u32, // then the tiles of this many small tensors, for whole_tensor
  paramBase: u32,
  gradBase: u32,
  fullStateBase: u32,
  momentumBase: u32,
  totalTensors: u32,    // tensors in the whole table, for the skip decision
}

// Bindings 0 and 1, param and grad, are declared by one param_*.wgsl and one grad_*.wgsl file,
// which also give loadParam4, storeParam4 and loadGrad4.

// Set by apply from the step's settings before it stores parameters: the seed of stochastic
// rounding (param_f16.wgsl), or NO_STOCHASTIC_ROUNDING.
const NO_STOCHASTIC_ROUNDING = 0xffffffffu;
var<private> roundingSeed: u32 = NO_STOCHASTIC_ROUNDING;

// The PCG hash (Jarzynski and Olano, 2020).
fn pcgHash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// A uniform number in [0, 1) from a seed and an index: the same inputs, the same number.
fn uniformRandom(seed: u32, index: u32) -> f32 {
  return f32(pcgHash(pcgHash(seed) ^ index) >> 8u) / 16777216.0;
}
@group(0) @binding(2) var<storage, read> tensors: array<Tensor>;
@group(0) @binding(3) var<storage, read> settings: array<GroupSettings>;
@group(0) @binding(4) var<storage, read_write> factorState: array<f32>;
@group(0) @binding(5) var<storage, read_write> fullState: array<f32>;
@group(0) @binding(6) var<storage, read_write> momentum: array<f32>;
@group(0) @binding(7) var<storage, read_write> scratch: array<f32>;
@group(0) @binding(8) var<uniform> window: Window;

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

// The group's tensor that owns tile `tile`: the last one whose firstTile <= tile.
fn tensorOfTile(tile: u32) -> u32 {
  var lo = window.firstTensor;
  var hi = window.firstTensor + window.tensorCount - 1u;
  while (lo < hi) {
    let mid = (lo + hi + 1u) / 2u;
    if (tensors[mid].firstTile <= tile) { lo = mid; } else { hi = mid - 1u; }
  }
  return lo;
}

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
