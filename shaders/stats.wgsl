// Pass 1 of a step, one workgroup per tile: a single read of G and X.
// Factored tiles: partial row and column sums of Q = G^2 + eps1, and the partial sum of X^2.
// Unfactored tiles: V_t = beta2_t V_{t-1} + (1 - beta2_t) Q (not stored until apply), and the
// partial sums of (G / sqrt(V_t))^2 and X^2.
// Every tile also counts its non-finite gradients (by their sums of Q), for skipNonFinite (finalize_scale adds
// statistics that overflowed f32).

// Each invocation keeps the column sums of its quads in registers; row and column partials meet
// in workgroup memory once per tile: first the row sums of each column group
// ([TILE_ROWS][COL_GROUPS]), then the column sums of each row lane ([ROW_LANES][TILE_COLS]).
// With INVOCATION_PARTIALS they do not meet: each invocation leaves its row sums (one per column
// group) and column sums (one per row lane) in scratch, and finalize_stats adds them, in order
// (`lines` is then one unused float, so that it takes no room).
const LINES_LENGTH = select(max(TILE_ROWS * COL_GROUPS, ROW_LANES * TILE_COLS), 1u, INVOCATION_PARTIALS == 1u);
var<workgroup> lines: array<f32, LINES_LENGTH>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn stats(@builtin(workgroup_id) workgroupId: vec3<u32>,
         @builtin(num_workgroups) workgroupCount: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let tileIndex = windowTile(workgroupId, workgroupCount);
  if (!inWindow(tileIndex)) { return; }
  let t = tensors[tensorOfTile(tileIndex)];
  statsOfTile(t, settingsOf(t.settings), tileIndex - t.firstTile, lid);
}

// Row and column partials of the tile to scratch, and its TILE_PARTIALS (TILE_PARTS of them).
fn statsOfTile(t: Tensor, s: Settings, localTile: u32, lid: u32) {
  var sums = tileStats(t, s, localTile, lid);
  var part = lid;
  if (INVOCATION_PARTIALS == 0u) {
    sums = workgroupSum(lid, sums);
    part = 0u;
  }
  if (part < TILE_PARTS) {
    let at = t.tilePartials + TILE_PARTIALS * (localTile * TILE_PARTS + part);
    if (t.factored == 0u) { scratch[at] = sums.x; }   // factored tiles get theirs in update_norm
    scratch[at + 1u] = sums.y;
    scratch[at + 2u] = sums.z;
  }
}

// Row and column partials of the tile to scratch (factored tensors), and this invocation's share of
// (sum of U^2 (vectors only), sum of X^2, non-finite sums of Q, 0) over the tile.
fn tileStats(t: Tensor, s: Settings, localTile: u32, lid: u32) -> vec4<f32> {
  if (t.factored == 1u) { return factoredStats(t, s, localTile, lid); }
  return vectorStats(t, s, localTile, lid);
}

struct QuadStats { g: vec4<f32>, q: vec4<f32>, paramSquares: f32 }
const NO_QUAD = QuadStats(vec4<f32>(0.0), vec4<f32>(0.0), 0.0);

// G and Q = G^2 + eps1 (G^2 with the eps1 floor) of up to four consecutive elements (zero beyond
// `count`), and their sum of X^2. A non-finite gradient makes its Q non-finite, and so the sum of
// Q over its row (or quad, in a vector): the passes count those sums that are not finite, one test
// per sum instead of one per element (a finite sum that overflowed counts too: under
// skipNonFinite that step is skipped either way, as a statistic that overflowed f32).
fn quadStats(t: Tensor, s: Settings, element: u32, count: u32, stride: u32) -> QuadStats {
  if (count == 0u) { return NO_QUAD; }
  let g = loadGradient(t, s, element, count, stride);
  let x = loadParam4(paramIndex(t, element), count, stride);
  let inside = vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(count);
  let q = select(vec4<f32>(0.0), g * g + s.epsAdded, inside);
  return QuadStats(g, q, dot(x, x));
}

