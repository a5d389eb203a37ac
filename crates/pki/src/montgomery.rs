//! Arithmetic modulo an odd number in Montgomery form, over little-endian 64-bit limbs of a
//! fixed count: `R = 2^(64·limbs)`, a value `x` is held as `x·R mod n`.
//!
//! Used where general big-integer code costs most: Miller–Rabin rounds of the RSA prime search
//! (`prime`) and RSA-OAEP encryption to the sealed-secrets controller key (`tcpc-seal`). Not
//! constant time in its final subtraction: the prime search runs on candidates it then discards
//! or keeps wholly secret, and OAEP works on public data.
//!
//! [`Montgomery::pow`] (OAEP's `m^e`) runs on AVX-512 IFMA where the CPU has it (`ifma`:
//! 52-bit limbs, eight products per instruction), on the scalar product here elsewhere; both
//! compute the same number, which the tests check against `BigUint::modpow`.

use rsa::BigUint;
use zeroize::Zeroizing;

#[cfg(target_arch = "x86_64")]
mod ifma;

/// Little-endian 64-bit limbs of `x`, `len` of them (`x < 2^(64·len)`).
pub fn to_limbs(x: &BigUint, len: usize) -> Vec<u64> {
    let mut out = vec![0u64; len];
    for (i, chunk) in x.to_bytes_le().chunks(8).enumerate() {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        out[i] = u64::from_le_bytes(b);
    }
    out
}

/// `x^e` for `e ≥ 1`, left to right (one squaring per bit of `e` below its top, one product
/// per set bit), under the Montgomery product `mul` of the form `x` is in.
fn square_and_multiply<T: Clone>(x: T, e: u64, mul: impl Fn(&T, &T) -> T) -> T {
    let mut acc = x.clone();
    for bit in (0..63 - e.leading_zeros()).rev() {
        acc = mul(&acc, &acc);
        if (e >> bit) & 1 == 1 {
            acc = mul(&acc, &x);
        }
    }
    acc
}

/// `x^e` for an exponent of 64-bit limbs (little-endian), left to right over a fixed 4-bit
/// window (a table of `x⁰…x¹⁵`, four squarings and at most one product per nibble), under the
/// Montgomery product `mul`; `one` is 1 in the form `x` is in.
fn fixed_window<T: Clone>(one: T, x: T, e: &[u64], mul: impl Fn(&T, &T) -> T) -> T {
    let mut table = vec![one.clone(), x];
    for i in 2..16 {
        let next = mul(&table[i - 1], &table[1]);
        table.push(next);
    }
    let mut acc = one;
    for limb in e.iter().rev() {
        for nibble in (0..16).rev() {
            for _ in 0..4 {
                acc = mul(&acc, &acc);
            }
            let w = ((limb >> (4 * nibble)) & 0xf) as usize;
            if w != 0 {
                acc = mul(&acc, &table[w]);
            }
        }
    }
    acc
}

/// The constants of one odd modulus.
#[derive(Clone)]
pub struct Montgomery {
    n: Vec<u64>,
    /// `-n⁻¹ mod 2⁶⁴`.
    n0inv: u64,
    /// `R² mod n`.
    rr: Zeroizing<Vec<u64>>,
    /// The same modulus for the IFMA product, when this CPU has it.
    #[cfg(target_arch = "x86_64")]
    ifma: Option<ifma::Ifma>,
}

impl Montgomery {
    /// For an odd `n > 1`, with as many limbs as `n` needs.
    pub fn new(n: &BigUint) -> Montgomery {
        #[allow(unused_mut)]
        let mut m = Montgomery::new_scalar(n);
        #[cfg(target_arch = "x86_64")]
        if m.n.len() > 1 {
            m.ifma = ifma::Ifma::new(n, &m.n, m.n0inv);
        }
        m
    }

