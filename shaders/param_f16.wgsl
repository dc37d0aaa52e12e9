// Parameters stored as f16 (needs the shader-f16 feature); all arithmetic stays f32. Writes
// round to the nearest f16, or with stochasticRounding round up or down with the probabilities
// that make the stored value's expectation the f32 value, using a hash of the step and the
// element, so that runs repeat bit for bit.

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

// The PCG hash (Jarzynski and Olano, 2020).
fn pcgHash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// A uniform number in [0, 1) from a seed and an index: the same inputs, the same number.
fn uniformRandom(seed: u32, index: u32) -> f32 {
  return f32(pcgHash(pcgHash(seed) ^ index) >> 8u) / 16777216.0;
}

// Stochastic rounding works on f16 bits, and decodes them by hand: some adapters keep f16
// values in f32 registers until they are stored, and fold unpack2x16float(pack2x16float(x))
// back into x, skipping the rounding.
fn f16Bits(x: f32) -> u32 { return pack2x16float(vec2<f32>(x, 0.0)) & 0xffffu; }

fn f16Value(bits: u32) -> f32 {
  let sign = select(1.0, -1.0, (bits & 0x8000u) != 0u);
  let exponent = i32((bits >> 10u) & 0x1fu);
  let mantissa = f32(bits & 0x3ffu);
  if (exponent == 0) { return sign * ldexp(mantissa, -24); }
  return sign * ldexp(1024.0 + mantissa, exponent - 25);
}

// The f16 next to `bits` towards +infinity (up) or -infinity (down).
fn f16Neighbour(bits: u32, up: bool) -> u32 {
  if (bits == 0u || bits == 0x8000u) { return select(0x8001u, 0x0001u, up); } // from either zero to the smallest denormal
  if ((bits < 0x8000u) == up) { return bits + 1u; }                           // away from zero
  return bits - 1u;                                                            // towards zero
}

fn stochasticF16(x: f32, random: f32) -> f16 {
  let bits = f16Bits(x);
  var chosen = bits;
  if (f16Value(bits) != x && (bits & 0x7c00u) != 0x7c00u) {  // not exact, nor out of f16 range
    var low = bits;
    var high = bits;
    if (f16Value(bits) < x) { high = f16Neighbour(bits, true); } else { low = f16Neighbour(bits, false); }
    let p = (x - f16Value(low)) / (f16Value(high) - f16Value(low));
    chosen = select(low, high, random < p);
  }
  return bitcast<vec2<f16>>(chosen).x;
}
