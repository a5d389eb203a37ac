//! Service-account key rotation with overlap (`tcpc rotate sa-key`), one step per run:
//!
//! 1. **add**: a new key is generated and published for verification only — every API server
//!    verifies tokens of the old and the new key, and still signs with the old one;
//! 2. **sign**: the new key signs, the old one still verifies (its tokens stay valid);
//! 3. **retire**: once tokens the old key signed have been replaced — kubelets refresh projected
//!    tokens well within an hour; `--min-overlap` (default 24 h) since step 2 —, the old key is
//!    dropped.
//!
//! Each step changes `sa.pub` (both keys, signer first) or `sa.key`, so the control plane rolls
//! with the Deployment's own strategy; pods of two neighbouring steps always share a verifying
//! key set that covers every token either signs, which is why the new key is added before it
//! signs. kube-apiserver reads every public key in `--service-account-key-file`; the signing
//! key is `--service-account-signing-key-file` (and kube-controller-manager's
//! `--service-account-private-key-file`).
//!
//! Where a rotation stands is public: the lock records the extra verifying key as the artefact
//! `sa-next` (after add) or `sa-previous` (after sign, `notBefore` = when it stopped signing).
//! The keys themselves live in the encrypted state under the same names.

use rand_core::{CryptoRng, RngCore};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::{StoredPair, TenantState, rfc3339, sha256};
use crate::lock::{ArtefactLock, TenantLock};
use tcpc_pki::PrivateKey;

/// The key published beside the signer after `add`, which signs after `sign`.
pub const NEXT: &str = "sa-next";
/// The key that signed before `sign`, still verifying until `retire`.
pub const PREVIOUS: &str = "sa-previous";

/// The step `tcpc rotate sa-key` takes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Add,
    Sign,
    Retire,
}

impl Step {
    /// The next step for a tenant whose lock entry is `prev`.
    pub fn next(prev: &TenantLock) -> Step {
        if prev.artefacts.contains_key(NEXT) {
            Step::Sign
        } else if prev.artefacts.contains_key(PREVIOUS) {
            Step::Retire
        } else {
            Step::Add
        }
    }

    /// Why the service-account key material changes, for the report.
    pub fn reason(self) -> &'static str {
        match self {
            Step::Add => "service-account key rotation 1/3: a new key verifies beside the current one",
            Step::Sign => "service-account key rotation 2/3: the new key signs, the old one still verifies",
            Step::Retire => "service-account key rotation 3/3: the old key is retired",
        }
    }
}

/// The extra verifying key's lock record, if a rotation is under way: (`sa-next` or
/// `sa-previous`, its record).
pub fn extra_record(lock: &TenantLock) -> Option<(&'static str, &ArtefactLock)> {
    [NEXT, PREVIOUS].into_iter().find_map(|name| lock.artefacts.get(name).map(|r| (name, r)))
}

