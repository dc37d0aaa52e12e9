// Pass 3 of a step, factored tiles only: the partial sum of squares of the unscaled update
//   U' = G / (sqrt(R_t) sqrt(C_t)),
// one read of G. The factored update is U = sqrt(mean(R_t)) U' per matrix, so mean(R_t), which
// needs every row, is applied later (finalize_scale) instead of waiting for it here. With the
// eps1 floor, U is not U' times a per-matrix number: U itself, with mean(R_t) from the row block sums.

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
  if (s.epsFloor == 1u) { matrixTerm = floorMatrixTerm(t, s, factoredTile(t, localTile).matrix); }
  updateNormOfTile(t, s, localTile, lid, matrixTerm);
}

// The tile's partial sum of U'^2 to scratch (TILE_PARTS of them).
fn updateNormOfTile(t: Tensor, s: Settings, localTile: u32, lid: u32, matrixTerm: f32) {
  var squares = tileUpdateSquares(t, s, localTile, lid, matrixTerm);
  var part = lid;
  if (INVOCATION_PARTIALS == 0u) {
    squares = workgroupSum(lid, vec4<f32>(squares, 0.0, 0.0, 0.0)).x;
    part = 0u;
  }
  if (part < TILE_PARTS) {
    scratch[t.tilePartials + TILE_PARTIALS * (localTile * TILE_PARTS + part)] = squares;
  }
}

// This invocation's share of the tile's sum of U'^2, one quad of columns per invocation;
// `matrixTerm` multiplies the column terms (1, or with the eps1 floor 1 / max(mean(R_t), eps1)).
fn tileUpdateSquares(t: Tensor, s: Settings, localTile: u32, lid: u32, matrixTerm: f32) -> f32 {
  let tile = factoredTile(t, localTile);
  let firstCol = (lid % QUADS_ACROSS) * QUAD;
  let count = min(QUAD, tile.colCount - min(tile.colCount, firstCol));
  let cols = colTerms(t, s, tile, firstCol, count) * matrixTerm;
  var squares = 0.0;
  // Where this invocation's quad starts in the tile's first row (division-free inside the loop).
  let firstElement = matrixOffset(t, tile.matrix) + tile.row0 * t.rowStride + (tile.col0 + firstCol) * t.colStride;
  for (var row = lid / QUADS_ACROSS; count > 0u && row < tile.rowCount; row = row + QUAD_LANES) {
    let rowIndex = tile.matrix * t.rows + tile.row0 + row;
    let element = firstElement + row * t.rowStride;
    let g = loadGrad4(gradIndex(t, element), count, t.colStride);
    let u = factoredUpdate(s, g, rowTerm(t, s, rowIndex), cols);
    squares = squares + dot(u, u);
  }
  return squares;
}
