// Gradients bound as single f32, for a binding whose size is not a multiple of 16 bytes.

@group(0) @binding(1) var<storage, read> grad: array<f32>;

fn loadGrad4(i: u32, count: u32, stride: u32) -> vec4<f32> {
  var quad = vec4<f32>(0.0);
  for (var c = 0u; c < count; c = c + 1u) { quad[c] = grad[i + c * stride]; }
  return quad;
}
