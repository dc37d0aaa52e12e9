// Gradient with respect to a dense layer's input x = ReLU(z) of the layer below:
// dz[b, i] = (sum_o dOut[b, o] W[i, o]) * (x[b, i] > 0). A 4 x 4 block per invocation.
struct Dense { batch: u32, inputs: u32, outputs: u32, relu: u32, weight: u32, bias: u32 }
@group(0) @binding(0) var<uniform> dense: Dense;
@group(0) @binding(1) var<storage, read> dOut: array<f32>;
@group(0) @binding(2) var<storage, read> params: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> dIn: array<f32>;

fn outputGradientAt(b: u32, o: u32) -> f32 {
  return select(0.0, dOut[min(b, dense.batch - 1u) * dense.outputs + o], b < dense.batch);
}
fn weightAt(i: u32, o: u32) -> f32 {
  return select(0.0, params[dense.weight + min(i, dense.inputs - 1u) * dense.outputs + o], i < dense.inputs);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let blocksAcross = (dense.inputs + 3u) / 4u;
  let b0 = (id.x / blocksAcross) * 4u;
  let i0 = (id.x % blocksAcross) * 4u;
  if (b0 >= dense.batch) { return; }
  var sums: array<vec4<f32>, 4>;
  for (var o = 0u; o < dense.outputs; o++) {
    let w = vec4<f32>(weightAt(i0, o), weightAt(i0 + 1u, o), weightAt(i0 + 2u, o), weightAt(i0 + 3u, o));
    for (var r = 0u; r < 4u; r++) { sums[r] += outputGradientAt(b0 + r, o) * w; }
  }
  for (var r = 0u; r < 4u; r++) {
    for (var c = 0u; c < 4u; c++) {
      let k = (b0 + r) * dense.inputs + i0 + c;
      if (b0 + r < dense.batch && i0 + c < dense.inputs) { dIn[k] = select(0.0, sums[r][c], x[k] > 0.0); }
    }
  }
}
