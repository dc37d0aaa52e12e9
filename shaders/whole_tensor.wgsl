// The whole step of a small tensor (one tile: a matrix of at most TILE_ROWS x TILE_COLS, or a
// vector of at most VECTOR_TILE elements) in one workgroup, one workgroup per tensor: the five
// passes of the other kernels run back to back, with barriers where a pass needs what the
// workgroup's previous pass wrote to scratch. One dispatch covers every small tensor of a window,
// and the tile's gradients and parameters are read from memory once: its later reads find them
// in the cache. Not used with skipNonFinite, whose decision needs every tensor's stats first.

@compute @workgroup_size(WORKGROUP_SIZE)
fn wholeTensor(@builtin(workgroup_id) workgroupId: vec3<u32>,
               @builtin(num_workgroups) workgroupCount: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let small = flatWorkgroupIndex(workgroupId, workgroupCount);
  if (small >= window.wholeTensorCount) { return; }
  let t = tensors[tensorOfTile(window.firstTile + window.tileCount + small)];
  let s = settings[t.settings];
  statsOfTile(t, s, 0u, lid);
  storageBarrier();
  if (t.factored == 1u) {
    for (var lineBlock = 0u; lineBlock < lineBlocksPerMatrix(t); lineBlock = lineBlock + 1u) {
      finalizeLineBlock(t, s, 0u, lineBlock, lid);
    }
    storageBarrier();
    updateNormOfTile(t, 0u, lid);
    storageBarrier();
  }
  if (lid == 0u) { finalizeSmall(t, s); }
  storageBarrier();
  applyToTile(t, s, 0u, lid);
}
