//! Credential changes in a review (DESIGN §9): a change that is only a credential change is a change.
//! Against a git revision, every credential step of each instance is compared between the two
//! revisions (non-secret fields old -> new, secrets by ciphertext, and by value when an identity is at
//! hand); against deployed files, the steps that would run are listed with where and why.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::credentials::CredentialStep;
use crate::env::Environment;
use crate::secrets::{Identities, SecretId, SecretStore};

/// One credential step of one instance that changes (or, against deployed files, runs).
#[derive(Debug, Clone, Serialize)]
pub struct CredentialReview {
    pub instance: String,
    /// `ims` or `dblogin`.
    pub step: String,
    /// `new`, `removed`, `changed`, `re-encrypted` (no value changed: nothing runs), or `to run`.
    pub change: String,
    /// Non-secret fields that differ (against a revision), or the step's fields (against deployed).
    pub fields: Vec<FieldChange>,
    pub secrets: Vec<SecretChange>,
    /// The command as it would run, secrets masked (absent for a removed step).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Where it runs: every container of the instance, or (against deployed) those that need it.
    pub containers: Vec<String>,
    /// Against deployed files: why, per container.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldChange {
    pub name: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SecretChange {
    pub name: String,
    /// `added`, `removed`, `changed`, `re-encrypted, unchanged` or `changed or re-encrypted`.
    pub status: String,
}

impl CredentialReview {
    /// Whether the step would run: a re-encryption with the same value runs nothing.
    pub fn runs(&self) -> bool {
        self.change != "re-encrypted" && self.change != "removed"
    }

    /// `(sensitive, changed)` and the like, as every output shows a secret.
    pub fn shown_secrets(&self) -> Vec<String> {
        self.secrets.iter().map(|s| format!("{} (sensitive, {})", s.name, s.status)).collect()
    }

