// Pass 6 of a step, one workgroup per tile: one read of G and X, one write of X, and the only
// writes of optimizer state.
//   U = scale * G / sqrt(V_t)                               unfactored (V_t floored at eps1^2 with the eps1 floor)
//   U = scale * sqrt(mean(R_t)) G / (sqrt(R_t) sqrt(C_t))   factored (see factoredUpdate)
//   M_t = beta1 M_{t-1} + (1 - beta1) U,  U = M_t           with momentum
//   (with momentumBeforeLr, scale leaves out alpha_t and U = alpha_t M_t)
//   (with caution, U keeps only the elements where M_t G > 0, times momentumScale's
//   1 / max(fraction kept, 1e-3))
//   X_t = X_{t-1} - decay * X_{t-1} - U                    decay: weightDecay * alpha_t, or see writeScalars

@compute @workgroup_size(WORKGROUP_SIZE)
fn apply(@builtin(workgroup_id) workgroupId: vec3<u32>,
         @builtin(num_workgroups) workgroupCount: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let tileIndex = windowTile(workgroupId, workgroupCount);
  if (!inWindow(tileIndex)) { return; }
  let t = tensors[tensorOfTile(tileIndex)];
  let s = settingsOf(t.settings);
  if (s.skipNonFinite == 1u && scratch[STATUS_SKIP] != 0.0) { return; }
  applyToTile(t, s, tileIndex - t.firstTile, lid);
}

// Set by caution_count before it walks a tile through apply's functions: then nothing is stored,
// and cautionKept counts this invocation's elements whose M_t agrees in sign with G.
var<private> cautionCounting = false;
var<private> cautionKept = 0u;

// The update of one tile, and the commit of its share of the new state.
fn applyToTile(t: Tensor, s: Settings, localTile: u32, lid: u32) {
  roundingSeed = s.roundingSeed;
  let scalars = loadTensorScalars(t);
  if (t.factored == 1u) {
    applyFactored(t, s, localTile, scalars, lid);
  } else {
    applyVector(t, s, localTile, scalars, lid);
  }
}

// Each invocation updates its block of quads in every ROW_LANES-th row (as in stats).
fn applyFactored(t: Tensor, s: Settings, localTile: u32, k: TensorScalars, lid: u32) {
  let tile = factoredTile(t, localTile);
  let firstCol = (lid % COL_GROUPS) * QUAD * QUADS_PER_INVOCATION;
  let counts = blockCounts(tile, firstCol);
  let cols = blockColTerms(t, s, tile, firstCol, counts) * scratch[t.matrixFactors + tile.matrix];
  let step = QUAD * t.colStride;
  // Where this invocation's block starts in the tile's first row (division-free inside the loop).
  let firstElement = matrixOffset(t, tile.matrix) + tile.row0 * t.rowStride + (tile.col0 + firstCol) * t.colStride;
  for (var row = lid / COL_GROUPS; row < tile.rowCount; row = row + ROW_LANES) {
    let rowFactor = rowTerm(t, s, tile.matrix * t.rows + tile.row0 + row);
    let first = firstElement + row * t.rowStride;
    applyQuad(t, s, first, counts.x, rowFactor, cols[0], k);
    if (QUADS_PER_INVOCATION > 1u) { applyQuad(t, s, first + step, counts.y, rowFactor, cols[1], k); }
    if (QUADS_PER_INVOCATION > 2u) {
      applyQuad(t, s, first + 2u * step, counts.z, rowFactor, cols[2], k);
      applyQuad(t, s, first + 3u * step, counts.w, rowFactor, cols[3], k);
    }
  }
  if (cautionCounting) { return; }
  // Commit C_t (the first tile row of the matrix owns these columns) and R_t (the first tile column owns these rows).
  for (var col = lid; tile.tileRow == 0u && col < tile.colCount; col = col + WORKGROUP_SIZE) {
    let colIndex = tile.matrix * t.cols + tile.col0 + col;
    factorState[t.colState + colIndex] = scratch[t.newCol + colIndex];
  }
  for (var row = lid; tile.tileCol == 0u && row < tile.rowCount; row = row + WORKGROUP_SIZE) {
    let rowIndex = tile.matrix * t.rows + tile.row0 + row;
    factorState[t.rowState + rowIndex] = scratch[t.newRow + rowIndex];
  }
}

