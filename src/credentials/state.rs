//! The state record of a container, next to its config files (`.nlconf/state-<instance>.json`):
//! what nlconf last applied there, per credential step, and what is still to do.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// The state record of a container for an instance.
pub fn state_file(instance: &str) -> String {
    format!(".nlconf/state-{instance}.json")
}

/// v2 keeps one entry per credential step with a memory-hard fingerprint; v1 records (the IMS
/// step alone, PBKDF2) are still read, and replaced on the next apply.
pub const STATE_SCHEMA: &str = "nlconf.state/v2";

/// What nlconf last applied on a container for an instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StateRecord {
    pub schema: String,
    pub environment: String,
    pub instance: String,
    pub container: String,
    /// Per credential step (`ims`, `dblogin`): what was set.
    #[serde(default, deserialize_with = "any_version", skip_serializing_if = "BTreeMap::is_empty")]
    pub credentials: BTreeMap<String, AppliedCredential>,
    /// Steps an apply started and did not see succeed (e.g. `["config", "-reload"]`): the next plan
    /// runs them again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Vec<String>>,
    /// Attributes of the file that hold a secret of the YAML (e.g. `shared/dataStore/@hosts`), as
    /// apply last wrote it: their plaintext is in the deployed file, and a review masks them there
    /// whatever the YAML says now (a secret since removed from the YAML included).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_attributes: Vec<String>,
    pub applied_at: String,
    pub nlconf_version: String,
}

/// One credential step as last applied.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AppliedCredential {
    /// The non-secret fields, by their YAML names (`clientId`, `login`, ...).
    pub fields: BTreeMap<String, String>,
    /// Of every field, secrets included (`fingerprint` module): equal credentials verify; nothing
    /// about a secret can be read back faster than by guessing against nlserver's own ciphertext.
    pub fingerprint: String,
    /// SHA-256 of the secrets' ciphertexts (public data): unchanged ciphertexts need no decryption
    /// to know that nothing changed.
    pub ciphertexts: String,
}

/// A v1 record's `credentials`: the IMS step alone.
#[derive(Deserialize)]
struct LegacyIms {
    auth: String,
    org_id: String,
    client_id: String,
    technical_account_id: String,
    fingerprint: String,
    ciphertexts: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum AnyVersion {
    V2(BTreeMap<String, AppliedCredential>),
    V1(LegacyIms),
}

fn any_version<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, AppliedCredential>, D::Error> {
    Ok(match Option::<AnyVersion>::deserialize(d)? {
        None => BTreeMap::new(),
        Some(AnyVersion::V2(map)) => map,
        Some(AnyVersion::V1(v1)) => {
            let fields = [
                ("auth", v1.auth),
                ("orgId", v1.org_id),
                ("clientId", v1.client_id),
                ("technicalAccountId", v1.technical_account_id),
            ];
            let fields = fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            BTreeMap::from([(
                "ims".to_string(),
                AppliedCredential { fields, fingerprint: v1.fingerprint, ciphertexts: v1.ciphertexts },
            )])
        }
    })
}
