// Pass 3 of a step, factored tiles only: the partial sum of squares of the unscaled update
//   U' = G / (sqrt(R_t) sqrt(C_t)),
// one read of G. The factored update is U = sqrt(mean(R_t)) U' per matrix, so mean(R_t), which
// needs every row, is applied later (finalize_scale) instead of waiting for it here.

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) workgroupId: vec3<u32>,
        @builtin(num_workgroups) workgroupCount: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let tileIndex = windowTile(workgroupId, workgroupCount);
  if (!inWindow(tileIndex)) { return; }
  let t = tensors[tensorOfTile(tileIndex)];
  if (t.factored == 0u) { return; }
  let localTile = tileIndex - t.firstTile;
  let tile = factoredTile(t, localTile);
  let firstCol = (lid % COL_GROUPS) * COLS_PER_INVOCATION;
  let lane = lid / COL_GROUPS;
  var colFactors: array<f32, COLS_PER_INVOCATION>;
  for (var c = 0u; c < COLS_PER_INVOCATION; c = c + 1u) {
    if (firstCol + c < tile.colCount) { colFactors[c] = scratch[t.colFactors + tile.matrix * t.cols + tile.col0 + firstCol + c]; }
  }
  var squares = 0.0;
  for (var row = lane; row < tile.rowCount; row = row + ROW_LANES) {
    let rowIndex = tile.matrix * t.rows + tile.row0 + row;
    let rowFactor = scratch[t.rowFactors + rowIndex];
    let first = gradIndex(t, rowIndex * t.cols + tile.col0 + firstCol);
    for (var c = 0u; c < COLS_PER_INVOCATION; c = c + 1u) {
      if (firstCol + c < tile.colCount) {
        let u = grad[first + c] * rowFactor * colFactors[c];
        squares = squares + u * u;
      }
    }
  }
  let sums = workgroupSum(lid, vec4<f32>(squares, 0.0, 0.0, 0.0));
  if (lid == 0u) {
    scratch[t.tilePartials + TILE_PARTIALS * localTile] = sums.x;
  }
}
