// Parameters stored as f16 (needs the shader-f16 feature); all arithmetic stays f32. Writes
// round to the nearest f16, or with stochasticRounding round up or down with the probabilities
// that make the stored value's expectation the f32 value (half.wgsl's hash of the step and the
// element).

@group(0) @binding(0) var<storage, read_write> param: array<f16>;

fn loadParam4(i: u32, count: u32, stride: u32) -> vec4<f32> {
  var quad = vec4<f32>(0.0);
  for (var c = 0u; c < count; c = c + 1u) { quad[c] = f32(param[i + c * stride]); }
  return quad;
}

fn storeParam4(i: u32, value: vec4<f32>, count: u32, stride: u32) {
  for (var c = 0u; c < count; c = c + 1u) {
    if (roundingSeed == NO_STOCHASTIC_ROUNDING) {
      param[i + c * stride] = f16(value[c]);
    } else {
      param[i + c * stride] = stochasticF16(value[c], uniformRandom(roundingSeed, i + c * stride + window.paramBase));
    }
  }
}

// Stochastic rounding works on f16 bits (half.wgsl): the adapter's own f16 conversion only
// finds the nearest value, whose neighbour on the other side of x is the other choice.
fn f16Bits(x: f32) -> u32 { return pack2x16float(vec2<f32>(x, 0.0)) & 0xffffu; }

fn stochasticF16(x: f32, random: f32) -> f16 {
  return bitcast<vec2<f16>>(stochasticHalf(x, f16Bits(x), random, F16_EXPONENT)).x;
}
