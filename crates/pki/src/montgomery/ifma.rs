//! Montgomery exponentiation with AVX-512 IFMA (`vpmadd52luq`/`vpmadd52huq`), for the CPUs
//! that have it; [`super::Montgomery`] falls back to its scalar FIOS product elsewhere, and
//! the tests hold the two to the same results.
//!
//! Values are held in 52-bit limbs, eight to a 512-bit vector, `L = 8·V` limbs with
//! `R = 2^(52·L) > 4n`. One product is an *almost* Montgomery multiplication (AMM): for
//! `a, b < 2n` it returns `a·b·R⁻¹ mod n` plus possibly `n`, so `< 2n`, and values stay in that
//! range between products; only the result of an exponentiation is reduced fully.
//!
//! One AMM is `L` rounds, one per limb `bᵢ` of `b`: the accumulator gains `a·bᵢ + m·n`, whose
//! lowest limb is then zero by the choice of `m`, and is shifted down by one limb. IFMA adds
//! the low and the high 52 bits of each 104-bit product separately; the high halves belong one
//! limb up, so they are added after the shift, at the same index. Lanes are never normalised
//! inside the loop: each lane gains at most four 52-bit halves per round and the carry out of
//! lane 0, so after `L ≤ 128` rounds it is below `2⁶¹`: no 64-bit lane can overflow.

use core::arch::x86_64::{
    __m512i, _mm_cvtsi128_si64, _mm512_alignr_epi64, _mm512_castsi512_si128, _mm512_loadu_si512, _mm512_madd52hi_epu64,
    _mm512_madd52lo_epu64, _mm512_mask_add_epi64, _mm512_set1_epi64, _mm512_setzero_si512, _mm512_storeu_si512,
};

use rsa::BigUint;
use zeroize::Zeroizing;

const MASK: u64 = (1 << 52) - 1;

/// The vector counts `V` with a compiled product: moduli of up to 8·52·V − 2 bits (2048-bit
/// keys take 5 vectors, 3072-bit 8, 4096-bit 10).
const MAX_VECTORS: usize = 16;

/// The constants of one odd modulus in 52-bit limbs.
#[derive(Clone)]
pub(super) struct Ifma {
    /// `n`, `L` limbs.
    n: Vec<u64>,
    /// `-n⁻¹ mod 2⁵²`.
    k0: u64,
    /// `R² mod n`.
    rr: Zeroizing<Vec<u64>>,
    /// 64-bit limbs of the scalar form (to convert back).
    limbs64: usize,
    n64: Vec<u64>,
}

impl Ifma {
    /// The constants of `n` (odd, more than one limb), or `None` when this CPU has no AVX-512
    /// IFMA or `n` is too large for the compiled products.
    pub(super) fn new(n: &BigUint, n64: &[u64], n0inv64: u64) -> Option<Ifma> {
        if !(std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512ifma")) {
            return None;
        }
        Ifma::new_unchecked(n, n64, n0inv64)
    }

    fn new_unchecked(n: &BigUint, n64: &[u64], n0inv64: u64) -> Option<Ifma> {
        // R > 4n: two bits of headroom above n.
        let limbs = (n.bits() + 2).div_ceil(52).next_multiple_of(8);
        if limbs / 8 > MAX_VECTORS {
            return None;
        }
        let rr = (BigUint::from(1u8) << (2 * 52 * limbs)) % n;
        Some(Ifma {
            n: to_52(n64, limbs),
            // -n⁻¹ mod 2⁶⁴ is -n⁻¹ mod 2⁵² too, masked.
            k0: n0inv64 & MASK,
            rr: Zeroizing::new(to_52(&super::to_limbs(&rr, n64.len() + 2), limbs)),
            limbs64: n64.len(),
            n64: n64.to_vec(),
        })
    }

    /// `m^e mod n` for `m < n` in 64-bit limbs, `e ≥ 1`.
    pub(super) fn pow(&self, m: &[u64], e: u64) -> Zeroizing<Vec<u64>> {
        let x = Zeroizing::new(to_52(m, self.n.len()));
        let acc = super::square_and_multiply(self.amm(&x, &self.rr), e, |a, b| self.amm(a, b));
        self.normal(&acc)
    }

