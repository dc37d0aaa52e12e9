// 16-bit floats as bits in a u32, for f16 parameters (param_f16.wgsl) and a 16-bit first moment
// (momentum_*.wgsl): f16 (IEEE binary16) and bf16 (the top half of an f32), which WGSL has no
// type for. Rounding to nearest is done on the bits, ties to even, as torch's and JAX's casts
// round, whatever the adapter's own conversion does; stochastic rounding draws from a hash of the
// step and the element, so that runs repeat bit for bit.

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

// f16 bits decoded by hand: some adapters keep f16 values in f32 registers until they are stored,
// and fold unpack2x16float(pack2x16float(x)) back into x, skipping the rounding.
fn f16Value(bits: u32) -> f32 {
  let sign = select(1.0, -1.0, (bits & 0x8000u) != 0u);
  let exponent = i32((bits >> 10u) & 0x1fu);
  let mantissa = f32(bits & 0x3ffu);
  if (exponent == 0) { return sign * ldexp(mantissa, -24); }
  if (exponent == 31) { return bitcast<f32>(select(0x7f800000u, 0x7fc00000u, mantissa != 0.0) | ((bits & 0x8000u) << 16u)); }
  return sign * ldexp(1024.0 + mantissa, exponent - 25);
}

// The f16 bits nearest to x, ties to even; past the largest f16, an infinity.
fn f16Nearest(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  let sign = (b >> 16u) & 0x8000u;
  let exponent = i32((b >> 23u) & 0xffu);
  var mantissa = b & 0x7fffffu;
  if (exponent == 255) { return sign | 0x7c00u | select(0u, 0x200u, mantissa != 0u); }  // infinity or NaN
  let e = exponent - 112;                                                                  // the f16 exponent
  if (e >= 31) { return sign | 0x7c00u; }
  if (e <= 0) {
    if (e < -10) { return sign; }
    mantissa = mantissa | 0x800000u;
    let shift = u32(14 - e);
    let rest = mantissa & ((1u << shift) - 1u);
    let half = 1u << (shift - 1u);
    let kept = mantissa >> shift;
    return sign | (kept + select(0u, 1u, rest > half || (rest == half && (kept & 1u) == 1u)));
  }
  let rest = mantissa & 0x1fffu;
  let kept = (u32(e) << 10u) | (mantissa >> 13u);
  return sign | (kept + select(0u, 1u, rest > 0x1000u || (rest == 0x1000u && (kept & 1u) == 1u)));
}

fn bf16Value(bits: u32) -> f32 { return bitcast<f32>(bits << 16u); }

// The bf16 bits nearest to x, ties to even; NaN stays a (quiet) NaN.
fn bf16Nearest(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  if ((b & 0x7fffffffu) > 0x7f800000u) { return (b >> 16u) | 0x40u; }
  return ((b + 0x7fffu + ((b >> 16u) & 1u)) >> 16u) & 0xffffu;
}

// The 16-bit float next to `bits` towards +infinity (up) or -infinity (down), for both formats.
fn halfNeighbour(bits: u32, up: bool) -> u32 {
  if (bits == 0u || bits == 0x8000u) { return select(0x8001u, 0x0001u, up); } // from either zero to the smallest denormal
  if ((bits < 0x8000u) == up) { return bits + 1u; }                           // away from zero
  return bits - 1u;                                                            // towards zero
}

// The exponent fields of the two formats, all ones for an infinity or a NaN.
const F16_EXPONENT = 0x7c00u;
const BF16_EXPONENT = 0x7f80u;

// The value of 16-bit float bits of the format whose exponent field is `exponent`.
fn halfValue(bits: u32, exponent: u32) -> f32 {
  return select(f16Value(bits), bf16Value(bits), exponent == BF16_EXPONENT);
}

// Unbiased stochastic rounding: the 16-bit value below or above x (`nearest`, the bits nearest to
// x in the format whose exponent field is `exponent`, is one of them), with the probabilities that
// make the expectation x; `nearest` itself where x is exact, infinite or NaN.
fn stochasticHalf(x: f32, nearest: u32, random: f32, exponent: u32) -> u32 {
  let value = halfValue(nearest, exponent);
  if (value == x || (nearest & exponent) == exponent) { return nearest; }
  var low = nearest;
  var high = nearest;
  if (value < x) { high = halfNeighbour(nearest, true); } else { low = halfNeighbour(nearest, false); }
  let p = (x - halfValue(low, exponent)) / (halfValue(high, exponent) - halfValue(low, exponent));
  return select(low, high, random < p);
}