// This invocation's share of (0, sum of X^2, non-finite sums of Q, 0) over the tile.
fn factoredStats(t: Tensor, s: Settings, localTile: u32, lid: u32) -> vec4<f32> {
  let tile = factoredTile(t, localTile);
  let group = lid % COL_GROUPS;
  let lane = lid / COL_GROUPS;
  let firstCol = group * QUAD * QUADS_PER_INVOCATION;
  let counts = blockCounts(tile, firstCol);
  let step = QUAD * t.colStride;
  let matrixBase = matrixOffset(t, tile.matrix);
  var colSums = mat4x4<f32>();   // column h: the column sums of the block's quad h
  var paramSquares = 0.0;
  var nonFinite = 0.0;
  for (var row = lane; row < tile.rowCount; row = row + ROW_LANES) {
    let first = matrixBase + (tile.row0 + row) * t.rowStride + (tile.col0 + firstCol) * t.colStride;
    let q0 = quadStats(t, s, first, counts.x, t.colStride);
    var q1 = NO_QUAD;
    var q2 = NO_QUAD;
    var q3 = NO_QUAD;
    if (QUADS_PER_INVOCATION > 1u) { q1 = quadStats(t, s, first + step, counts.y, t.colStride); }
    if (QUADS_PER_INVOCATION > 2u) {
      q2 = quadStats(t, s, first + 2u * step, counts.z, t.colStride);
      q3 = quadStats(t, s, first + 3u * step, counts.w, t.colStride);
    }
    colSums = colSums + mat4x4<f32>(q0.q, q1.q, q2.q, q3.q);
    let rowSum = dot((q0.q + q1.q) + (q2.q + q3.q), vec4<f32>(1.0));
    paramSquares = paramSquares + ((q0.paramSquares + q1.paramSquares) + (q2.paramSquares + q3.paramSquares));
    nonFinite = nonFinite + select(0.0, 1.0, !isFinite(rowSum));
    if (INVOCATION_PARTIALS == 1u) {
      let rowIndex = tile.matrix * t.rows + tile.row0 + row;
      scratch[t.rowPartials + (rowIndex * t.tileColCount + tile.tileCol) * ROW_PARTS + group] = rowSum;
    } else {
      lines[row * COL_GROUPS + group] = rowSum;
    }
  }
  if (INVOCATION_PARTIALS == 1u) {
    // Every lane leaves its column sums, zero where it had no rows.
    for (var h = 0u; h < QUADS_PER_INVOCATION; h = h + 1u) {
      for (var c = 0u; c < counts[h]; c = c + 1u) {
        let colIndex = tile.matrix * t.cols + tile.col0 + firstCol + h * QUAD + c;
        scratch[t.colPartials + (colIndex * t.tileRowCount + tile.tileRow) * COL_PARTS + lane] = colSums[h][c];
      }
    }
    return vec4<f32>(0.0, paramSquares, nonFinite, 0.0);
  }
  workgroupBarrier();
  for (var row = lid; row < tile.rowCount; row = row + WORKGROUP_SIZE) {
    var rowSum = 0.0;
    for (var k = 0u; k < COL_GROUPS; k = k + 1u) { rowSum = rowSum + lines[row * COL_GROUPS + k]; }
    let rowIndex = tile.matrix * t.rows + tile.row0 + row;
    scratch[t.rowPartials + rowIndex * t.tileColCount + tile.tileCol] = rowSum;
  }
  workgroupBarrier();
  for (var h = 0u; h < QUADS_PER_INVOCATION; h = h + 1u) {
    for (var c = 0u; c < QUAD; c = c + 1u) { lines[lane * TILE_COLS + firstCol + h * QUAD + c] = colSums[h][c]; }
  }
  workgroupBarrier();
  for (var col = lid; col < tile.colCount; col = col + WORKGROUP_SIZE) {
    var colSum = 0.0;
    for (var k = 0u; k < ROW_LANES; k = k + 1u) { colSum = colSum + lines[k * TILE_COLS + col]; }
    let colIndex = tile.matrix * t.cols + tile.col0 + col;
    scratch[t.colPartials + colIndex * t.tileRowCount + tile.tileRow] = colSum;
  }
  return vec4<f32>(0.0, paramSquares, nonFinite, 0.0);
}

// This invocation's share of (sum of U^2, sum of X^2, non-finite sums of Q, 0) over the tile.
fn vectorStats(t: Tensor, s: Settings, localTile: u32, lid: u32) -> vec4<f32> {
  let start = localTile * VECTOR_TILE;
  let end = min(start + VECTOR_TILE, t.cols);
  var sums = vec4<f32>(0.0);
  for (var i = start + lid * QUAD; i < end; i = i + WORKGROUP_SIZE * QUAD) {
    let count = min(QUAD, end - i);
    let quad = quadStats(t, s, i, count, 1u);
    var v = vec4<f32>(0.0);
    for (var c = 0u; c < count; c = c + 1u) {
      v[c] = s.beta2 * fullState[fullStateIndex(t, i + c)] + s.oneMinusBeta2 * quad.q[c];
      // As in finalize_stats: with skipNonFinite, a V_t that overflowed makes U NaN, not 0.
      v[c] = nanWhere(s.skipNonFinite == 1u && !isFinite(v[c]), v[c]);
    }
    let inside = vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(count);
    let u = select(vec4<f32>(0.0), quad.g * inverseSqrt(atLeast4(v, s.vectorFloor)), inside);
    sums = sums + vec4<f32>(dot(u, u), quad.paramSquares, select(0.0, 1.0, !isFinite(dot(quad.q, vec4<f32>(1.0)))), 0.0);
  }
  return sums;
}