// The update of one quad of `count` elements of a factored tensor from `element` on (none when
// `count` is 0).
fn applyQuad(t: Tensor, s: Settings, element: u32, count: u32, rowFactor: f32, cols: vec4<f32>, k: TensorScalars) {
  if (count == 0u) { return; }
  let g = loadGradient(t, s, element, count, t.colStride);
  updateParams(t, s, element, factoredUpdate(s, g, rowFactor, cols) * k.scale, g, k, count, t.colStride);
}

fn applyVector(t: Tensor, s: Settings, localTile: u32, k: TensorScalars, lid: u32) {
  let start = localTile * VECTOR_TILE;
  let end = min(start + VECTOR_TILE, t.cols);
  for (var i = start + lid * QUAD; i < end; i = i + WORKGROUP_SIZE * QUAD) {
    let count = min(QUAD, end - i);
    let g = loadGradient(t, s, i, count, 1u);
    var u = vec4<f32>(0.0);
    for (var c = 0u; c < count; c = c + 1u) {
      let v = s.beta2 * fullState[fullStateIndex(t, i + c)] + s.oneMinusBeta2 * (g[c] * g[c] + s.epsAdded);
      if (!cautionCounting) { fullState[fullStateIndex(t, i + c)] = v; }
      u[c] = g[c] * inverseSqrt(atLeast(v, s.vectorFloor)) * k.scale;
    }
    updateParams(t, s, i, u, g, k, count, 1u);
  }
}

// X_t = X - decay X - U for up to four elements `stride` apart (gradients g), through the first
// moment if kept.
fn updateParams(t: Tensor, s: Settings, element: u32, update: vec4<f32>, g: vec4<f32>, k: TensorScalars, count: u32, stride: u32) {
  if (!USES_MOMENTUM || t.momentum == NO_MOMENTUM) {
    let x = loadParam4(paramIndex(t, element), count, stride);
    storeParam4(paramIndex(t, element), x - k.decay * x - update, count, stride);
    return;
  }
  let step = momentumStep(t, s, element, update, g, count, stride) * k.momentumScale;
  if (cautionCounting) { return; }
  let x = loadParam4(paramIndex(t, element), count, stride);
  storeParam4(paramIndex(t, element), x - k.decay * x - step, count, stride);
}

// M_t = beta1 M_{t-1} + (1 - beta1) U for up to four elements `stride` apart: stored, and returned
// as the step uses it (with caution, 0 where M_t G <= 0); while caution_count counts, only counted.
fn momentumStep(t: Tensor, s: Settings, element: u32, update: vec4<f32>, g: vec4<f32>, count: u32, stride: u32) -> vec4<f32> {
  let first = momentumIndex(t, element);
  let old = loadMomentum4(first, count, stride);
  var step = vec4<f32>(0.0);
  var stored = vec4<f32>(0.0);
  for (var c = 0u; c < count; c = c + 1u) {
    let m = nextMomentum(s, first + c * stride, old[c], update[c]);
    let agrees = m.x * g[c] > 0.0;
    cautionKept = cautionKept + select(0u, 1u, agrees);
    stored[c] = m.y;
    step[c] = select(m.x, select(0.0, m.x, agrees), s.caution == 1u);
  }
  if (!cautionCounting) { storeMomentum4(first, stored, count, stride); }
  return step;
}

// M_t at element i of the momentum binding from M_{t-1} = old and the update u: (what the step uses, what is
// stored, in the momentum view's format). 'ema' (optax's order): beta1 M in the format (beta1 too,
// as jax casts a Python float to the array's type), plus (1 - beta1) u; the step uses M_t before it is rounded. 'lerp' (torch's lerp_ on the stored
// M: timm): u rounded first, M + w (u - M) from the nearer end, rounded; the step uses it as stored.
fn nextMomentum(s: Settings, i: u32, old: f32, u: f32) -> vec2<f32> {
  if (s.momentumLerp == 1u) {
    let end = roundMomentum(u);
    let w = s.oneMinusBeta1;
    let stored = roundMomentumAt(i, select(end - (end - old) * (1.0 - w), old + w * (end - old), w < 0.5));
    return vec2<f32>(stored, stored);
  }
  let m = roundMomentum(roundMomentum(s.beta1) * old) + s.oneMinusBeta1 * u;
  return vec2<f32>(m, roundMomentumAt(i, m));
}