    /// `m^e mod n` for `m < n` and an exponent of any length (64-bit limbs, little-endian),
    /// over a fixed 4-bit window.
    pub(super) fn pow_limbs(&self, m: &[u64], e: &[u64]) -> Zeroizing<Vec<u64>> {
        let x = Zeroizing::new(to_52(m, self.n.len()));
        let mut one = Zeroizing::new(vec![0u64; self.n.len()]);
        one[0] = 1;
        let acc = super::fixed_window(self.amm(&one, &self.rr), self.amm(&x, &self.rr), e, |a, b| self.amm(a, b));
        self.normal(&acc)
    }

    /// The normal form, fully reduced, of a Montgomery-form value `< 2n`, in 64-bit limbs.
    fn normal(&self, acc: &[u64]) -> Zeroizing<Vec<u64>> {
        let mut one = Zeroizing::new(vec![0u64; self.n.len()]);
        one[0] = 1;
        // (acc·1 + k·n)/R < n + 1: at most one subtraction of n left.
        let r = self.amm(acc, &one);
        let mut out = Zeroizing::new(from_52(&r, self.limbs64));
        if out.iter().rev().cmp(self.n64.iter().rev()) != std::cmp::Ordering::Less {
            let mut borrow = 0u64;
            for (o, &nj) in out.iter_mut().zip(&self.n64) {
                let (d1, b1) = o.overflowing_sub(nj);
                let (d2, b2) = d1.overflowing_sub(borrow);
                *o = d2;
                borrow = u64::from(b1 | b2);
            }
        }
        out
    }

    /// `a·b·R⁻¹ mod n`, possibly plus `n`, normalised to 52-bit limbs.
    fn amm(&self, a: &[u64], b: &[u64]) -> Zeroizing<Vec<u64>> {
        let mut out = Zeroizing::new(vec![0u64; self.n.len()]);
        macro_rules! dispatch {
            ($($v:literal)*) => {
                match self.n.len() / 8 {
                    // SAFETY: `Ifma::new` checked that the CPU has AVX-512F and IFMA (the tests
                    // build with `new_unchecked` only after the same check); every slice is
                    // `8·V` limbs long.
                    $($v => unsafe { amm::<$v>(&mut out, a, b, &self.n, self.k0) },)*
                    _ => unreachable!("Ifma::new refuses other sizes"),
                }
            };
        }
        dispatch!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
        // Lanes hold up to 61 bits: carry them up.
        let mut carry = 0u64;
        for limb in out.iter_mut() {
            let v = *limb + carry;
            *limb = v & MASK;
            carry = v >> 52;
        }
        debug_assert_eq!(carry, 0, "an AMM result is below 2n < R");
        out
    }
}

/// One AMM of `a` and `b` (normalised 52-bit limbs, `8·V` of them) modulo `n`, into `out`
/// (lanes not normalised).
///
/// # Safety
/// The CPU must support AVX-512F and AVX-512 IFMA, and every slice must hold `8·V` limbs.
#[target_feature(enable = "avx512f,avx512ifma")]
unsafe fn amm<const V: usize>(out: &mut [u64], a: &[u64], b: &[u64], n: &[u64], k0: u64) {
    assert!(out.len() == 8 * V && a.len() == 8 * V && b.len() == 8 * V && n.len() == 8 * V);
    let zero = _mm512_setzero_si512();
    let mut av = [zero; V];
    let mut nv = [zero; V];
    for k in 0..V {
        // SAFETY: 8 limbs from 8·k are in bounds (asserted above); unaligned loads.
        unsafe {
            av[k] = _mm512_loadu_si512(a[8 * k..].as_ptr().cast::<__m512i>());
            nv[k] = _mm512_loadu_si512(n[8 * k..].as_ptr().cast::<__m512i>());
        }
    }
    let n0 = n[0];
    let mut acc = [zero; V];
    for &bi in b {
        let bv = _mm512_set1_epi64(bi as i64);
        for k in 0..V {
            acc[k] = _mm512_madd52lo_epu64(acc[k], av[k], bv);
        }
        let low = _mm_cvtsi128_si64(_mm512_castsi512_si128(acc[0])) as u64;
        let m = low.wrapping_mul(k0) & MASK;
        let mv = _mm512_set1_epi64(m as i64);
        for k in 0..V {
            acc[k] = _mm512_madd52lo_epu64(acc[k], nv[k], mv);
        }
        // Lane 0 is now ≡ 0 mod 2⁵²; what is above goes one limb up.
        let carry = (low + (m.wrapping_mul(n0) & MASK)) >> 52;
        for k in 0..V - 1 {
            acc[k] = _mm512_alignr_epi64::<1>(acc[k + 1], acc[k]);
        }
        acc[V - 1] = _mm512_alignr_epi64::<1>(zero, acc[V - 1]);
        acc[0] = _mm512_mask_add_epi64(acc[0], 1, acc[0], _mm512_set1_epi64(carry as i64));
        for k in 0..V {
            acc[k] = _mm512_madd52hi_epu64(acc[k], av[k], bv);
            acc[k] = _mm512_madd52hi_epu64(acc[k], nv[k], mv);
        }
    }
    for k in 0..V {
        // SAFETY: as for the loads.
        unsafe { _mm512_storeu_si512(out[8 * k..].as_mut_ptr().cast::<__m512i>(), acc[k]) };
    }
}

