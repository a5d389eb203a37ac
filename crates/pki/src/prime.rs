//! Random RSA primes, from the handed RNG, faster than `rsa::RsaPrivateKey::new`.
//!
//! Why: the `rsa` 0.9 crate (through `num-bigint-dig`'s `gen_prime`) draws a fresh random
//! candidate after every failure, sieves it with the 15 primes up to 53 only, and runs a
//! Miller–Rabin round with `num-bigint-dig`'s general modular exponentiation on each of the
//! ~1 in 7 that survive: ~180 ms per RSA-2048 key here, twice kubeadm's (Go's `crypto/rsa`).
//!
//! How (the same mathematics, cheaper): one random start per search, as `num-bigint-dig` and
//! Go's `crypto/rand.Prime` draw it (exactly `bits` bits, the top two set, odd); the odd numbers
//! after it are sieved with every odd prime below 2¹⁵ (1 in 9 survive), each survivor gets one
//! Miller–Rabin round to base 2 in Montgomery form over fixed-size limbs (FIOS, as
//! `tcpc-seal`'s RSA-OAEP), and a number that passes it is confirmed with 4 more rounds to
//! random bases drawn from the RNG and `num-bigint-dig`'s Baillie–PSW test
//! (`probably_prime(p, 0)`: base-2 Miller–Rabin and a strong Lucas test) — FIPS 186-5 Table B.1
//! asks for 4 Miller–Rabin rounds plus a Lucas test for the primes of RSA-2048.
//!
//! Secret values (candidates, residues, limbs) live in `Zeroizing` buffers.

use std::sync::OnceLock;

use rsa::BigUint;
use zeroize::Zeroizing;

use crate::Rng;
use crate::montgomery::{Montgomery, to_limbs};

/// Odd primes below this sieve the candidates.
const SIEVE_LIMIT: u32 = 1 << 15;
/// How far after the random start a search goes before drawing a new start.
const SEARCH: u64 = 1 << 16;
/// Miller–Rabin rounds to random bases after the base-2 round (FIPS 186-5 Table B.1, with
/// a Lucas test: 4 for 1024-bit primes, 5 for 1536 and 2048 are covered by the Lucas test too).
const RANDOM_ROUNDS: usize = 4;

fn small_primes() -> &'static [u32] {
    static PRIMES: OnceLock<Vec<u32>> = OnceLock::new();
    PRIMES.get_or_init(|| {
        let n = SIEVE_LIMIT as usize;
        let mut composite = vec![false; n];
        let mut out = Vec::new();
        for i in 3..n {
            if !composite[i] && i % 2 == 1 {
                out.push(i as u32);
                for j in (i * i..n).step_by(2 * i) {
                    composite[j] = true;
                }
            }
        }
        out
    })
}

/// A random prime of exactly `bits` bits (≥ 64) with its two top bits set, drawn from `rng`.
pub fn random_prime(bits: usize, rng: &mut impl Rng) -> BigUint {
    assert!(bits >= 64, "RSA primes have at least 64 bits");
    let len = bits.div_ceil(8);
    let top = bits - (len - 1) * 8; // bits used in the first byte, 1..=8
    let mut bytes = Zeroizing::new(vec![0u8; len]);
    loop {
        rng.fill_bytes(&mut bytes);
        bytes[0] &= ((1u16 << top) - 1) as u8;
        if top >= 2 {
            bytes[0] |= 3 << (top - 2);
        } else {
            bytes[0] |= 1;
            bytes[1] |= 0x80;
        }
        bytes[len - 1] |= 1;
        let start = BigUint::from_bytes_be(&bytes);
        if let Some(p) = search(&start, bits, rng) {
            return p;
        }
    }
}

/// The first prime among `start + 2k` (`k < SEARCH / 2`) that keeps `bits` bits, if any.
fn search(start: &BigUint, bits: usize, rng: &mut impl Rng) -> Option<BigUint> {
    let primes = small_primes();
    let limbs = Zeroizing::new(to_limbs(start, bits.div_ceil(64)));
    let residues: Zeroizing<Vec<u64>> = Zeroizing::new(primes.iter().map(|&p| mod_small(&limbs, p)).collect());
    let mut delta = 0u64;
    while delta < SEARCH {
        if primes.iter().zip(residues.iter()).all(|(&p, &r)| (r + delta) % u64::from(p) != 0) {
            let candidate = start + BigUint::from(delta);
            if candidate.bits() != bits {
                return None;
            }
            if is_prime(&candidate, bits, rng) {
                return Some(candidate);
            }
        }
        delta += 2;
    }
    None
}

/// Base-2 Miller–Rabin (fast, ours), then `RANDOM_ROUNDS` rounds to bases from `rng`, then
/// `num-bigint-dig`'s Baillie–PSW test.
fn is_prime(n: &BigUint, bits: usize, rng: &mut impl Rng) -> bool {
    let mr = MillerRabin::new(n);
    if !mr.strong_probable_prime(&mr.mont.small(2)) {
        return false;
    }
    let n_minus_3 = n - BigUint::from(3u8);
    let mut buf = Zeroizing::new(vec![0u8; bits.div_ceil(8) + 8]);
    for _ in 0..RANDOM_ROUNDS {
        rng.fill_bytes(&mut buf);
        // A base in [2, n − 2]; the 64 extra bits make the reduction's bias negligible.
        let base = BigUint::from_bytes_be(&buf) % &n_minus_3 + BigUint::from(2u8);
        if !mr.strong_probable_prime(&Zeroizing::new(to_limbs(&base, mr.mont.limbs()))) {
            return false;
        }
    }
    num_bigint_dig::prime::probably_prime(n, 0)
}