    pub fn shown_fields(&self) -> Vec<String> {
        self.fields
            .iter()
            .map(|f| match (&f.old, &f.new) {
                (Some(o), Some(n)) if o != n => format!("{}: {o} -> {n}", f.name),
                (None, Some(n)) => format!("{}: {n}", f.name),
                (Some(o), None) => format!("{}: {o} (removed)", f.name),
                (_, Some(n)) => format!("{}: {n}", f.name),
                (None, None) => f.name.clone(),
            })
            .collect()
    }
}

/// Every credential step that differs between `old` (the base revision, if the environment was
/// there) and `new`. With `identities`, a changed ciphertext is decrypted on both sides to tell a
/// re-encryption from a new value.
pub fn between(
    old: Option<&Environment>,
    new: &Environment,
    identities: Option<&Identities>,
    nlserver: &str,
) -> Vec<CredentialReview> {
    let mut names: BTreeSet<&str> = new.instances.iter().map(|i| i.name.as_str()).collect();
    names.extend(old.into_iter().flat_map(|e| e.instances.iter().map(|i| i.name.as_str())));
    // The YAML's order of instances, then any the change removed.
    let mut ordered: Vec<&str> = new.instances.iter().map(|i| i.name.as_str()).collect();
    ordered.extend(names.iter().filter(|n| !ordered.contains(n)).copied().collect::<Vec<_>>());
    let mut out = Vec::new();
    for name in ordered {
        let old_inst = old.and_then(|e| e.instance(name));
        let new_inst = new.instance(name);
        let old_steps: BTreeMap<&str, CredentialStep> =
            old_inst.map(CredentialStep::of).unwrap_or_default().into_iter().map(|s| (s.kind(), s)).collect();
        let new_steps: Vec<CredentialStep> = new_inst.map(CredentialStep::of).unwrap_or_default();
        let containers: Vec<String> =
            new_inst.or(old_inst).map(|i| i.containers.iter().map(|c| c.name.clone()).collect()).unwrap_or_default();
        let kinds: Vec<&str> = new_steps
            .iter()
            .map(CredentialStep::kind)
            .chain(old_steps.keys().copied().filter(|k| !new_steps.iter().any(|s| s.kind() == *k)))
            .collect();
        for kind in kinds {
            let o = old_steps.get(kind);
            let n = new_steps.iter().find(|s| s.kind() == kind);
            let review = |change: &str, fields: Vec<FieldChange>, secrets: Vec<SecretChange>| CredentialReview {
                instance: name.to_string(),
                step: kind.to_string(),
                change: change.to_string(),
                fields,
                secrets,
                command: n.map(|s| s.shown(nlserver)),
                containers: containers.clone(),
                reasons: Vec::new(),
            };
            match (o, n) {
                (None, Some(n)) => out.push(review(
                    "new",
                    n.fields()
                        .into_iter()
                        .map(|(k, v)| FieldChange { name: k.into(), old: None, new: Some(v) })
                        .collect(),
                    n.secrets()
                        .into_iter()
                        .map(|(k, _)| SecretChange { name: k.into(), status: "added".into() })
                        .collect(),
                )),
                (Some(o), None) => out.push(review(
                    "removed",
                    o.fields()
                        .into_iter()
                        .map(|(k, v)| FieldChange { name: k.into(), old: Some(v), new: None })
                        .collect(),
                    o.secrets()
                        .into_iter()
                        .map(|(k, _)| SecretChange { name: k.into(), status: "removed".into() })
                        .collect(),
                )),
                (Some(o), Some(n)) => {
                    let old_fields: BTreeMap<&str, String> = o.fields().into_iter().collect();
                    let fields: Vec<FieldChange> = n
                        .fields()
                        .into_iter()
                        .filter(|(k, v)| old_fields.get(k) != Some(v))
                        .map(|(k, v)| FieldChange { name: k.into(), old: old_fields.get(k).cloned(), new: Some(v) })
                        .collect();
                    let secrets = secret_changes(old.map(|e| (e, o)), (new, n), identities);
                    let reencrypted_only =
                        fields.is_empty() && secrets.iter().all(|s| s.status == "re-encrypted, unchanged");
                    if fields.is_empty() && secrets.is_empty() {
                        continue;
                    }
                    out.push(review(if reencrypted_only { "re-encrypted" } else { "changed" }, fields, secrets));
                }
                (None, None) => {}
            }
        }
    }
    out
}

/// How each secret of a step compares between the revisions.
fn secret_changes(
    old: Option<(&Environment, &CredentialStep)>,
    new: (&Environment, &CredentialStep),
    identities: Option<&Identities>,
) -> Vec<SecretChange> {
    let old_ids: BTreeMap<&str, SecretId> = old.map(|(_, s)| s.secrets().into_iter().collect()).unwrap_or_default();
    let mut out = Vec::new();
    for (name, id) in new.1.secrets() {
        let new_ct = new.0.secret(id).and_then(|s| s.ciphertext.as_ref());
        let Some(old_id) = old_ids.get(name) else {
            out.push(SecretChange { name: name.into(), status: "added".into() });
            continue;
        };
        let old_ct = old.and_then(|(e, _)| e.secret(*old_id)).and_then(|s| s.ciphertext.as_ref());
        if old_ct.map(|c| &c.armor) == new_ct.map(|c| &c.armor) {
            continue;
        }
        let status = match (identities, old_ct, new_ct) {
            (Some(ids), Some(o), Some(n)) => {
                let (a, _) = SecretStore::decrypt([(SecretId::new(0), o)], ids);
                let (b, _) = SecretStore::decrypt([(SecretId::new(0), n)], ids);
                match (a.get(SecretId::new(0)), b.get(SecretId::new(0))) {
                    (Some(a), Some(b)) if a.expose() == b.expose() => "re-encrypted, unchanged",
                    (Some(_), Some(_)) => "changed",
                    _ => "changed or re-encrypted",
                }
            }
            _ => "changed or re-encrypted",
        };
        out.push(SecretChange { name: name.into(), status: status.into() });
    }
    for name in old_ids.keys().filter(|k| !new.1.secrets().iter().any(|(n, _)| n == *k)) {
        out.push(SecretChange { name: (*name).into(), status: "removed".into() });
    }
    out
}
