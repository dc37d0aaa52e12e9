// A dense layer: out[b, o] = act(sum_i x[b, i] W[i, o] + bias[o]), act = ReLU or identity.
// W and bias live in the model's parameter buffer at the given element offsets. Each invocation
// computes a 4 x 4 block of outputs, so every value it loads is used four times.
struct Dense { batch: u32, inputs: u32, outputs: u32, relu: u32, weight: u32, bias: u32 }
@group(0) @binding(0) var<uniform> dense: Dense;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn inputAt(b: u32, i: u32) -> f32 {
  return select(0.0, x[min(b, dense.batch - 1u) * dense.inputs + i], b < dense.batch);
}
fn weightAt(i: u32, o: u32) -> f32 {
  return select(0.0, params[dense.weight + i * dense.outputs + min(o, dense.outputs - 1u)], o < dense.outputs);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let blocksAcross = (dense.outputs + 3u) / 4u;
  let b0 = (id.x / blocksAcross) * 4u;
  let o0 = (id.x % blocksAcross) * 4u;
  if (b0 >= dense.batch) { return; }
  var sums: array<vec4<f32>, 4>;
  for (var i = 0u; i < dense.inputs; i++) {
    let w = vec4<f32>(weightAt(i, o0), weightAt(i, o0 + 1u), weightAt(i, o0 + 2u), weightAt(i, o0 + 3u));
    for (var r = 0u; r < 4u; r++) { sums[r] += inputAt(b0 + r, i) * w; }
  }
  for (var r = 0u; r < 4u; r++) {
    for (var c = 0u; c < 4u; c++) {
      let b = b0 + r;
      let o = o0 + c;
      if (b < dense.batch && o < dense.outputs) {
        let z = sums[r][c] + params[dense.bias + o];
        out[b * dense.outputs + o] = select(z, max(z, 0.0), dense.relu == 1u);
      }
    }
  }
}
