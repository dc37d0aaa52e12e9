// Pass 5 of a step, one workgroup per tensor: reduce the tile partials to
//   RMS(X_{t-1}),  alpha_t = rho_t * max(eps2, RMS(X_{t-1}))  (or rho_t without scaleParameter),
//   RMS(U) = sqrt(sum over matrices of mean(R_t) * sum(U'^2) / numel),
//   scale = alpha_t / max(1, RMS(U) / clipThreshold),
// and leave the tensor's TensorScalars: for apply, scale and weightDecay * alpha_t (or
// weightDecay); for decide_skip, its count of non-finite sums of Q (gradients) and statistics;
// for stats(), what the step did.

@compute @workgroup_size(WORKGROUP_SIZE)
fn finalizeScale(@builtin(workgroup_id) workgroupId: vec3<u32>,
                 @builtin(num_workgroups) workgroupCount: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let localTensor = flatWorkgroupIndex(workgroupId, workgroupCount);
  if (localTensor >= window.tensorCount) { return; }
  let t = tensors[window.firstTensor + localTensor];
  let s = settingsOf(t.settings);
  if (t.tileCount == 1u && t.batch == 1u) {
    // A small tensor: one invocation adds its few partials, with no workgroup reduction.
    if (lid == 0u) { finalizeSmall(t, s); }
    return;
  }

  // Over every tile: sum of U^2 (unfactored tensors), sum of X^2, non-finite sums of Q.
  var partials = vec4<f32>(0.0);
  for (var k = lid; k < t.tileCount * TILE_PARTS; k = k + WORKGROUP_SIZE) {
    let at = t.tilePartials + TILE_PARTIALS * k;
    partials = partials + vec4<f32>(scratch[at], scratch[at + 1u], scratch[at + 2u], 0.0);
  }
  let totals = workgroupSum(lid, partials);
  var updateSquares = totals.x;

  if (t.factored == 1u) {
    updateSquares = 0.0;
    let partsPerMatrix = t.tileRowCount * t.tileColCount * TILE_PARTS;
    for (var matrix = 0u; matrix < t.batch; matrix = matrix + 1u) {
      var partial = 0.0;
      for (var k = lid; k < partsPerMatrix; k = k + WORKGROUP_SIZE) {
        partial = partial + scratch[t.tilePartials + TILE_PARTIALS * (matrix * partsPerMatrix + k)];
      }
      let matrixSquares = workgroupSum(lid, vec4<f32>(partial, 0.0, 0.0, 0.0)).x;
      updateSquares = updateSquares + updateSquaresOfMatrix(s, matrixSquares, scratch[t.meanRows + matrix]);
    }
  }

  if (lid == 0u) { writeScalars(t, s, totals.y, updateSquares, totals.z); }
}

fn finalizeSmall(t: Tensor, s: Settings) {
  var sums = vec3<f32>(0.0);
  for (var part = 0u; part < TILE_PARTS; part = part + 1u) {
    let at = t.tilePartials + TILE_PARTIALS * part;
    sums = sums + vec3<f32>(scratch[at], scratch[at + 1u], scratch[at + 2u]);
  }
  var meanRow = 0.0;
  if (t.factored == 1u) { meanRow = scratch[t.meanRows]; }
  finalizeOneTile(t, s, vec4<f32>(sums, meanRow));
}

// The scalars of a tensor of one tile (one matrix) from its totals: (sum of U^2, or of U'^2 when
// factored; sum of X^2; non-finite sums of Q; mean(R_t) when factored).
fn finalizeOneTile(t: Tensor, s: Settings, totals: vec4<f32>) {
  var updateSquares = totals.x;
  if (t.factored == 1u) { updateSquares = updateSquaresOfMatrix(s, updateSquares, totals.w); }
  writeScalars(t, s, totals.y, updateSquares, totals.z);
}

// The sum of U^2 over one matrix from update_norm's sum: of U' = U / sqrt(mean(R_t)), or with the
// eps1 floor of U itself.
fn updateSquaresOfMatrix(s: Settings, partialSquares: f32, meanRow: f32) -> f32 {
  if (s.epsFloor == 1u) { return partialSquares; }
  return meanRow * partialSquares;
}

fn writeScalars(t: Tensor, s: Settings, paramSquares: f32, updateSquares: f32, nonFinite: f32) {
  let count = f32(t.batch) * f32(t.rows) * f32(t.cols);
  let paramRms = sqrt(paramSquares / count);
  let updateRms = sqrt(updateSquares / count);
  // As in the reference: max(eps2, RMS) is eps2 when RMS is NaN (Python's max), while the clip
  // divisor max(1, RMS(U) / d) stays NaN (torch's clamp), so a NaN gradient spoils its tensor.
  var alpha = s.rho;
  if (s.scaleParameter == 1u) {
    alpha = s.rho * select(s.eps2, paramRms, paramRms > s.eps2);
  }
  let ratio = updateRms / s.clipThreshold;
  let clipDivisor = select(max(1.0, ratio), ratio, isNan(ratio));
  // With momentumBeforeLr, M averages U / clipDivisor and alpha_t scales M_t.
  let beforeLr = s.momentumBeforeLr == 1u;
  let scale = select(alpha, 1.0, beforeLr) / clipDivisor;
  let momentumScale = select(1.0, alpha, beforeLr);
  // weightDecay * alpha_t (or weightDecay), times alpha_t / weightDecayMaxLr for the corrected decay.
  var decay = s.weightDecay * select(1.0, alpha, s.weightDecayScaled == 1u);
  if (s.weightDecayMaxLr > 0.0) { decay = decay * (alpha / s.weightDecayMaxLr); }
  // Sums that overflowed f32 (squares of finite gradients or parameters, R_t, C_t, V_t: see
  // finalize_stats) count as non-finite too, for skipNonFinite.
  let overflowed = !(isFinite(paramSquares) && isFinite(updateSquares) && isFinite(scale));
  let nonFiniteCount = nonFinite + select(0.0, 1.0, overflowed);
  storeTensorScalars(t, TensorScalars(scale, decay, nonFiniteCount, paramRms, alpha, updateRms, clipDivisor, momentumScale));
}
