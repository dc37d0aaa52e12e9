// Parameters bound as quads of f32 (vec4): a quad that starts on a multiple of four moves as
// one load or store. Used when the binding's size is a multiple of 16 bytes. Every param_*.wgsl
// declares binding 0 and these functions. Indices are elements of the window's binding;
// `count` (1 to 4) says how many of the quad's elements belong to the tensor: the rest read as
// zero and are never written. The quad's elements are `stride` apart (1 but when the factored
// columns are not the last dim).

@group(0) @binding(0) var<storage, read_write> param: array<vec4<f32>>;

fn loadParam4(i: u32, count: u32, stride: u32) -> vec4<f32> {
  if (stride == 1u && (i & 3u) == 0u && count == 4u) { return param[i >> 2u]; }
  var quad = vec4<f32>(0.0);
  for (var c = 0u; c < count; c = c + 1u) { quad[c] = param[(i + c * stride) >> 2u][(i + c * stride) & 3u]; }
  return quad;
}

fn storeParam4(i: u32, value: vec4<f32>, count: u32, stride: u32) {
  if (stride == 1u && (i & 3u) == 0u && count == 4u) {
    param[i >> 2u] = value;
    return;
  }
  for (var c = 0u; c < count; c = c + 1u) { param[(i + c * stride) >> 2u][(i + c * stride) & 3u] = value[c]; }
}
