// With maxGradNorm, once per step in one workgroup, after grad_norm: the norm ||G|| over every
// gradient of the optimizer (every tensor of every group), and the factor
//   clip = maxGradNorm / ||G|| where ||G|| >= maxGradNorm, else 1
// (optax's clip_by_global_norm), which every later read of G is multiplied by (loadGradient).
// A sum of squares that is not finite (a NaN or infinite gradient, or squares that overflowed
// f32) makes the factor NaN: every gradient then counts as non-finite.

@compute @workgroup_size(WORKGROUP_SIZE)
fn finalizeGradNorm(@builtin(local_invocation_index) lid: u32) {
  var squares = 0.0;
  for (var i = 0u; i < window.totalTensors; i = i + 1u) {
    let t = tensors[i];
    for (var k = lid; k < t.tileCount * TILE_PARTS; k = k + WORKGROUP_SIZE) {
      squares = squares + tilePartial(t, k, 3u);
    }
  }
  let total = workgroupSum(lid, vec4<f32>(squares, 0.0, 0.0, 0.0)).x;
  if (lid == 0u) {
    let norm = sqrt(total);
    let maxNorm = settingsOf(tensors[0].settings).maxGradNorm; // optimizer-wide: every group's
    var clip = select(maxNorm / norm, 1.0, norm < maxNorm);
    if (!isFinite(total)) { clip = total - total; } // NaN
    scratch[STATUS_GRAD_NORM] = norm;
    scratch[STATUS_GRAD_CLIP] = clip;
  }
}
