// With skipNonFinite only, once per step after every group's finalize_scale: one workgroup
// adds the non-finite counts of every tensor (gradients, and statistics that overflowed f32). If
// any, the step is skipped (apply writes nothing) and the skipped-step counter grows; the
// decision never leaves the GPU.

@compute @workgroup_size(WORKGROUP_SIZE)
fn decideSkip(@builtin(local_invocation_index) lid: u32) {
  var nonFinite = 0.0;
  for (var k = lid; k < window.totalTensors; k = k + WORKGROUP_SIZE) {
    nonFinite = nonFinite + loadTensorScalars(tensors[k]).nonFinite;
  }
  let total = workgroupSum(lid, vec4<f32>(nonFinite, 0.0, 0.0, 0.0));
  if (lid == 0u) {
    let skip = total.x != 0.0;
    scratch[STATUS_SKIP] = select(0.0, 1.0, skip);
    if (skip) { countSkippedStep(); }
  }
}

// Adds one to the skipped-step count, carrying from digit to digit so that it stays exact.
fn countSkippedStep() {
  for (var k = 0u; k < SKIPPED_DIGITS; k = k + 1u) {
    let digit = scratch[STATUS_SKIPPED_STEPS + k] + 1.0;
    if (digit < SKIPPED_DIGIT_BASE) {
      scratch[STATUS_SKIPPED_STEPS + k] = digit;
      return;
    }
    scratch[STATUS_SKIPPED_STEPS + k] = 0.0;
  }
}
