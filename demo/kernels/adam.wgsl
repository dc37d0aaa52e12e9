// Fused Adam (Kingma & Ba) over a whole parameter buffer, the baseline beside Adafactor:
//   m = beta1 m + (1 - beta1) g,  v = beta2 v + (1 - beta2) g^2,
//   x -= lr_t m / (sqrt(v) + eps_t),  with bias corrections folded into lr_t and eps_t.
// Each invocation handles four consecutive elements.
struct Adam { count: u32, beta1: f32, beta2: f32, stepSize: f32, epsilon: f32 }
@group(0) @binding(0) var<uniform> adam: Adam;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let first = (id.x + id.y * groups.x * 256u) * 4u;
  for (var k = first; k < min(first + 4u, adam.count); k++) {
    let g = grads[k];
    let mk = adam.beta1 * m[k] + (1.0 - adam.beta1) * g;
    let vk = adam.beta2 * v[k] + (1.0 - adam.beta2) * g * g;
    m[k] = mk;
    v[k] = vk;
    params[k] -= adam.stepSize * mk / (sqrt(vk) + adam.epsilon);
  }
}
