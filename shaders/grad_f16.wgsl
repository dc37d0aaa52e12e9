// Gradients stored as f16 (needs the shader-f16 feature), read into f32.

@group(0) @binding(1) var<storage, read> grad: array<f16>;

fn loadGrad4(i: u32, count: u32, stride: u32) -> vec4<f32> {
  var quad = vec4<f32>(0.0);
  for (var c = 0u; c < count; c = c + 1u) { quad[c] = f32(grad[i + c * stride]); }
  return quad;
}
