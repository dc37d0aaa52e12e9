// f16 for momentum_packed.wgsl (bits only: no shader-f16 feature needed).
const MOMENTUM_EXPONENT = F16_EXPONENT;
fn momentumValue(bits: u32) -> f32 { return f16Value(bits); }
fn momentumNearest(x: f32) -> u32 { return f16Nearest(x); }
