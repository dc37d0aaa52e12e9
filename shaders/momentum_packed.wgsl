// The first moment M kept in 16 bits (momentumDtype 'bf16' or 'f16'; the format's functions
// momentumValue, momentumNearest and MOMENTUM_EXPONENT come from momentum_bf16.wgsl or
// momentum_f16.wgsl), two elements to a u32 word, element 2k in the low half (a little-endian
// 16-bit array to the host). Neighbouring elements may belong to different invocations, so each
// writes its own half with two atomics, one that clears it and one that sets it, which leave the
// other half alone. Stores round to nearest, or stochastically with stochasticRounding.

@group(0) @binding(6) var<storage, read_write> momentum: array<atomic<u32>>;

// Momentum draws its random numbers from a stream of its own, apart from the parameters'.
const MOMENTUM_STREAM = 0x80000000u;

// Up to four elements `stride` apart from element i of the binding (zero beyond `count`): a whole
// quad from an even element is two words.
fn loadMomentum4(i: u32, count: u32, stride: u32) -> vec4<f32> {
  if (wholeWords(i, count, stride)) {
    let low = atomicLoad(&momentum[i >> 1u]);
    let high = atomicLoad(&momentum[(i >> 1u) + 1u]);
    return vec4<f32>(momentumValue(low & 0xffffu), momentumValue(low >> 16u),
                     momentumValue(high & 0xffffu), momentumValue(high >> 16u));
  }
  var quad = vec4<f32>(0.0);
  for (var c = 0u; c < count; c = c + 1u) {
    let e = i + c * stride;
    quad[c] = momentumValue((atomicLoad(&momentum[e >> 1u]) >> (16u * (e & 1u))) & 0xffffu);
  }
  return quad;
}

// Stores values of the format (roundMomentumAt's) at up to four elements `stride` apart from
// element i: a whole quad from an even element as two words, which no other invocation shares;
// otherwise each half alone.
fn storeMomentum4(i: u32, values: vec4<f32>, count: u32, stride: u32) {
  if (wholeWords(i, count, stride)) {
    atomicStore(&momentum[i >> 1u], momentumNearest(values.x) | (momentumNearest(values.y) << 16u));
    atomicStore(&momentum[(i >> 1u) + 1u], momentumNearest(values.z) | (momentumNearest(values.w) << 16u));
    return;
  }
  for (var c = 0u; c < count; c = c + 1u) {
    let e = i + c * stride;
    let shift = 16u * (e & 1u);
    atomicAnd(&momentum[e >> 1u], ~(0xffffu << shift));
    atomicOr(&momentum[e >> 1u], momentumNearest(values[c]) << shift);
  }
}

// Whether four consecutive elements from i are two whole words.
fn wholeWords(i: u32, count: u32, stride: u32) -> bool { return count == 4u && stride == 1u && (i & 1u) == 0u; }

// What storing `value` at element i keeps: rounded to nearest, or stochastically (from a hash of
// the step's seed and the element, so that every pass that asks gets the same answer).
fn roundMomentumAt(i: u32, value: f32) -> f32 {
  var bits = momentumNearest(value);
  if (roundingSeed != NO_STOCHASTIC_ROUNDING) {
    let random = uniformRandom(roundingSeed ^ MOMENTUM_STREAM, i + window.momentumBase);
    bits = stochasticHalf(value, bits, random, MOMENTUM_EXPONENT);
  }
  return momentumValue(bits);
}

// x rounded to the nearest value of the stored format.
fn roundMomentum(x: f32) -> f32 { return momentumValue(momentumNearest(x)); }
