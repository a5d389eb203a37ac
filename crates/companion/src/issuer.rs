//! `rotation: companion`: the leaves a record asks for (`spec.issuance`), issued from the
//! tenant's CA Secrets into Secrets the companion owns, and renewed there.
//!
//! Invariants (issue #9's "nothing lost, nothing exposed"):
//! - A Secret is written in one API call (create, or replace at the resourceVersion read), with
//!   every certificate and key it holds: it is complete or absent, whatever kills the process.
//! - A Secret is touched only when it carries [`ISSUED_BY_LABEL`]; one without it (a name clash
//!   with something else) is refused and reported, never overwritten.
//! - Key material goes nowhere but the Secret: never into logs, Events or errors, and the
//!   buffers holding it are zeroised after the write.
//! - A renewal that the control plane reads once ([`Reload::Roll`]) is recorded on the same
//!   write ([`ROLL_PENDING`]), then rolls the Deployment (a pod-template annotation), then the
//!   record is cleared: a restart between the two resumes the roll.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use tcpc_pki::issuance::{self, IssuedSecret, Reload, Signer, SignerMaterial};
use zeroize::Zeroize;

use crate::crd::RenderedControlPlaneSpec;

/// The label on every Secret the companion owns (value [`ISSUED_BY`]).
pub const ISSUED_BY_LABEL: &str = "tcpc.dev/issued-by";
pub const ISSUED_BY: &str = "tcpc-companion";
/// The tenant a Secret belongs to.
pub const TENANT_LABEL: &str = "tcpc.dev/tenant";
/// What the Secret was issued for ([`issuance::issued_for`]).
pub const ISSUED_FOR: &str = "tcpc.dev/issued-for";
/// On a Secret: the serial of a renewed certificate the Deployment has not been rolled for.
pub const ROLL_PENDING: &str = "tcpc.dev/roll-pending";
/// On the Deployment's pod template: the serial it was last rolled for.
pub const ROLLED_FOR: &str = "tcpc.dev/companion-certificates";

const DEFAULT_RENEW_BEFORE_FRACTION: f64 = 1.0 / 3.0;

/// What one pass did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Secrets written: name and why.
    pub issued: Vec<(String, issuance::Reissue)>,
    /// Secrets left alone because they are not the companion's.
    pub refused: Vec<String>,
    /// The Deployment was rolled for these Secrets.
    pub rolled: Vec<String>,
    /// What failed (no key material in these messages).
    pub errors: Vec<String>,
    /// The earliest moment a held certificate enters its renewal window.
    pub next_renewal: Option<Timestamp>,
}

fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{} ({})", s.message, s.code),
        other => other.to_string(),
    }
}

fn plain(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
    secret.data.iter().flatten().map(|(k, v)| (k.clone(), v.0.clone())).collect()
}

/// Reads the signers every request names. A signer that cannot be read is an error for the
/// requests that need it (the tenant's CA Secret may not be applied yet).
async fn read_signers(secrets: &Api<Secret>, spec: &RenderedControlPlaneSpec, out: &mut Outcome) -> BTreeMap<Signer, SignerMaterial> {
    let mut signers = BTreeMap::new();
    let wanted: std::collections::BTreeSet<&Signer> = spec.issuance.iter().flat_map(|r| r.entries.iter().map(|e| &e.signer)).collect();
    for signer in wanted {
        let got = match secrets.get_opt(&signer.secret).await {
            Ok(Some(s)) => s,
            Ok(None) => {
                out.errors.push(format!("signer Secret {} not found (not applied yet?)", signer.secret));
                continue;
            }
            Err(e) => {
                out.errors.push(format!("reading signer Secret {}: {}", signer.secret, describe(&e)));
                continue;
            }
        };
        let mut data = plain(&got);
        let material = match (data.get(&signer.cert), data.get(&signer.key)) {
            (Some(cert), Some(key)) => match (std::str::from_utf8(cert), std::str::from_utf8(key)) {
                (Ok(cert), Ok(key)) => {
                    SignerMaterial::parse(cert, key).map_err(|_| "not a CA certificate and its PEM private key".to_string())
                }
                _ => Err("not UTF-8 PEM".to_string()),
            },
            _ => Err(format!("has no {} and {}", signer.cert, signer.key)),
        };
        data.values_mut().for_each(|v| v.zeroize());
        match material {
            Ok(m) => {
                signers.insert(signer.clone(), m);
            }
            Err(why) => out.errors.push(format!("signer Secret {}: {why}", signer.secret)),
        }
    }
    signers
}

