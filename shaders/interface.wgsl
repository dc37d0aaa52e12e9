// What the host reads of the kernels (reflected at build time by wgsl_reflect: see
// src/gpu/interface.ts): the tile geometry and other constants, the structs of the tables the host
// writes and reads, and the bindings, declared here once (the host derives its bind group layout
// from them). No math: that is common.wgsl. A shader module is this file (with a kernel variant's
// constants in place of the geometry's: src/gpu/kernels.ts), common.wgsl, the views of parameters
// and gradients, and every kernel file; each kernel is the entry point named after it.

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
// With maxGradNorm: ||G|| over every gradient of the step (for stats()), and the factor
// min(1, maxGradNorm / ||G||) that every read of G is multiplied by (finalize_grad_norm).
const STATUS_GRAD_NORM = 8u;
const STATUS_GRAD_CLIP = 9u;
const STATUS_WORDS = 12u;
// Floats of tilePartials per tile: sum of U'^2, sum of X^2, count of non-finite sums of Q (see quadStats), and
// with caution the count of elements whose M_t agrees in sign with G (caution_count); before that,
// with maxGradNorm, the tile's sum of G^2 (grad_norm).
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

// Whether any parameter group of the optimizer keeps a first moment, and whether any uses the eps1
// floor: set per pipeline, false where none does, so that the branch for it is compiled away.
// SwiftShader runs both sides of every branch (with the lanes masked), so a branch that no tensor
// takes still costs its work on every element there.
override USES_MOMENTUM: bool = true;
override USES_EPS_FLOOR: bool = true;

// One entry per tensor. Offsets count f32 elements from the start of the buffer named beside
// them; the windowed buffers (param, grad, fullState, momentum) are indexed through the
// functions of common.wgsl, which subtract where the current window's binding starts.
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
  tensorScalars: u32,   // scratch: its TensorScalars
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
  oneMinusBeta1: f32,   // 1 - beta1, computed in float64 (as the other libraries pass it to their f32 kernels)
  weightDecay: f32,
  weightDecayMaxLr: f32, // > 0: the decay is also multiplied by alpha_t / weightDecayMaxLr; 0: not
  scaleParameter: u32,  // 1: alpha_t = rho_t * max(eps2, RMS(X_{t-1}))
  skipNonFinite: u32,   // 1: a step with a non-finite gradient or statistic anywhere changes nothing
  weightDecayScaled: u32, // 1: X -= weightDecay * alpha_t * X; 0: X -= weightDecay * X
  epsFloor: u32,        // 1: eps1 floors mean(R_t) and eps1^2 the estimate (PyTorch); 0: eps1 is added to G^2
  momentumBeforeLr: u32, // 1: M averages the clipped update and the step is alpha_t M; 0: M averages alpha_t U
  momentumLerp: u32,    // 1: momentumArithmetic 'lerp' (torch's lerp_ on the stored M); 0: 'ema'
  caution: u32,         // 1: the step keeps M_t only where M_t G > 0 (caution_count, finalize_caution)
  maxGradNorm: f32,     // > 0: every gradient is scaled by min(1, maxGradNorm / ||G||) (grad_norm, finalize_grad_norm); 0: not
  beta2Low: u32,        // beta2_t = 1 - t^decayRate: the bits of an f32, low and high halves
  beta2High: u32,
  oneMinusBeta2Low: u32, // t^decayRate, computed in float64 on the host
  oneMinusBeta2High: u32,
  rhoLow: u32,          // relative step size rho_t, or the learning rate lr(t)
  rhoHigh: u32,
  roundingSeedLow: u32, // seed of this step's stochastic rounding of f16 parameters, or NO_STOCHASTIC_ROUNDING
  roundingSeedHigh: u32,
  invGradScaleLow: u32, // 1 / gradScale(t), the loss scale's inverse: the bits of an f32
  invGradScaleHigh: u32,
}


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


// What finalize_scale leaves for each tensor in scratch, from its Tensor.tensorScalars on (right
// after the status words, tensor after tensor, so that stats() reads them all in one copy). Read
// and written whole through loadTensorScalars and storeTensorScalars (common.wgsl); the host reads
// them by field name.
struct TensorScalars {
  scale: f32,           // alpha_t / clip divisor (1 / clip divisor with momentumBeforeLr): apply's factor of U
  decay: f32,           // weightDecay * alpha_t (or weightDecay; see writeScalars): apply's factor of X
  nonFinite: f32,       // non-finite sums of Q and statistics that overflowed f32, for decide_skip
  paramRms: f32,        // for optimizer.stats(): RMS(X_{t-1}),
  stepSize: f32,        //   alpha_t,
  updateRms: f32,       //   RMS(U) before clipping,
  clipDivisor: f32,     //   and max(1, RMS(U) / clipThreshold)
  momentumScale: f32,   // apply's factor of M_t: alpha_t with momentumBeforeLr, else 1; with caution, divided by
                        //   max(fraction of M_t kept, 1e-3) (finalize_caution)
}

// Set by apply from the step's settings before it stores parameters: the seed of stochastic
// rounding (param_f16.wgsl), or NO_STOCHASTIC_ROUNDING.
const NO_STOCHASTIC_ROUNDING = 0xffffffffu;

// Bindings 0 and 1, param and grad, are declared by one param_*.wgsl and one grad_*.wgsl file,
// which also give loadParam4, storeParam4 and loadGrad4; binding 6, momentum, by one
// momentum_*.wgsl view, with loadMomentum4, storeMomentum4, roundMomentumAt and roundMomentum.

@group(0) @binding(2) var<storage, read> tensors: array<Tensor>;
@group(0) @binding(3) var<storage, read> settings: array<GroupSettings>;
@group(0) @binding(4) var<storage, read_write> factorState: array<f32>;
@group(0) @binding(5) var<storage, read_write> fullState: array<f32>;
@group(0) @binding(7) var<storage, read_write> scratch: array<f32>;
@group(0) @binding(8) var<uniform> window: Window;
