// The first moment M kept as f32 (momentumDtype 'f32'): binding 6, and the functions apply's
// momentumStep uses. Each momentum_*.wgsl view declares the same binding and functions.

@group(0) @binding(6) var<storage, read_write> momentum: array<f32>;

fn loadMomentum(i: u32) -> f32 { return momentum[i]; }

// Stores a value of the format (roundMomentumAt's) at element i of the binding.
fn storeMomentum(i: u32, value: f32) { momentum[i] = value; }

// What storing `value` at element i keeps: the value itself in f32.
fn roundMomentumAt(i: u32, value: f32) -> f32 { return value; }

// x rounded to the stored format: nothing to do in f32.
fn roundMomentum(x: f32) -> f32 { return x; }
