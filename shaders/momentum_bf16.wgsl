// bf16 for momentum_packed.wgsl.
const MOMENTUM_EXPONENT = BF16_EXPONENT;
fn momentumValue(bits: u32) -> f32 { return bf16Value(bits); }
fn momentumNearest(x: f32) -> u32 { return bf16Nearest(x); }
