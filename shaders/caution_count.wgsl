// Pass 5b of a step, with caution, one workgroup per tile: how many elements of M_t agree in sign
// with the gradient (M_t G > 0), as apply will compute them (the same functions, with nothing
// stored), left in the tile's partials for finalize_caution. One read of G, X's reads aside.

@compute @workgroup_size(WORKGROUP_SIZE)
fn cautionCount(@builtin(workgroup_id) workgroupId: vec3<u32>,
                @builtin(num_workgroups) workgroupCount: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let tileIndex = windowTile(workgroupId, workgroupCount);
  if (!inWindow(tileIndex)) { return; }
  let t = tensors[tensorOfTile(tileIndex)];
  let s = settingsOf(t.settings);
  if (s.caution == 0u || t.momentum == NO_MOMENTUM) { return; }
  let localTile = tileIndex - t.firstTile;
  cautionCounting = true;
  applyToTile(t, s, localTile, lid);
  // At most a tile of elements per partial: exact in f32.
  storeTilePartial(t, localTile, lid, 3u, f32(cautionKept));
}
