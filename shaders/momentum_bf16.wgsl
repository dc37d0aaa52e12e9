// bf16 for momentum_packed.wgsl.
const MOMENTUM_EXPONENT = 0x7f80u;
fn momentumValue(bits: u32) -> f32 { return bf16Value(bits); }
fn momentumNearest(x: f32) -> u32 { return bf16Nearest(x); }
