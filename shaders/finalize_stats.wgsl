// Pass 2 of a step, factored tensors only: one invocation per row and per column of a matrix
// adds that line's tile partials in order and forms the new moment
//   R_t = beta2_t R_{t-1} + (1 - beta2_t) mean_j Q,   C_t = beta2_t C_{t-1} + (1 - beta2_t) mean_i Q,
// kept in scratch until apply commits it, with 1 / sqrt of each for the passes that follow.
// Line block k of a matrix is its rows and its columns k LINE_BLOCK to (k + 1) LINE_BLOCK - 1.
// No barrier: mean(R_t) is mean_rows' work.

@compute @workgroup_size(WORKGROUP_SIZE)
fn finalizeStats(@builtin(workgroup_id) workgroupId: vec3<u32>,
                 @builtin(num_workgroups) workgroupCount: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let block = flatWorkgroupIndex(workgroupId, workgroupCount);
  if (block >= window.lineBlockCount) { return; }
  let t = tensors[tensorOwning(block, true)];
  let localBlock = block - t.firstLineBlock;
  let blocksPerMatrix = (max(t.rows, t.cols) + LINE_BLOCK - 1u) / LINE_BLOCK;
  finalizeLineBlock(t, settingsOf(t.settings), localBlock / blocksPerMatrix, localBlock % blocksPerMatrix, lid);
}

// The rows and columns lineBlock LINE_BLOCK to (lineBlock + 1) LINE_BLOCK - 1 of one matrix.
fn finalizeLineBlock(t: Tensor, s: Settings, matrix: u32, lineBlock: u32, lid: u32) {
  let line = lineBlock * LINE_BLOCK + lid;
  if (line < t.rows) { finalizeRow(t, s, matrix, line); }
  if (line < t.cols) { finalizeCol(t, s, matrix, line); }
}

// R_t of one row from its tile partials, and 1 / sqrt(R_t), to scratch; returns R_t.
fn finalizeRow(t: Tensor, s: Settings, matrix: u32, row: u32) -> f32 {
  return finalizeLine(s, matrix * t.rows + row, t.rowPartials, t.tileColCount * ROW_PARTS, t.rowState, t.newRow, t.rowFactors, t.cols);
}

// C_t of one column from its tile partials, and 1 / sqrt(C_t), to scratch.
fn finalizeCol(t: Tensor, s: Settings, matrix: u32, col: u32) {
  finalizeLine(s, matrix * t.cols + col, t.colPartials, t.tileRowCount * COL_PARTS, t.colState, t.newCol, t.colFactors, t.rows);
}

// One line (row or column) `line`: the mean of Q over its `length` elements from its
// `partialCount` tile partials, the new moment from the old one in `state`, kept in scratch with
// its inverse square root; returns the new moment.
fn finalizeLine(s: Settings, line: u32, partials: u32, partialCount: u32, state: u32, newLine: u32, factors: u32, length: u32) -> f32 {
  var sum = 0.0;
  for (var k = 0u; k < partialCount; k = k + 1u) {
    sum = sum + scratch[partials + line * partialCount + k];
  }
  let moment = s.beta2 * factorState[state + line] + s.oneMinusBeta2 * (sum / f32(length));
  scratch[newLine + line] = moment;
  // With skipNonFinite, a moment that overflowed f32 gets a NaN factor, so that its tensor's sum
  // of U^2 is NaN and the step is skipped (1 / sqrt(inf) = 0 would hide it).
  scratch[factors + line] = nanWhere(s.skipNonFinite == 1u && !isFinite(moment), inverseSqrt(moment));
  return moment;
}
