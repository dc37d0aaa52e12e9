// The first moment M kept as f32 (momentumDtype 'f32'): binding 6, and the functions apply's
// momentumStep uses (loadMomentum4, storeMomentum4, roundMomentumAt, roundMomentum). Each momentum_*.wgsl view declares the same binding and functions.

@group(0) @binding(6) var<storage, read_write> momentum: array<f32>;

// Up to four elements `stride` apart from element i of the binding (zero beyond `count`).
fn loadMomentum4(i: u32, count: u32, stride: u32) -> vec4<f32> {
  var quad = vec4<f32>(0.0);
  for (var c = 0u; c < count; c = c + 1u) { quad[c] = momentum[i + c * stride]; }
  return quad;
}

// Stores values of the format (roundMomentumAt's) at up to four elements `stride` apart from element i.
fn storeMomentum4(i: u32, values: vec4<f32>, count: u32, stride: u32) {
  for (var c = 0u; c < count; c = c + 1u) { momentum[i + c * stride] = values[c]; }
}

// What storing `value` at element i keeps: the value itself in f32.
fn roundMomentumAt(i: u32, value: f32) -> f32 { return value; }

// x rounded to the stored format: nothing to do in f32.
fn roundMomentum(x: f32) -> f32 { return x; }
