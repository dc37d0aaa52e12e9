// Pass 1 of a step, one workgroup per tile: a single read of G and X.
// Factored tiles: partial row and column sums of Q = G^2 + eps1, and the partial sum of X^2.
// Unfactored tiles: V_t = beta2_t V_{t-1} + (1 - beta2_t) Q (not stored until apply), and the
// partial sums of (G / sqrt(V_t))^2 and X^2.
// Every tile also counts its non-finite gradients, for skipNonFinite.

const HALF_ROWS = TILE_ROWS / 2u;
const LANES = WORKGROUP_SIZE / TILE_COLS;          // invocations sharing one column of a tile
const ROW_SEGMENTS = WORKGROUP_SIZE / HALF_ROWS;   // invocations summing one row of a half tile
const SEGMENT = TILE_COLS / ROW_SEGMENTS;

// Q of half a tile; rows padded by one so that a row read and a column read use different banks.
var<workgroup> halfTile: array<f32, HALF_ROWS * (TILE_COLS + 1u)>;
var<workgroup> segments: array<f32, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) workgroupId: vec3<u32>,
        @builtin(num_workgroups) workgroupCount: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let tileIndex = windowTile(workgroupId, workgroupCount);
  if (!inWindow(tileIndex)) { return; }
  let t = tensors[tensorOfTile(tileIndex)];
  let s = settings[t.settings];
  let localTile = tileIndex - t.firstTile;
  var sums: vec4<f32>;
  if (t.factored == 1u) {
    sums = factoredStats(t, s, localTile, lid);
  } else {
    sums = vectorStats(t, s, localTile, lid);
  }
  if (lid == 0u) {
    let at = t.tilePartials + TILE_PARTIALS * localTile;
    if (t.factored == 0u) { scratch[at] = sums.x; }   // factored tiles get theirs in update_norm
    scratch[at + 1u] = sums.y;
    scratch[at + 2u] = sums.z;
  }
}

// Returns (0, sum of X^2, non-finite gradients, 0) over the tile.
fn factoredStats(t: Tensor, s: Settings, localTile: u32, lid: u32) -> vec4<f32> {
  let tile = factoredTile(t, localTile);
  let col = lid % TILE_COLS;
  let lane = lid / TILE_COLS;
  let matrixBase = tile.matrix * t.rows * t.cols;
  var colSum = 0.0;
  var paramSquares = 0.0;
  var nonFinite = 0.0;
  for (var half = 0u; half < 2u; half = half + 1u) {
    for (var r = lane; r < HALF_ROWS; r = r + LANES) {
      let row = half * HALF_ROWS + r;
      var q = 0.0;
      if (row < tile.rowCount && col < tile.colCount) {
        let element = matrixBase + (tile.row0 + row) * t.cols + tile.col0 + col;
        let g = grad[gradIndex(t, element)];
        let x = param[paramIndex(t, element)];
        q = g * g + s.eps1;
        paramSquares = paramSquares + x * x;
        nonFinite = nonFinite + select(1.0, 0.0, isFinite(g));
      }
      colSum = colSum + q;
      halfTile[r * (TILE_COLS + 1u) + col] = q;
    }
    workgroupBarrier();
    // Row sums: ROW_SEGMENTS invocations per row, each over SEGMENT columns, then one adds them.
    let segmentRow = lid / ROW_SEGMENTS;
    let segmentStart = (lid % ROW_SEGMENTS) * SEGMENT;
    var partial = 0.0;
    for (var c = 0u; c < SEGMENT; c = c + 1u) {
      partial = partial + halfTile[segmentRow * (TILE_COLS + 1u) + segmentStart + c];
    }
    segments[lid] = partial;
    workgroupBarrier();
    if (lid < HALF_ROWS) {
      var rowSum = 0.0;
      for (var k = 0u; k < ROW_SEGMENTS; k = k + 1u) {
        rowSum = rowSum + segments[lid * ROW_SEGMENTS + k];
      }
      let row = half * HALF_ROWS + lid;
      if (row < tile.rowCount) {
        let rowIndex = tile.matrix * t.rows + tile.row0 + row;
        scratch[t.rowPartials + rowIndex * t.tileColCount + tile.tileCol] = rowSum;
      }
    }
    workgroupBarrier();
  }
  // Column sums: LANES partials per column.
  segments[lid] = colSum;
  workgroupBarrier();
  if (lid < TILE_COLS && lid < tile.colCount) {
    var total = 0.0;
    for (var k = 0u; k < LANES; k = k + 1u) {
      total = total + segments[k * TILE_COLS + lid];
    }
    let colIndex = tile.matrix * t.cols + tile.col0 + lid;
    scratch[t.colPartials + colIndex * t.tileRowCount + tile.tileRow] = total;
  }
  return workgroupSum(lid, vec4<f32>(0.0, paramSquares, nonFinite, 0.0));
}

// Returns (sum of U^2, sum of X^2, non-finite gradients, 0) over the tile.
fn vectorStats(t: Tensor, s: Settings, localTile: u32, lid: u32) -> vec4<f32> {
  let start = localTile * VECTOR_TILE;
  let end = min(start + VECTOR_TILE, t.cols);
  var sums = vec4<f32>(0.0);
  for (var i = start + lid; i < end; i = i + WORKGROUP_SIZE) {
    let g = grad[gradIndex(t, i)];
    let x = param[paramIndex(t, i)];
    let v = s.beta2 * fullState[fullStateIndex(t, i)] + s.oneMinusBeta2 * (g * g + s.eps1);
    let u = g * inverseSqrt(v);
    sums = sums + vec4<f32>(u * u, x * x, select(1.0, 0.0, isFinite(g)), 0.0);
  }
  return workgroupSum(lid, sums);
}
