// Pass 3 of a step, factored tensors only, one workgroup per tensor: mean(R_t) of each matrix, for
// finalize_scale, and the factor of its column terms (matrixFactor), for update_norm (with the
// eps1 floor) and apply. One invocation adds a matrix's R_t,
// LINE_BLOCK rows at a time and then those block sums, in order: no barrier (finalize_stats had
// one for this, which cost SwiftShader more than the rest of that pass), and short chains of
// additions, so that f32 keeps the mean to a few ulp.

@compute @workgroup_size(WORKGROUP_SIZE)
fn meanRows(@builtin(workgroup_id) workgroupId: vec3<u32>,
            @builtin(num_workgroups) workgroupCount: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let localTensor = flatWorkgroupIndex(workgroupId, workgroupCount);
  if (localTensor >= window.tensorCount) { return; }
  let t = tensors[window.firstTensor + localTensor];
  if (t.factored == 0u) { return; }
  let s = settingsOf(t.settings);
  for (var matrix = lid; matrix < t.batch; matrix = matrix + WORKGROUP_SIZE) {
    let first = t.newRow + matrix * t.rows;
    var total = 0.0;
    for (var blockStart = 0u; blockStart < t.rows; blockStart = blockStart + LINE_BLOCK) {
      var blockSum = 0.0;
      for (var row = blockStart; row < min(blockStart + LINE_BLOCK, t.rows); row = row + 1u) { blockSum = blockSum + scratch[first + row]; }
      total = total + blockSum;
    }
    let meanRow = total / f32(t.rows);
    scratch[t.meanRows + matrix] = meanRow;
    scratch[t.matrixFactors + matrix] = matrixFactor(s, meanRow);
  }
}
