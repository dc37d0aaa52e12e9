// Pass 4 of a step, factored tiles only: the partial sum of squares of the unscaled update
//   U' = G / (sqrt(R_t) sqrt(C_t)),
// one read of G. The factored update is U = sqrt(mean(R_t)) U' per matrix, so mean(R_t), which
// needs every row, is applied later (finalize_scale) instead of waiting for it here. With the
// eps1 floor, U is not U' times a per-matrix number: U itself, with the matrix factor from mean_rows.

@compute @workgroup_size(WORKGROUP_SIZE)
fn updateNorm(@builtin(workgroup_id) workgroupId: vec3<u32>,
              @builtin(num_workgroups) workgroupCount: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let tileIndex = windowTile(workgroupId, workgroupCount);
  if (!inWindow(tileIndex)) { return; }
  let t = tensors[tensorOfTile(tileIndex)];
  if (t.factored == 0u) { return; }
  let s = settingsOf(t.settings);
  let localTile = tileIndex - t.firstTile;
  var matrixTerm = 1.0;
  if (USES_EPS_FLOOR && s.epsFloor == 1u) { matrixTerm = scratch[t.matrixFactors + factoredTile(t, localTile).matrix]; }
  updateNormOfTile(t, s, localTile, lid, matrixTerm);
}

// The tile's partial sum of U'^2 to scratch (TILE_PARTS of them).
fn updateNormOfTile(t: Tensor, s: Settings, localTile: u32, lid: u32, matrixTerm: f32) {
  storeTilePartial(t, localTile, lid, 0u, tileUpdateSquares(t, s, localTile, lid, matrixTerm));
}

// This invocation's share of the tile's sum of U'^2, over its block of quads in every ROW_LANES-th
// row (as in stats); `matrixTerm` multiplies the column terms (1, or with the eps1 floor
// 1 / max(mean(R_t), eps1)).
fn tileUpdateSquares(t: Tensor, s: Settings, localTile: u32, lid: u32, matrixTerm: f32) -> f32 {
  let tile = factoredTile(t, localTile);
  let firstCol = (lid % COL_GROUPS) * QUAD * QUADS_PER_INVOCATION;
  let counts = blockCounts(tile, firstCol);
  let cols = blockColTerms(t, s, tile, firstCol, counts) * matrixTerm;
  let step = QUAD * t.colStride;
  var squares = 0.0;
  // Where this invocation's block starts in the tile's first row (division-free inside the loop).
  let firstElement = matrixOffset(t, tile.matrix) + tile.row0 * t.rowStride + (tile.col0 + firstCol) * t.colStride;
  for (var row = lid / COL_GROUPS; row < tile.rowCount; row = row + ROW_LANES) {
    let rowFactor = rowTerm(t, s, tile.matrix * t.rows + tile.row0 + row);
    let first = firstElement + row * t.rowStride;
    var rowSquares = quadUpdateSquares(t, s, first, counts.x, rowFactor, cols[0]);
    if (QUADS_PER_INVOCATION > 1u) { rowSquares = rowSquares + quadUpdateSquares(t, s, first + step, counts.y, rowFactor, cols[1]); }
    if (QUADS_PER_INVOCATION > 2u) {
      rowSquares = rowSquares + quadUpdateSquares(t, s, first + 2u * step, counts.z, rowFactor, cols[2]);
      rowSquares = rowSquares + quadUpdateSquares(t, s, first + 3u * step, counts.w, rowFactor, cols[3]);
    }
    squares = squares + rowSquares;
  }
  return squares;
}

// The sum of U'^2 over one quad of `count` elements from `element` on (none when `count` is 0).
fn quadUpdateSquares(t: Tensor, s: Settings, element: u32, count: u32, rowFactor: f32, cols: vec4<f32>) -> f32 {
  if (count == 0u) { return 0.0; }
  let u = factoredUpdate(s, loadGradient(t, s, element, count, t.colStride), rowFactor, cols);
  return dot(u, u);
}
