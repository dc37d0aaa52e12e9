// Gradients of a dense layer's parameters: dW[i, o] = sum_b x[b, i] dOut[b, o], and
// dBias[o] = sum_b dOut[b, o] (the row i = inputs, as if x had a column of ones).
// A 4 x 4 block of (i, o) per invocation.
struct Dense { batch: u32, inputs: u32, outputs: u32, relu: u32, weight: u32, bias: u32 }
@group(0) @binding(0) var<uniform> dense: Dense;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dOut: array<f32>;
@group(0) @binding(3) var<storage, read_write> grads: array<f32>;

fn inputAt(b: u32, i: u32) -> f32 {
  return select(select(0.0, 1.0, i == dense.inputs), x[b * dense.inputs + min(i, dense.inputs - 1u)], i < dense.inputs);
}
fn outputGradientAt(b: u32, o: u32) -> f32 {
  return select(0.0, dOut[b * dense.outputs + min(o, dense.outputs - 1u)], o < dense.outputs);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let blocksAcross = (dense.outputs + 3u) / 4u;
  let i0 = (id.x / blocksAcross) * 4u;
  let o0 = (id.x % blocksAcross) * 4u;
  if (i0 > dense.inputs) { return; }
  var sums: array<vec4<f32>, 4>;
  for (var b = 0u; b < dense.batch; b++) {
    let g = vec4<f32>(outputGradientAt(b, o0), outputGradientAt(b, o0 + 1u), outputGradientAt(b, o0 + 2u), outputGradientAt(b, o0 + 3u));
    for (var r = 0u; r < 4u; r++) { sums[r] += inputAt(b, i0 + r) * g; }
  }
  for (var r = 0u; r < 4u; r++) {
    for (var c = 0u; c < 4u; c++) {
      let i = i0 + r;
      let o = o0 + c;
      if (i < dense.inputs && o < dense.outputs) { grads[dense.weight + i * dense.outputs + o] = sums[r][c]; }
      if (i == dense.inputs && o < dense.outputs) { grads[dense.bias + o] = sums[r][c]; }
    }
  }
}