/// One pass over the record's requests: issues what is missing, changed or due, and finishes a
/// pending roll. `tenant` labels the Secrets; `deployment` is rolled for [`Reload::Roll`].
pub async fn reconcile(
    client: &Client,
    namespace: &str,
    tenant: &str,
    deployment: &str,
    spec: &RenderedControlPlaneSpec,
    now: Timestamp,
) -> Outcome {
    let mut out = Outcome::default();
    if !spec.companion_rotation() || spec.issuance.is_empty() {
        return out;
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let signers = read_signers(&secrets, spec, &mut out).await;
    let fraction = spec.renew_before_fraction.filter(|f| *f > 0.0 && *f < 1.0).unwrap_or(DEFAULT_RENEW_BEFORE_FRACTION);
    let Ok(now_odt) = time::OffsetDateTime::from_unix_timestamp(now.as_second()) else { return out };
    for request in &spec.issuance {
        if request.entries.iter().any(|e| !signers.contains_key(&e.signer)) {
            continue;
        }
        let held = match issue_one(&secrets, tenant, request, &signers, now_odt, fraction, &mut out).await {
            Some(held) => held,
            None => continue,
        };
        let data = plain(&held);
        if let Some(at) = issuance::next_renewal(request, &data, fraction).and_then(|t| Timestamp::from_second(t.unix_timestamp()).ok()) {
            out.next_renewal = Some(out.next_renewal.map_or(at, |n| n.min(at)));
        }
        if let Some(serial) = held.annotations().get(ROLL_PENDING).cloned() {
            roll(client, &secrets, namespace, deployment, &held, &serial, &mut out).await;
        }
    }
    out
}

/// Issues `request`'s Secret when due; returns the Secret as held afterwards (`None` when it
/// is refused or could not be read or written).
async fn issue_one(
    secrets: &Api<Secret>,
    tenant: &str,
    request: &IssuedSecret,
    signers: &BTreeMap<Signer, SignerMaterial>,
    now: time::OffsetDateTime,
    fraction: f64,
    out: &mut Outcome,
) -> Option<Secret> {
    let name = &request.secret;
    let existing = match secrets.get_opt(name).await {
        Ok(e) => e,
        Err(e) => {
            out.errors.push(format!("reading Secret {name}: {}", describe(&e)));
            return None;
        }
    };
    if let Some(s) = &existing
        && s.labels().get(ISSUED_BY_LABEL).map(String::as_str) != Some(ISSUED_BY)
    {
        out.refused.push(format!("Secret {name} exists without the label {ISSUED_BY_LABEL}={ISSUED_BY}: not the companion's, left alone"));
        return None;
    }
    let mut current = existing.as_ref().map(plain);
    let stamp = existing.as_ref().and_then(|s| s.annotations().get(ISSUED_FOR).cloned());
    let reason = issuance::reissue_reason(request, signers, current.as_ref(), stamp.as_deref(), now, fraction);
    current.iter_mut().flat_map(|c| c.values_mut()).for_each(|v| v.zeroize());
    let Some(reason) = reason else { return existing };

    let content = match issuance::issue_secret(request, signers, now, &mut rand_core::OsRng) {
        Ok(c) => c,
        Err(e) => {
            out.errors.push(format!("issuing Secret {name}: {e}"));
            return None;
        }
    };
    let mut annotations = BTreeMap::from([(ISSUED_FOR.to_string(), issuance::issued_for(request, signers))]);
    // A renewal the control plane reads once rolls it; the first issue does not (the pods wait
    // for the Secret). A roll still pending from an earlier renewal is kept.
    let pending = existing.as_ref().and_then(|s| s.annotations().get(ROLL_PENDING).cloned());
    if request.reload == Reload::Roll && existing.is_some() {
        let serial =
            request.entries.first().and_then(|e| issuance::entry_cert(e, &content.iter().map(|(k, v)| (k.clone(), v.to_vec())).collect()));
        annotations.insert(ROLL_PENDING.to_string(), serial.map_or_else(|| "renewed".to_string(), |i| i.serial_hex));
    } else if let Some(p) = pending {
        annotations.insert(ROLL_PENDING.to_string(), p);
    }
    let mut secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(BTreeMap::from([
                (ISSUED_BY_LABEL.to_string(), ISSUED_BY.to_string()),
                (TENANT_LABEL.to_string(), tenant.to_string()),
            ])),
            annotations: Some(annotations),
            resource_version: existing.as_ref().and_then(|s| s.metadata.resource_version.clone()),
            ..Default::default()
        },
        type_: Some("Opaque".to_string()),
        data: Some(content.iter().map(|(k, v)| (k.clone(), ByteString(v.to_vec()))).collect()),
        ..Default::default()
    };
    drop(content);
    let pp = PostParams { field_manager: Some(crate::controller::FIELD_MANAGER.to_string()), ..Default::default() };
    let written = match &existing {
        None => secrets.create(&pp, &secret).await,
        Some(_) => secrets.replace(name, &pp, &secret).await,
    };
    secret.data.iter_mut().flat_map(|d| d.values_mut()).for_each(|v| v.0.zeroize());
    match written {
        Ok(mut held) => {
            out.issued.push((name.clone(), reason));
            let kept = Secret { metadata: std::mem::take(&mut held.metadata), data: held.data.take(), ..Default::default() };
            Some(kept)
        }
        Err(e) => {
            // A conflict (someone else wrote it) or a transient failure: the next pass retries.
            out.errors.push(format!("writing Secret {name}: {}", describe(&e)));
            None
        }
    }
}

