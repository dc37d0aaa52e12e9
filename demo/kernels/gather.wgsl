// Copies the minibatch's rows out of the whole image: inputs (Fourier features) and targets (RGB).
struct Batch { size: u32, features: u32 }
@group(0) @binding(0) var<uniform> batch: Batch;
@group(0) @binding(1) var<storage, read> pixels: array<u32>;
@group(0) @binding(2) var<storage, read> allFeatures: array<f32>;
@group(0) @binding(3) var<storage, read> allTargets: array<f32>;
@group(0) @binding(4) var<storage, read_write> features: array<f32>;
@group(0) @binding(5) var<storage, read_write> targets: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let b = id.x;
  if (b >= batch.size) { return; }
  let p = pixels[b];
  for (var f = 0u; f < batch.features; f++) { features[b * batch.features + f] = allFeatures[p * batch.features + f]; }
  for (var c = 0u; c < 3u; c++) { targets[b * 3u + c] = allTargets[p * 3u + c]; }
}
