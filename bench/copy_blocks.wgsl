// A second yardstick: the same copy with each invocation taking four consecutive vec4s at a time,
// BLOCKS times, in workgroups of 8. Adapters that run invocations in software (SwiftShader) copy
// faster this way than with copy.wgsl's one vec4 per invocation; the benchmark reports both.
const WORKGROUP_SIZE = 8u;
const BLOCKS = 64u;
const PER_WORKGROUP = WORKGROUP_SIZE * 4u * BLOCKS;

@group(0) @binding(0) var<storage, read> source: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> destination: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let first = (id.x + id.y * groups.x) * PER_WORKGROUP + lid * 4u;
  let count = arrayLength(&destination);
  for (var run = 0u; run < BLOCKS; run = run + 1u) {
    let i = first + run * WORKGROUP_SIZE * 4u;
    if (i + 3u < count) {
      destination[i] = source[i];
      destination[i + 1u] = source[i + 1u];
      destination[i + 2u] = source[i + 2u];
      destination[i + 3u] = source[i + 3u];
    } else {
      for (var k = i; k < count; k = k + 1u) { destination[k] = source[k]; }
    }
  }
}
