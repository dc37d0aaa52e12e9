// Parameters bound as quads of f32 (vec4) for a group whose every tensor starts on a multiple of
// four elements and whose columns (or vectors) are the last dim and a multiple of four long:
// then every quad the kernels take is four consecutive elements from a multiple of four, `count`
// is 4 and `stride` 1 wherever a quad is taken, and each load or store is one vec4 with no
// per-element test (which CPU adapters would pay for on every element). See param_f32x4.wgsl.

@group(0) @binding(0) var<storage, read_write> param: array<vec4<f32>>;

fn loadParam4(i: u32, count: u32, stride: u32) -> vec4<f32> { return param[i >> 2u]; }

fn storeParam4(i: u32, value: vec4<f32>, count: u32, stride: u32) { param[i >> 2u] = value; }
