// Pass 5c of a step, with caution, one workgroup per tensor: the fraction of M_t that agrees in
// sign with G, from caution_count's tile counts (added as integers: exact, in any order), and
//   momentumScale = momentumScale / max(fraction, 1e-3)
// in the tensor's TensorScalars, for apply.

var<workgroup> keptTotal: atomic<u32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn finalizeCaution(@builtin(workgroup_id) workgroupId: vec3<u32>,
                   @builtin(num_workgroups) workgroupCount: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
  let localTensor = flatWorkgroupIndex(workgroupId, workgroupCount);
  if (localTensor >= window.tensorCount) { return; }
  let t = tensors[window.firstTensor + localTensor];
  let s = settingsOf(t.settings);
  if (s.caution == 0u || t.momentum == NO_MOMENTUM) { return; }
  var kept = 0u;
  for (var k = lid; k < t.tileCount * TILE_PARTS; k = k + WORKGROUP_SIZE) {
    kept = kept + u32(tilePartial(t, k, 3u));
  }
  atomicAdd(&keptTotal, kept);
  workgroupBarrier();
  if (lid == 0u) {
    // timm's mean of the mask, in f32: the count over the element count.
    let fraction = f32(atomicLoad(&keptTotal)) / (f32(t.batch) * f32(t.rows) * f32(t.cols));
    var k = loadTensorScalars(t);
    k.momentumScale = k.momentumScale / max(fraction, 0.001);
    storeTensorScalars(t, k);
  }
}
