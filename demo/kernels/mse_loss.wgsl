// Mean squared error over the batch and its gradient: L = mean((y - t)^2), dL/dy = 2 (y - t) / n.
// One workgroup; the loss goes to loss[0] through a fixed-order tree reduction.
struct Loss { count: u32 }
@group(0) @binding(0) var<uniform> sizes: Loss;
@group(0) @binding(1) var<storage, read> prediction: array<f32>;
@group(0) @binding(2) var<storage, read> expected: array<f32>;
@group(0) @binding(3) var<storage, read_write> dPrediction: array<f32>;
@group(0) @binding(4) var<storage, read_write> loss: array<f32>;

var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  let n = f32(sizes.count);
  var sum = 0.0;
  for (var k = lid; k < sizes.count; k += 256u) {
    let error = prediction[k] - expected[k];
    dPrediction[k] = 2.0 * error / n;
    sum += error * error;
  }
  partial[lid] = sum;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride /= 2u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) { loss[0] = partial[0] / n; }
}
