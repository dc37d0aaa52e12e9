// Pass 5 of a step, one workgroup per tile: one read of G and X, one write of X, and the only
// writes of optimizer state.
//   U = scale * G / sqrt(V_t)                               unfactored
//   U = scale * sqrt(mean(R_t)) G / (sqrt(R_t) sqrt(C_t))   factored
//   M_t = beta1 M_{t-1} + (1 - beta1) U,  U = M_t           with momentum
//   X_t = X_{t-1} - weightDecay * alpha_t * X_{t-1} - U

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) workgroupId: vec3<u32>,
        @builtin(num_workgroups) workgroupCount: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let tileIndex = windowTile(workgroupId, workgroupCount);
  if (!inWindow(tileIndex)) { return; }
  let t = tensors[tensorOfTile(tileIndex)];
  let s = settings[t.settings];
  if (s.skipNonFinite == 1u && scratch[STATUS_SKIP] != 0.0) { return; }
  let localTile = tileIndex - t.firstTile;
  let scale = scratch[t.tensorScalars];
  let decay = scratch[t.tensorScalars + 1u];
  if (t.factored == 1u) {
    applyFactored(t, s, localTile, scale, decay, lid);
  } else {
    applyVector(t, s, localTile, scale, decay, lid);
  }
}

// Invocations take columns lid, lid + WORKGROUP_SIZE, ... of every row in turn, so that
// neighbouring invocations write neighbouring elements and each row is one contiguous run.
const APPLY_COLS = TILE_COLS / WORKGROUP_SIZE;

fn applyFactored(t: Tensor, s: Settings, localTile: u32, scale: f32, decay: f32, lid: u32) {
  let tile = factoredTile(t, localTile);
  let matrixScale = scratch[t.matrixFactors + tile.matrix] * scale;
  var colFactors: array<f32, APPLY_COLS>;
  for (var k = 0u; k < APPLY_COLS; k = k + 1u) {
    let col = lid + k * WORKGROUP_SIZE;
    if (col < tile.colCount) { colFactors[k] = scratch[t.colFactors + tile.matrix * t.cols + tile.col0 + col] * matrixScale; }
  }
  for (var row = 0u; row < tile.rowCount; row = row + 1u) {
    let rowIndex = tile.matrix * t.rows + tile.row0 + row;
    let rowFactor = scratch[t.rowFactors + rowIndex];
    let first = rowIndex * t.cols + tile.col0;
    for (var k = 0u; k < APPLY_COLS; k = k + 1u) {
      let col = lid + k * WORKGROUP_SIZE;
      if (col < tile.colCount) {
        updateParam(t, s, first + col, grad[gradIndex(t, first + col)] * rowFactor * colFactors[k], decay);
      }
    }
  }
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

fn applyVector(t: Tensor, s: Settings, localTile: u32, scale: f32, decay: f32, lid: u32) {
  let start = localTile * VECTOR_TILE;
  let end = min(start + VECTOR_TILE, t.cols);
  for (var i = start + lid; i < end; i = i + WORKGROUP_SIZE) {
    let g = grad[gradIndex(t, i)];
    let v = s.beta2 * fullState[fullStateIndex(t, i)] + s.oneMinusBeta2 * (g * g + s.eps1);
    fullState[fullStateIndex(t, i)] = v;
    updateParam(t, s, i, g * inverseSqrt(v) * scale, decay);
  }
}

fn updateParam(t: Tensor, s: Settings, element: u32, update: f32, decay: f32) {
  var u = update;
  if (t.momentum != NO_MOMENTUM) {
    let m = s.beta1 * momentum[momentumIndex(t, element)] + (1.0 - s.beta1) * u;
    momentum[momentumIndex(t, element)] = m;
    u = m;
  }
  let x = param[paramIndex(t, element)];
  param[paramIndex(t, element)] = x - decay * x - u;
}
