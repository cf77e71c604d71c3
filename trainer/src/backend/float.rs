//! The scalar the CPU backend computes in: f32 for training, f64 for gradient checks.

use std::fmt::Debug;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

pub trait Float:
    Copy
    + Send
    + Sync
    + Default
    + Debug
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + Sum
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    const NEG_INFINITY: Self;
    /// Name for messages and checkpoint headers.
    const NAME: &'static str;
    /// Bytes of one value on the wire (little-endian).
    const BYTES: usize;

    fn write_le(self, out: &mut Vec<u8>);
    fn read_le(bytes: &[u8]) -> Self;

    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    fn exp(self) -> Self;
    /// `exp` for the softmax's inner loop: a polynomial that the compiler vectorises, within
    /// 2 ulp of `exp` for f32 (tested); the exact `exp` for f64.
    fn exp_fast(self) -> Self {
        self.exp()
    }
    /// `tanh` for GELU's inner loop: from [`Float::exp_fast`] for f32 (within 2e-7 of `tanh`,
    /// tested), the exact `tanh` for f64.
    fn tanh_fast(self) -> Self {
        self.tanh()
    }
    fn ln(self) -> Self;
    fn sqrt(self) -> Self;
    fn tanh(self) -> Self;
    fn max(self, other: Self) -> Self;
    /// Rounds to the nearest bf16 value (round half to even), as the GPU stores activations
    /// and weights in mixed precision. Identity for f64: gradient checks stay exact.
    fn round_bf16(self) -> Self;

    /// `C = alpha·A·B + beta·C` with explicit row and column strides (matrixmultiply's
    /// convention: `rs*` is the step between rows, `cs*` between columns).
    ///
    /// # Safety
    /// Every index the strides reach inside the `m×k`, `k×n` and `m×n` shapes must be in
    /// bounds of the pointed-to buffers, and `c` must not alias `a` or `b`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
}

impl Float for f32 {
    const ZERO: f32 = 0.0;
    const ONE: f32 = 1.0;
    const NEG_INFINITY: f32 = f32::NEG_INFINITY;
    const NAME: &'static str = "f32";
    const BYTES: usize = 4;

    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn read_le(bytes: &[u8]) -> f32 {
        f32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"))
    }

    #[inline]
    fn from_f64(x: f64) -> f32 {
        x as f32
    }
    #[inline]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn exp(self) -> f32 {
        f32::exp(self)
    }
    #[inline]
    fn exp_fast(self) -> f32 {
        exp_f32(self)
    }
    #[inline]
    fn tanh_fast(self) -> f32 {
        // 1 − 2 / (e^{2x} + 1): exact at both ends, absolute error about one ulp of 1.
        1.0 - 2.0 / (exp_f32(2.0 * self) + 1.0)
    }
    #[inline]
    fn ln(self) -> f32 {
        f32::ln(self)
    }
    #[inline]
    fn sqrt(self) -> f32 {
        f32::sqrt(self)
    }
    #[inline]
    fn tanh(self) -> f32 {
        f32::tanh(self)
    }
    #[inline]
    fn max(self, other: f32) -> f32 {
        f32::max(self, other)
    }
    #[inline]
    fn round_bf16(self) -> f32 {
        half::bf16::from_f32(self).to_f32()
    }
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: f32,
        a: *const f32,
        rsa: isize,
        csa: isize,
        b: *const f32,
        rsb: isize,
        csb: isize,
        beta: f32,
        c: *mut f32,
        rsc: isize,
        csc: isize,
    ) {
        matrixmultiply::sgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
    }
}

impl Float for f64 {
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
    const NEG_INFINITY: f64 = f64::NEG_INFINITY;
    const NAME: &'static str = "f64";
    const BYTES: usize = 8;

    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn read_le(bytes: &[u8]) -> f64 {
        f64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"))
    }

    #[inline]
    fn from_f64(x: f64) -> f64 {
        x
    }
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline]
    fn exp(self) -> f64 {
        f64::exp(self)
    }
    #[inline]
    fn ln(self) -> f64 {
        f64::ln(self)
    }
    #[inline]
    fn sqrt(self) -> f64 {
        f64::sqrt(self)
    }
    #[inline]
    fn tanh(self) -> f64 {
        f64::tanh(self)
    }
    #[inline]
    fn max(self, other: f64) -> f64 {
        f64::max(self, other)
    }
    #[inline]
    fn round_bf16(self) -> f64 {
        self
    }
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: f64,
        a: *const f64,
        rsa: isize,
        csa: isize,
        b: *const f64,
        rsb: isize,
        csb: isize,
        beta: f64,
        c: *mut f64,
        rsc: isize,
        csc: isize,
    ) {
        matrixmultiply::dgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
    }
}

/// e^x for f32 by range reduction (x = k·ln2 + r, |r| ≤ ln2/2) and a degree-7 Taylor
/// polynomial for e^r, scaled by 2^k through the exponent bits. Branch-free apart from the
/// clamps, so loops over it vectorise.
#[inline]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Round to nearest by adding and removing 1.5·2²³.
    const SHIFT: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let k = (x * LOG2E + SHIFT) - SHIFT;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    p * f32::from_bits(((k as i32 + 127) as u32) << 23)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_is_within_two_ulp() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let (got, want) = (exp_f32(x) as f64, (x as f64).exp());
            let ulp = (want as f32).abs() as f64 * f32::EPSILON as f64;
            worst = worst.max((got - want).abs() / ulp);
            x += 0.0137;
        }
        assert!(worst <= 2.0, "worst error {worst} ulp");
        let mut x = -12.0f32;
        while x < 12.0 {
            let err = (x.tanh_fast() as f64 - (x as f64).tanh()).abs();
            assert!(err < 2e-7, "tanh({x}): error {err}");
            x += 0.0071;
        }
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(-1e30), exp_f32(-87.0));
    }
}