    /// [`Montgomery::new`] without the IFMA product.
    pub(crate) fn new_scalar(n: &BigUint) -> Montgomery {
        let len = n.bits().div_ceil(64);
        let limbs = to_limbs(n, len);
        // Newton iteration for n⁻¹ mod 2⁶⁴ (n is odd): each step doubles the correct bits.
        let mut inv: u64 = 1;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(limbs[0].wrapping_mul(inv)));
        }
        let rr = (BigUint::from(1u8) << (128 * len)) % n;
        Montgomery {
            n: limbs,
            n0inv: inv.wrapping_neg(),
            rr: Zeroizing::new(to_limbs(&rr, len)),
            #[cfg(target_arch = "x86_64")]
            ifma: None,
        }
    }

    /// `m^e mod n` for `m < n` in normal form and `e ≥ 1` (left to right, one squaring per bit
    /// of `e`: for RSA's public `e = 65537`, 16 squarings and one product).
    pub fn pow(&self, m: &[u64], e: u64) -> Zeroizing<Vec<u64>> {
        assert!(e >= 1, "pow is for positive exponents");
        #[cfg(target_arch = "x86_64")]
        if let Some(ifma) = &self.ifma {
            return ifma.pow(m, e);
        }
        self.pow_scalar(m, e)
    }

    /// `m^e mod n` for `m < n` in normal form and an exponent of any length (64-bit limbs,
    /// little-endian): Miller–Rabin's `a^d`. On IFMA where the CPU has it, like [`Montgomery::pow`].
    pub fn pow_limbs(&self, m: &[u64], e: &[u64]) -> Zeroizing<Vec<u64>> {
        #[cfg(target_arch = "x86_64")]
        if let Some(ifma) = &self.ifma {
            return ifma.pow_limbs(m, e);
        }
        let acc = fixed_window(self.to_mont(&self.small(1)), self.to_mont(m), e, |a, b| self.mul(a, b));
        self.from_mont(&acc)
    }

    /// [`Montgomery::pow`] on the scalar product whatever the CPU: the reference (and the
    /// benchmarks' baseline).
    pub fn pow_scalar(&self, m: &[u64], e: u64) -> Zeroizing<Vec<u64>> {
        let acc = square_and_multiply(self.to_mont(m), e, |a, b| self.mul(a, b));
        self.from_mont(&acc)
    }

    /// The number of limbs of every value.
    pub fn limbs(&self) -> usize {
        self.n.len()
    }

    /// `v` as limbs (normal form).
    pub fn small(&self, v: u64) -> Zeroizing<Vec<u64>> {
        let mut out = Zeroizing::new(vec![0u64; self.n.len()]);
        out[0] = v;
        out
    }

    /// `a·R mod n`, for `a < n` in normal form.
    pub fn to_mont(&self, a: &[u64]) -> Zeroizing<Vec<u64>> {
        self.mul(a, &self.rr)
    }

    /// `a·R⁻¹ mod n`: the normal form of `a`.
    pub fn from_mont(&self, a: &[u64]) -> Zeroizing<Vec<u64>> {
        self.mul(a, &self.small(1))
    }

    /// `a·b·R⁻¹ mod n` (FIOS: the product and the reduction of each word of `b` in one pass
    /// over the limbs), for `a, b < n`.
    pub fn mul(&self, a: &[u64], b: &[u64]) -> Zeroizing<Vec<u64>> {
        let n = &self.n[..];
        let s = n.len();
        let (a, b) = (&a[..s], &b[..s]);
        // t < 2n throughout: s words and a top word that is 0 or 1.
        let mut t = Zeroizing::new(vec![0u64; s]);
        let mut top = 0u64;
        for &bi in b {
            let v = u128::from(t[0]) + u128::from(a[0]) * u128::from(bi);
            let m = (v as u64).wrapping_mul(self.n0inv);
            let w = u128::from(v as u64) + u128::from(m) * u128::from(n[0]);
            let (mut c1, mut c2) = ((v >> 64) as u64, (w >> 64) as u64);
            for j in 1..s {
                // Neither sum overflows: (2⁶⁴−1) + (2⁶⁴−1)² + (2⁶⁴−1) = 2¹²⁸ − 1.
                let v = u128::from(t[j]) + u128::from(a[j]) * u128::from(bi) + u128::from(c1);
                let w = u128::from(v as u64) + u128::from(m) * u128::from(n[j]) + u128::from(c2);
                t[j - 1] = w as u64;
                (c1, c2) = ((v >> 64) as u64, (w >> 64) as u64);
            }
            let v = u128::from(top) + u128::from(c1) + u128::from(c2);
            t[s - 1] = v as u64;
            top = (v >> 64) as u64;
        }
        // t < 2n: subtract n once if t ≥ n.
        if top != 0 || t.iter().rev().cmp(n.iter().rev()) != std::cmp::Ordering::Less {
            let mut borrow = 0u64;
            for (tj, &nj) in t.iter_mut().zip(n) {
                let (d1, b1) = tj.overflowing_sub(nj);
                let (d2, b2) = d1.overflowing_sub(borrow);
                *tj = d2;
                borrow = u64::from(b1 | b2);
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `mul` is multiplication modulo n, checked against `BigUint` on values that exercise
    /// every carry (0, 1, n − 1, all-ones words) and on others, for moduli of 1 to 5 limbs.
    #[test]
    fn mul_is_modular_multiplication() {
        let moduli = [
            "3",
            "18446744073709551557",
            "340282366920938463463374607431768211297",
            "1000000000000000000000000000000000000000000000000000000000000000000000000000000000007",
        ];
        for text in moduli {
            let n: BigUint = text.parse().unwrap();
            let m = Montgomery::new(&n);
            let len = m.limbs();
            let mut values = vec![BigUint::from(0u8), BigUint::from(1u8), &n - BigUint::from(1u8)];
            let all_ones = (BigUint::from(1u8) << (64 * len)) - BigUint::from(1u8);
            values.push(&all_ones % &n);
            values.push(&n >> 1usize);
            values.push((&n * BigUint::from(7u8) / BigUint::from(9u8)) % &n);
            for a in &values {
                for b in &values {
                    let got = m.from_mont(&m.mul(&m.to_mont(&to_limbs(a, len)), &m.to_mont(&to_limbs(b, len))));
                    assert_eq!(*got, to_limbs(&((a * b) % &n), len), "{a} · {b} mod {n}");
                }
            }
        }
    }

    /// The scalar `pow` is `modpow` (the IFMA one is checked in `ifma`, against the same).
    #[test]
    fn scalar_pow_is_modular_exponentiation() {
        let n: BigUint = "1000000000000000000000000000000000000000000000000000000000000000000000000000000000007".parse().unwrap();
        let m = Montgomery::new_scalar(&n);
        let len = m.limbs();
        for base in [BigUint::from(0u8), BigUint::from(2u8), &n - BigUint::from(1u8), &n >> 3usize] {
            for e in [1u64, 2, 17, 65537] {
                assert_eq!(*m.pow_scalar(&to_limbs(&base, len), e), to_limbs(&base.modpow(&BigUint::from(e), &n), len), "{base}^{e}");
            }
            let e = &n - BigUint::from(2u8);
            assert_eq!(*m.pow_limbs(&to_limbs(&base, len), &to_limbs(&e, len)), to_limbs(&base.modpow(&e, &n), len), "{base}^(n-2)");
        }
    }
}
