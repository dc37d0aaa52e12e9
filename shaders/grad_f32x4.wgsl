// Gradients bound as quads of f32 (vec4), when the binding's size is a multiple of 16 bytes.
// Every grad_*.wgsl declares binding 1 and loadGrad4 (see param_f32x4.wgsl for `count`).

@group(0) @binding(1) var<storage, read> grad: array<vec4<f32>>;

fn loadGrad4(i: u32, count: u32, stride: u32) -> vec4<f32> {
  if (stride == 1u && (i & 3u) == 0u && count == 4u) { return grad[i >> 2u]; }
  var quad = vec4<f32>(0.0);
  for (var c = 0u; c < count; c = c + 1u) { quad[c] = grad[(i + c * stride) >> 2u][(i + c * stride) & 3u]; }
  return quad;
}