/// Refuses to retire the old key before `min_overlap` has passed since it stopped signing.
pub fn check_retire(prev: &TenantLock, now: OffsetDateTime, min_overlap: time::Duration, who: &str) -> Result<(), String> {
    let since = prev
        .artefacts
        .get(PREVIOUS)
        .and_then(|r| r.not_before.as_deref())
        .and_then(|t| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
        .ok_or_else(|| format!("{who}: tcpc.lock: `{PREVIOUS}` has no valid notBefore"))?;
    let elapsed = now - since;
    if elapsed < min_overlap {
        return Err(format!(
            "{who}: the old service-account key stopped signing {} ago; tokens it signed may still be in use\n\
             help: retire it once every token is renewed (kubelets refresh projected tokens within an hour): run this \
             again after {} (or pass a shorter `--min-overlap`)",
            human(elapsed),
            human(min_overlap - elapsed)
        ));
    }
    Ok(())
}

fn human(d: time::Duration) -> String {
    let s = d.whole_seconds().max(0);
    match (s / 3600, s % 3600 / 60) {
        (0, m) => format!("{m}m{}s", s % 60),
        (h, m) => format!("{h}h{m}m"),
    }
}

/// The rotation applied to the opened state (a `step`, or the phase carried as it is; a CA
/// re-key starts the service-account key afresh and ends any rotation). Returns the extra
/// verifying key's public PEM and lock record.
pub fn apply(
    state: &mut TenantState,
    step: Option<Step>,
    rekey: bool,
    prev: Option<&TenantLock>,
    key_alg: tcpc_pki::KeyAlgorithm,
    now: OffsetDateTime,
    rng: &mut (impl RngCore + CryptoRng),
    who: &str,
) -> Result<Option<Extra>, String> {
    let open = |name: &str, pair: &StoredPair| PrivateKey::from_pem(&pair.key).map_err(|e| format!("{who}: {name}: {e}"));
    if rekey {
        state.artefacts.remove(NEXT);
        state.artefacts.remove(PREVIOUS);
        return Ok(None);
    }
    match step {
        Some(Step::Add) => {
            let key = PrivateKey::generate(key_alg, rng).map_err(|e| format!("{who}: {NEXT}: {e}"))?;
            state.artefacts.insert(NEXT.into(), StoredPair { cert: None, key: key.to_pem().to_string() });
        }
        Some(Step::Sign) => {
            let next = state.artefacts.remove(NEXT).ok_or_else(|| format!("{who}: the state holds no `{NEXT}` key"))?;
            let old = state.artefacts.insert("sa".into(), next).ok_or_else(|| format!("{who}: the state holds no `sa` key"))?;
            state.artefacts.insert(PREVIOUS.into(), old);
        }
        Some(Step::Retire) => {
            state.artefacts.remove(PREVIOUS);
        }
        None => {}
    }
    let Some((name, pair)) = [NEXT, PREVIOUS].into_iter().find_map(|n| state.artefacts.get(n).map(|p| (n, p))) else { return Ok(None) };
    let key = open(name, pair)?;
    let fingerprint = sha256(&key.public_key_der());
    // A phase carried unchanged keeps its record (and so its sealed Secret and pod checksum).
    let kept = prev.and_then(|p| p.artefacts.get(name)).filter(|r| step.is_none() && r.fingerprint == fingerprint);
    let record = kept.cloned().unwrap_or(ArtefactLock {
        inputs: format!("{name}: service-account key rotation"),
        fingerprint,
        not_before: Some(rfc3339(now)),
        not_after: None,
        serial: None,
        imported: false,
    });
    Ok(Some(Extra { name, public_pem: Zeroizing::new(key.public_key_pem()), record }))
}

/// The verifying key published beside the signer during a rotation.
pub struct Extra {
    pub name: &'static str,
    pub public_pem: Zeroizing<String>,
    pub record: ArtefactLock,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    fn lock_with(names: &[(&str, &str)]) -> TenantLock {
        let mut l = TenantLock::default();
        for (name, since) in names {
            l.artefacts.insert(
                name.to_string(),
                ArtefactLock {
                    inputs: String::new(),
                    fingerprint: String::new(),
                    not_before: Some(since.to_string()),
                    not_after: None,
                    serial: None,
                    imported: false,
                },
            );
        }
        l
    }

    #[test]
    fn steps_follow_the_recorded_phase() {
        assert_eq!(Step::next(&lock_with(&[])), Step::Add);
        assert_eq!(Step::next(&lock_with(&[(NEXT, "2026-01-01T00:00:00Z")])), Step::Sign);
        assert_eq!(Step::next(&lock_with(&[(PREVIOUS, "2026-01-01T00:00:00Z")])), Step::Retire);
    }

    #[test]
    fn retiring_waits_for_the_overlap() {
        let prev = lock_with(&[(PREVIOUS, "2026-01-01T00:00:00Z")]);
        let at = |s: &str| OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap();
        let err = check_retire(&prev, at("2026-01-01T02:00:00Z"), time::Duration::hours(24), "ns/t").unwrap_err();
        assert!(err.contains("stopped signing 2h0m ago") && err.contains("after 22h0m"), "{err}");
        check_retire(&prev, at("2026-01-02T00:00:00Z"), time::Duration::hours(24), "ns/t").unwrap();
        check_retire(&prev, at("2026-01-01T00:00:01Z"), time::Duration::ZERO, "ns/t").unwrap();
    }

    #[test]
    fn a_rotation_adds_then_swaps_then_drops_keys() {
        let mut rng = rand_chacha::ChaCha20Rng::from_seed([3; 32]);
        let alg = tcpc_pki::KeyAlgorithm::EcdsaP256;
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let first = PrivateKey::generate(alg, &mut rng).unwrap();
        let mut state = TenantState::default();
        state.artefacts.insert("sa".into(), StoredPair { cert: None, key: first.to_pem().to_string() });
        let pub_of = |s: &TenantState, n: &str| PrivateKey::from_pem(&s.artefacts[n].key).unwrap().public_key_pem();

        let added = apply(&mut state, Some(Step::Add), false, None, alg, now, &mut rng, "ns/t").unwrap().unwrap();
        assert_eq!(added.name, NEXT);
        assert_eq!(pub_of(&state, "sa"), first.public_key_pem(), "the old key still signs");
        assert_eq!(*added.public_pem, pub_of(&state, NEXT));

        let next_pub = pub_of(&state, NEXT);
        let signing = apply(&mut state, Some(Step::Sign), false, None, alg, now, &mut rng, "ns/t").unwrap().unwrap();
        assert_eq!(signing.name, PREVIOUS);
        assert_eq!(pub_of(&state, "sa"), next_pub, "the new key signs");
        assert_eq!(*signing.public_pem, first.public_key_pem(), "the old key still verifies");
        assert!(!state.artefacts.contains_key(NEXT));

        // Carried unchanged: the same record, so nothing is re-sealed or rolled.
        let mut prev = TenantLock::default();
        prev.artefacts.insert(PREVIOUS.into(), signing.record.clone());
        let later = now + time::Duration::hours(5);
        let carried = apply(&mut state, None, false, Some(&prev), alg, later, &mut rng, "ns/t").unwrap().unwrap();
        assert_eq!(carried.record, signing.record);

        assert!(apply(&mut state, Some(Step::Retire), false, None, alg, later, &mut rng, "ns/t").unwrap().is_none());
        assert!(!state.artefacts.contains_key(PREVIOUS));
        assert_eq!(pub_of(&state, "sa"), next_pub);

        // `rotate ca` re-keys everything: a rotation under way ends.
        apply(&mut state, Some(Step::Add), false, None, alg, later, &mut rng, "ns/t").unwrap().unwrap();
        assert!(apply(&mut state, None, true, None, alg, later, &mut rng, "ns/t").unwrap().is_none());
        assert!(!state.artefacts.contains_key(NEXT) && !state.artefacts.contains_key(PREVIOUS));
    }
}
