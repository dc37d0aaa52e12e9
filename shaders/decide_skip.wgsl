// With skipNonFinite only, once per step after every group's finalize_scale: one workgroup
// adds the non-finite gradient counts of every tensor. If any, the step is skipped (apply
// writes nothing) and the skipped-step counter grows; the decision never leaves the GPU.

@compute @workgroup_size(WORKGROUP_SIZE)
fn decideSkip(@builtin(local_invocation_index) lid: u32) {
  var nonFinite = 0.0;
  for (var k = lid; k < window.totalTensors; k = k + WORKGROUP_SIZE) {
    nonFinite = nonFinite + scratch[tensors[k].tensorScalars + 2u];
  }
  let total = workgroupSum(lid, vec4<f32>(nonFinite, 0.0, 0.0, 0.0));
  if (lid == 0u) {
    let skip = total.x != 0.0;
    scratch[STATUS_SKIP] = select(0.0, 1.0, skip);
    scratch[STATUS_SKIPPED_STEPS] = scratch[STATUS_SKIPPED_STEPS] + select(0.0, 1.0, skip);
  }
}
