// Pass 4 of a step, one workgroup per tensor: reduce the tile partials to
//   RMS(X_{t-1}),  alpha_t = rho_t * max(eps2, RMS(X_{t-1}))  (or rho_t without scaleParameter),
//   RMS(U) = sqrt(sum over matrices of mean(R_t) * sum(U'^2) / numel),
//   scale = alpha_t / max(1, RMS(U) / clipThreshold),
// and leave for apply: scale, weightDecay * alpha_t, and sqrt(mean(R_t)) per matrix.

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) workgroupId: vec3<u32>,
        @builtin(num_workgroups) workgroupCount: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let localTensor = flatWorkgroupIndex(workgroupId, workgroupCount);
  if (localTensor >= group.tensorCount) { return; }
  let t = tensors[group.firstTensor + localTensor];
  let s = settings[t.settings];

  // Sum of X^2 over every tile; sum of U^2 over every tile of an unfactored tensor.
  var partials = vec2<f32>(0.0, 0.0);
  for (var k = lid; k < t.tileCount; k = k + WORKGROUP_SIZE) {
    partials = partials + vec2<f32>(scratch[t.tilePartials + 2u * k], scratch[t.tilePartials + 2u * k + 1u]);
  }
  let totals = workgroupSum2(lid, partials);
  var updateSquares = totals.x;
  let paramSquares = totals.y;

  if (t.factored == 1u) {
    updateSquares = 0.0;
    let rowBlocks = (t.rows + LINE_BLOCK - 1u) / LINE_BLOCK;
    let tilesPerMatrix = t.tileRowCount * t.tileColCount;
    for (var matrix = 0u; matrix < t.batch; matrix = matrix + 1u) {
      var matrixPartials = vec2<f32>(0.0, 0.0);
      for (var k = lid; k < rowBlocks; k = k + WORKGROUP_SIZE) {
        matrixPartials.x = matrixPartials.x + scratch[t.rowBlockSums + matrix * rowBlocks + k];
      }
      for (var k = lid; k < tilesPerMatrix; k = k + WORKGROUP_SIZE) {
        matrixPartials.y = matrixPartials.y + scratch[t.tilePartials + 2u * (matrix * tilesPerMatrix + k)];
      }
      let matrixTotals = workgroupSum2(lid, matrixPartials);
      let meanRow = matrixTotals.x / f32(t.rows);
      updateSquares = updateSquares + meanRow * matrixTotals.y;
      if (lid == 0u) {
        scratch[t.matrixFactors + matrix] = sqrt(meanRow);
      }
    }
  }

  if (lid == 0u) {
    let count = f32(t.batch) * f32(t.rows) * f32(t.cols);
    let paramRms = sqrt(paramSquares / count);
    let updateRms = sqrt(updateSquares / count);
    var alpha = s.rho;
    if (s.scaleParameter == 1u) {
      alpha = s.rho * max(s.eps2, paramRms);
    }
    scratch[t.tensorScalars] = alpha / max(1.0, updateRms / s.clipThreshold);
    scratch[t.tensorScalars + 1u] = s.weightDecay * alpha;
  }
}
