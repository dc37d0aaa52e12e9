// Gradients bound as quads of f32 (vec4) for a group whose quads are all whole and aligned:
// one vec4 per load with no per-element test (see param_quads.wgsl).

@group(0) @binding(1) var<storage, read> grad: array<vec4<f32>>;

fn loadGrad4(i: u32, count: u32, stride: u32) -> vec4<f32> { return grad[i >> 2u]; }