/// Rolls a Deployment with its own strategy: sets `annotation: value` on its pod template (a
/// value it already has changes nothing).
pub async fn roll_deployment(client: &Client, namespace: &str, deployment: &str, annotation: &str, value: &str) -> Result<(), String> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let pp = PatchParams { field_manager: Some(crate::controller::FIELD_MANAGER.to_string()), ..Default::default() };
    let patch = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {annotation: value}}}}});
    deployments
        .patch(deployment, &pp, &Patch::Merge(&patch))
        .await
        .map(|_| ())
        .map_err(|e| format!("rolling Deployment {deployment}: {}", describe(&e)))
}

/// Rolls the Deployment for a renewed certificate it reads once, then clears the Secret's
/// pending mark.
async fn roll(client: &Client, secrets: &Api<Secret>, namespace: &str, deployment: &str, held: &Secret, serial: &str, out: &mut Outcome) {
    if let Err(e) = roll_deployment(client, namespace, deployment, ROLLED_FOR, serial).await {
        out.errors.push(e);
        return;
    }
    let pp = PatchParams { field_manager: Some(crate::controller::FIELD_MANAGER.to_string()), ..Default::default() };
    let name = held.name_any();
    // Only if the Secret is still the one read (a newer renewal keeps its own mark).
    let clear = serde_json::json!({"metadata": {"resourceVersion": held.metadata.resource_version, "annotations": {ROLL_PENDING: null}}});
    match secrets.patch(&name, &pp, &Patch::Merge(&clear)).await {
        Ok(_) => out.rolled.push(name),
        Err(e) => out.errors.push(format!("clearing {ROLL_PENDING} on Secret {name}: {}", describe(&e))),
    }
}
