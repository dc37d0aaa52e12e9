// Parameters bound as single f32: the interface of param_f32x4.wgsl for a binding whose size is
// not a multiple of 16 bytes (a buffer that ends inside a quad).

@group(0) @binding(0) var<storage, read_write> param: array<f32>;

fn loadParam4(i: u32, count: u32, stride: u32) -> vec4<f32> {
  var quad = vec4<f32>(0.0);
  for (var c = 0u; c < count; c = c + 1u) { quad[c] = param[i + c * stride]; }
  return quad;
}

fn storeParam4(i: u32, value: vec4<f32>, count: u32, stride: u32) {
  for (var c = 0u; c < count; c = c + 1u) { param[i + c * stride] = value[c]; }
}
