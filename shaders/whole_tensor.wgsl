// The whole step of a small tensor (one tile: a matrix of at most TILE_ROWS x TILE_COLS, or a
// vector of at most VECTOR_TILE elements) in one workgroup, one workgroup per tensor: the work of
// the six passes back to back, with barriers where it needs what other invocations wrote, and
// one reduction for all the sums (barriers are what small tensors cost on CPU adapters). One
// dispatch covers every small tensor of a window, and the tile's gradients and parameters are
// read from memory once: its later reads find them in the cache. Not used with skipNonFinite,
// whose decision needs every tensor's stats first.

@compute @workgroup_size(WORKGROUP_SIZE)
fn wholeTensor(@builtin(workgroup_id) workgroupId: vec3<u32>,
               @builtin(num_workgroups) workgroupCount: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let small = flatWorkgroupIndex(workgroupId, workgroupCount);
  if (small >= window.wholeTensorCount) { return; }
  let t = tensors[tensorOfTile(window.firstTile + window.tileCount + small)];
  let s = settingsOf(t.settings);
  // The passes' work, each invocation keeping its shares of the sums, which meet in one reduction.
  var sums = tileStats(t, s, 0u, lid);
  if (t.factored == 1u) {
    storageBarrier();   // every row's and column's partial, written by other invocations
    var rowTotal = 0.0;
    for (var row = lid; row < t.rows; row = row + WORKGROUP_SIZE) { rowTotal = rowTotal + finalizeRow(t, s, 0u, row); }
    for (var col = lid; col < t.cols; col = col + WORKGROUP_SIZE) { finalizeCol(t, s, 0u, col); }
    storageBarrier();   // 1 / sqrt(R_t) and 1 / sqrt(C_t) of every line
    var matrixTerm = 1.0;
    if (USES_EPS_FLOOR && s.epsFloor == 1u) {
      // The eps1 floor needs mean(R_t) before the sum of U^2: one more reduction.
      matrixTerm = matrixFactor(s, workgroupSum(lid, vec4<f32>(rowTotal, 0.0, 0.0, 0.0)).x / f32(t.rows));
    }
    sums = vec4<f32>(tileUpdateSquares(t, s, 0u, lid, matrixTerm), sums.y, sums.z, rowTotal);
  }
  let totals = workgroupSum(lid, sums);
  if (lid == 0u) {
    let meanRow = totals.w / f32(t.rows);
    if (t.factored == 1u) { scratch[t.matrixFactors] = matrixFactor(s, meanRow); }
    finalizeOneTile(t, s, vec4<f32>(totals.xyz, meanRow));
  }
  storageBarrier();     // the scale and the matrix factor
  applyToTile(t, s, 0u, lid);
}
