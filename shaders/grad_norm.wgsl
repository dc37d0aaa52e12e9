// Pass 0 of a step, with maxGradNorm, one workgroup per tile: the tile's sum of G^2 (G divided by
// the loss scale), for finalize_grad_norm. One read of G.

@compute @workgroup_size(WORKGROUP_SIZE)
fn gradNorm(@builtin(workgroup_id) workgroupId: vec3<u32>,
            @builtin(num_workgroups) workgroupCount: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let tileIndex = windowTile(workgroupId, workgroupCount);
  if (!inWindow(tileIndex)) { return; }
  let t = tensors[tensorOfTile(tileIndex)];
  let s = settingsOf(t.settings);
  let localTile = tileIndex - t.firstTile;
  storeTilePartial(t, localTile, lid, 3u, tileGradSquares(t, s, localTile, lid));
}

// This invocation's share of the tile's sum of G^2, quad by quad (as every view reads them: the
// quads of a row from the tile's first column, a vector tile's from its start): quad k of the
// tile for k = lid, lid + WORKGROUP_SIZE, ...
fn tileGradSquares(t: Tensor, s: Settings, localTile: u32, lid: u32) -> f32 {
  var squares = 0.0;
  if (t.factored == 1u) {
    let tile = factoredTile(t, localTile);
    let first = matrixOffset(t, tile.matrix) + tile.row0 * t.rowStride + tile.col0 * t.colStride;
    let quadsPerRow = (tile.colCount + QUAD - 1u) / QUAD;
    for (var k = lid; k < tile.rowCount * quadsPerRow; k = k + WORKGROUP_SIZE) {
      let col = (k % quadsPerRow) * QUAD;
      let element = first + (k / quadsPerRow) * t.rowStride + col * t.colStride;
      let g = loadGrad4(gradIndex(t, element), min(QUAD, tile.colCount - col), t.colStride) * s.invGradScale;
      squares = squares + dot(g, g);
    }
  } else {
    let end = min((localTile + 1u) * VECTOR_TILE, t.cols);
    for (var i = localTile * VECTOR_TILE + lid * QUAD; i < end; i = i + WORKGROUP_SIZE * QUAD) {
      let g = loadGrad4(gradIndex(t, i), min(QUAD, end - i), 1u) * s.invGradScale;
      squares = squares + dot(g, g);
    }
  }
  return squares;
}