/// `x mod p` for little-endian limbs, 32 bits at a time (`r < p < 2³²`, so every step fits
/// in a `u64` and is one hardware division).
fn mod_small(limbs: &[u64], p: u32) -> u64 {
    let p = u64::from(p);
    limbs.iter().rev().fold(0u64, |r, &l| {
        let r = ((r << 32) | (l >> 32)) % p;
        ((r << 32) | (l & 0xffff_ffff)) % p
    })
}

/// Miller–Rabin rounds modulo one odd `n`.
struct MillerRabin {
    mont: Montgomery,
    /// `R mod n` and `(n − 1)·R mod n`: 1 and −1 in Montgomery form.
    one: Zeroizing<Vec<u64>>,
    minus_one: Zeroizing<Vec<u64>>,
    /// `n − 1 = d·2ˢ`, `d` odd.
    d: Zeroizing<Vec<u64>>,
    s: u32,
}

impl MillerRabin {
    fn new(n: &BigUint) -> MillerRabin {
        let mont = Montgomery::new(n);
        let len = mont.limbs();
        let n_minus_1 = n - BigUint::from(1u8);
        let s = n_minus_1.trailing_zeros().unwrap_or(0) as u32;
        let d = Zeroizing::new(to_limbs(&(&n_minus_1 >> s as usize), len));
        let one = mont.to_mont(&mont.small(1));
        let minus_one = mont.to_mont(&to_limbs(&n_minus_1, len));
        MillerRabin { mont, one, minus_one, d, s }
    }

    /// Whether `n` is a strong probable prime to base `a` (normal form, `1 < a < n − 1`).
    fn strong_probable_prime(&self, a: &[u64]) -> bool {
        let m = &self.mont;
        // a^d (on IFMA where the CPU has it), then the squarings in Montgomery form.
        let mut x = m.to_mont(&m.pow_limbs(a, &self.d));
        if *x == *self.one || *x == *self.minus_one {
            return true;
        }
        for _ in 1..self.s {
            x = m.mul(&x, &x);
            if *x == *self.minus_one {
                return true;
            }
            if *x == *self.one {
                return false;
            }
        }
        false
    }
}

/// A random RSA key of `bits` bits (public exponent 65537) from two primes of `bits / 2`
/// bits each: their product has exactly `bits` bits (both have their top two bits set).
pub fn rsa_key(bits: usize, rng: &mut impl Rng) -> Result<rsa::RsaPrivateKey, rsa::Error> {
    loop {
        let p = random_prime(bits / 2, rng);
        let q = random_prime(bits - bits / 2, rng);
        if p == q {
            continue;
        }
        // `from_p_q` fails when 65537 divides p − 1 or q − 1 (no inverse): draw again.
        match rsa::RsaPrivateKey::from_p_q(p, q, BigUint::from(65_537u32)) {
            Ok(mut key) => {
                key.precompute()?;
                return Ok(key);
            }
            Err(rsa::Error::InvalidPrime | rsa::Error::InvalidModulus | rsa::Error::InvalidExponent) => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use rand_core::{RngCore as _, SeedableRng as _};
    use rsa::traits::{PrivateKeyParts as _, PublicKeyParts as _};

    use super::*;

    /// Our Miller–Rabin to base 2 says what `num-bigint-dig`'s does, on primes, composites,
    /// Carmichael numbers and base-2 strong pseudoprimes (which both must pass: it is the
    /// random rounds and the Lucas test that catch them).
    #[test]
    fn base_2_rounds_agree_with_num_bigint_dig() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
        let mut values: Vec<BigUint> =
            [2047u64, 3277, 4033, 4681, 8321, 561, 1105, 1729, 2465, 3_215_031_751, 18_446_744_073_709_551_557, 18_446_744_073_709_551_559]
                .iter()
                .map(|&v| BigUint::from(v))
                .collect();
        for _ in 0..300 {
            let mut b = [0u8; 64];
            rng.fill_bytes(&mut b);
            b[63] |= 1;
            values.push(BigUint::from_bytes_be(&b));
        }
        for _ in 0..5 {
            values.push(random_prime(512, &mut rng));
        }
        for v in &values {
            let m = MillerRabin::new(v);
            let ours = m.strong_probable_prime(&m.mont.small(2));
            let theirs = num_bigint_dig::prime::probably_prime_miller_rabin(v, 1, true);
            assert_eq!(ours, theirs, "{v}");
        }
    }

    #[test]
    fn primes_have_the_size_and_top_bits_asked_and_are_prime() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(6);
        for bits in [64, 100, 512, 1024] {
            for _ in 0..3 {
                let p = random_prime(bits, &mut rng);
                assert_eq!(p.bits(), bits);
                assert!(((&p >> (bits - 2)) == BigUint::from(3u8)), "the top two bits of {p} are set");
                assert!(num_bigint_dig::prime::probably_prime(&p, 20), "{p} is prime");
            }
        }
    }

    #[test]
    fn keys_are_valid_deterministic_and_of_the_size_asked() {
        let key = |seed| rsa_key(2048, &mut rand_chacha::ChaCha20Rng::seed_from_u64(seed)).unwrap();
        let (a, b, c) = (key(7), key(7), key(8));
        assert_eq!(a.n(), b.n(), "the same RNG gives the same key");
        assert_ne!(a.n(), c.n());
        for k in [&a, &c] {
            k.validate().unwrap();
            assert_eq!(k.n().bits(), 2048);
            assert_eq!(k.e(), &BigUint::from(65_537u32));
            assert_eq!(k.primes().len(), 2);
        }
    }
}
