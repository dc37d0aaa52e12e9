// Pass 1 of a step, one workgroup per tile: a single read of G and X.
// Factored tiles: partial row and column sums of Q = G^2 + eps1, and the partial sum of X^2.
// Unfactored tiles: V_t = beta2_t V_{t-1} + (1 - beta2_t) Q (not stored until apply), and the
// partial sums of (G / sqrt(V_t))^2 and X^2.
// Every tile also counts its non-finite gradients, for skipNonFinite.

// Each invocation keeps the column sums of its columns in registers; row and column partials
// meet in workgroup memory once per tile.
// First the row sums of each column group ([TILE_ROWS][COL_GROUPS]), then the column sums of
// each row lane ([ROW_LANES][TILE_COLS]).
var<workgroup> lines: array<f32, max(TILE_ROWS * COL_GROUPS, ROW_LANES * TILE_COLS)>;

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
  let group = lid % COL_GROUPS;
  let lane = lid / COL_GROUPS;
  let firstCol = group * COLS_PER_INVOCATION;
  let matrixBase = tile.matrix * t.rows * t.cols;
  var colSums: array<f32, COLS_PER_INVOCATION>;
  var paramSquares = 0.0;
  var nonFinite = 0.0;
  for (var row = lane; row < TILE_ROWS; row = row + ROW_LANES) {
    var rowSum = 0.0;
    if (row < tile.rowCount) {
      let first = matrixBase + (tile.row0 + row) * t.cols + tile.col0 + firstCol;
      for (var c = 0u; c < COLS_PER_INVOCATION; c = c + 1u) {
        if (firstCol + c < tile.colCount) {
          let g = grad[gradIndex(t, first + c)];
          let x = param[paramIndex(t, first + c)];
          let q = g * g + s.eps1;
          rowSum = rowSum + q;
          colSums[c] = colSums[c] + q;
          paramSquares = paramSquares + x * x;
          nonFinite = nonFinite + select(1.0, 0.0, isFinite(g));
        }
      }
    }
    lines[row * COL_GROUPS + group] = rowSum;
  }
  workgroupBarrier();
  for (var row = lid; row < tile.rowCount; row = row + WORKGROUP_SIZE) {
    var rowSum = 0.0;
    for (var k = 0u; k < COL_GROUPS; k = k + 1u) { rowSum = rowSum + lines[row * COL_GROUPS + k]; }
    let rowIndex = tile.matrix * t.rows + tile.row0 + row;
    scratch[t.rowPartials + rowIndex * t.tileColCount + tile.tileCol] = rowSum;
  }
  workgroupBarrier();
  for (var c = 0u; c < COLS_PER_INVOCATION; c = c + 1u) { lines[lane * TILE_COLS + firstCol + c] = colSums[c]; }
  workgroupBarrier();
  for (var col = lid; col < tile.colCount; col = col + WORKGROUP_SIZE) {
    var colSum = 0.0;
    for (var k = 0u; k < ROW_LANES; k = k + 1u) { colSum = colSum + lines[k * TILE_COLS + col]; }
    let colIndex = tile.matrix * t.cols + tile.col0 + col;
    scratch[t.colPartials + colIndex * t.tileRowCount + tile.tileRow] = colSum;
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
