/**
 * IEEE special values in WGSL, with PyTorch's results where WGSL leaves them undefined. WGSL lets a compiler
 * assume there are no NaNs or infinities (so `x != x` may be folded to false, min/max and comparisons may
 * drop a NaN, and exp/log of out-of-range arguments are undefined), and the software adapters do differ. So
 * these helpers test the bit patterns as integers, which no float optimisation touches, and special-case the
 * arguments whose result WGSL does not define. Include `IEEE_WGSL` once in a kernel's body.
 */
export const IEEE_WGSL = `fn isNanF(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn isInfF(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }
// A float from its bits: a function argument is a run-time value, and a constant NaN or infinity fails validation.
fn bitsF32(b: u32) -> f32 { return bitcast<f32>(b); }
fn nanF() -> f32 { return bitsF32(0x7fc00000u); }
fn infF() -> f32 { return bitsF32(0x7f800000u); }
// max(x, 0) that keeps NaN (WGSL's max may return either operand for a NaN): zero for negative non-NaN bits.
fn reluF(x: f32) -> f32 {
  let b = bitcast<u32>(x);
  return select(x, 0.0, b > 0x80000000u && b <= 0xff800000u);
}
// log: -inf at +-0, NaN below 0 and for NaN, +inf at +inf.
fn logF(x: f32) -> f32 {
  let b = bitcast<u32>(x);
  if ((b & 0x7fffffffu) == 0u) { return -infF(); }
  if (b > 0x80000000u || b > 0x7f800000u) { return nanF(); }
  if (b == 0x7f800000u) { return x; }
  return log(x);
}
// exp: +inf past the largest finite result, 0 below the smallest (and at -inf), NaN for NaN.
fn expF(x: f32) -> f32 {
  if (isNanF(x)) { return x; }
  if (x > 88.72283) { return infF(); }
  if (x < -103.972) { return 0.0; }
  return exp(x);
}`;
