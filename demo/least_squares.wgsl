// Gradient of L = mean((X W - Y)^2) / 2 over a batch: dL/dW = X^T (X W - Y) / batch, and the
// per-row partial losses. One invocation per element of W.
struct Problem { batch: u32, inputs: u32, outputs: u32 }
@group(0) @binding(0) var<uniform> problem: Problem;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;
@group(0) @binding(5) var<storage, read_write> loss: array<f32>;

fn residual(b: u32, o: u32) -> f32 {
  var prediction = 0.0;
  for (var i = 0u; i < problem.inputs; i++) { prediction += x[b * problem.inputs + i] * w[i * problem.outputs + o]; }
  return prediction - y[b * problem.outputs + o];
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let k = id.x;
  if (k >= problem.inputs * problem.outputs) { return; }
  let i = k / problem.outputs;
  let o = k % problem.outputs;
  var g = 0.0;
  var l = 0.0;
  for (var b = 0u; b < problem.batch; b++) {
    let r = residual(b, o);
    g += x[b * problem.inputs + i] * r;
    if (i == 0u) { l += r * r; }
  }
  grad[k] = g / f32(problem.batch);
  if (i == 0u) { loss[o] = l / (2.0 * f32(problem.batch)); }
}