/// 64-bit little-endian limbs → `limbs` 52-bit ones (the value must fit).
fn to_52(x: &[u64], limbs: usize) -> Vec<u64> {
    let mut out = vec![0u64; limbs];
    for (j, o) in out.iter_mut().enumerate() {
        let bit = 52 * j;
        let (word, shift) = (bit / 64, bit % 64);
        let lo = x.get(word).map_or(0, |w| w >> shift);
        let hi = if shift > 12 { x.get(word + 1).map_or(0, |w| w << (64 - shift)) } else { 0 };
        *o = (lo | hi) & MASK;
    }
    out
}

/// Normalised 52-bit limbs → `limbs` 64-bit ones (the value must fit).
fn from_52(x: &[u64], limbs: usize) -> Vec<u64> {
    let mut out = vec![0u64; limbs];
    for (j, &v) in x.iter().enumerate() {
        let bit = 52 * j;
        let (word, shift) = (bit / 64, bit % 64);
        if let Some(o) = out.get_mut(word) {
            *o |= v << shift;
        }
        if shift > 12
            && let Some(o) = out.get_mut(word + 1)
        {
            *o |= v >> (64 - shift);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::montgomery::{Montgomery, to_limbs};

    /// A deterministic stream of 64-bit words (xorshift), enough for test values.
    fn words(seed: u64, count: usize) -> Vec<u64> {
        let mut s = seed | 1;
        (0..count)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s
            })
            .collect()
    }

    fn from_words(w: &[u64]) -> BigUint {
        BigUint::from_bytes_le(&w.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>())
    }

    #[test]
    fn limbs_of_52_bits_round_trip() {
        for len in [1, 5, 32, 64] {
            let x = words(len as u64, len);
            let limbs = (64 * len).div_ceil(52);
            assert_eq!(from_52(&to_52(&x, limbs), len), x);
        }
    }

    /// `pow` is `modpow`, on this CPU's IFMA product, for moduli of every key size tcpc seals
    /// to and sizes between (odd, top bit set), with bases that exercise the edges (0, 1,
    /// n − 1, all-ones words) and the exponents OAEP and tests use.
    #[test]
    fn pow_is_modular_exponentiation() {
        if !(std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512ifma")) {
            eprintln!("this CPU has no AVX-512 IFMA: the scalar product serves, and this test has nothing to check");
            return;
        }
        for (i, bits) in [128usize, 1024, 2048, 2112, 3072, 4096, 6144].into_iter().enumerate() {
            let mut w = words(1000 + i as u64, bits / 64);
            w[0] |= 1;
            *w.last_mut().unwrap() |= 1 << 63;
            let n = from_words(&w);
            let scalar = Montgomery::new_scalar(&n);
            let ifma = Ifma::new_unchecked(&n, &scalar.n, scalar.n0inv).expect("a supported size");
            let len = scalar.limbs();
            let one = BigUint::from(1u8);
            let mut bases = vec![BigUint::from(0u8), one.clone(), &n - &one, &n >> 1usize];
            bases.push(((&one << (64 * len)) - &one) % &n);
            for s in 0..4 {
                bases.push(from_words(&words(7 * s + bits as u64, len)) % &n);
            }
            for m in &bases {
                for e in [1u64, 2, 3, 17, 65537, (1 << 33) - 1] {
                    let expected = m.modpow(&BigUint::from(e), &n);
                    let got = ifma.pow(&to_limbs(m, len), e);
                    assert_eq!(*got, to_limbs(&expected, len), "{bits}-bit modulus, e = {e}");
                }
                // Miller–Rabin's exponents: as long as the modulus.
                for e in [&n - &one, &n >> 1usize] {
                    let got = ifma.pow_limbs(&to_limbs(m, len), &to_limbs(&e, len));
                    assert_eq!(*got, to_limbs(&m.modpow(&e, &n), len), "{bits}-bit modulus, a long exponent");
                }
            }
        }
    }
}
