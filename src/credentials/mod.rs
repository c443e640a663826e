//! The IMS technical-account credential step (DESIGN §1, §5): the `nlserver config -setimsoauth` /
//! `-setimsjwtauth` command every container of an instance must run, when it is needed, and the
//! state record that remembers what was applied.

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::diag::{Diagnostic, Diagnostics};
use crate::env::{Auth, Environment, Ims, Instance};
use crate::secrets::{SecretId, SecretStore, SecretValue};

/// The state record of a container, next to its config files: `<conf>/.nlconf/state-<instance>.json`.
pub fn state_file(instance: &str) -> String {
    format!(".nlconf/state-{instance}.json")
}

pub const STATE_SCHEMA: &str = "nlconf.state/v1";
/// PBKDF2 rounds for credential fingerprints: they are compared, never reversed, and the secrets
/// are long random strings, so this only adds cost to a guess.
const FINGERPRINT_ROUNDS: u32 = 4096;

/// What nlconf last applied on a container for an instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StateRecord {
    pub schema: String,
    pub environment: String,
    pub instance: String,
    pub container: String,
    pub credentials: Option<AppliedCredentials>,
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

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AppliedCredentials {
    pub auth: String,
    pub org_id: String,
    pub client_id: String,
    pub technical_account_id: String,
    /// PBKDF2-HMAC-SHA256 over every field, secrets included, salted with environment and
    /// instance: equal credentials give equal fingerprints; nothing about a secret can be read back.
    pub fingerprint: String,
    /// SHA-256 of the secrets' ciphertexts (public data): unchanged ciphertexts need no decryption
    /// to know that nothing changed.
    pub ciphertexts: String,
}

/// The credential step of one instance (the same on each of its containers): its `ims:` block.
#[derive(Debug, Clone, Copy)]
pub struct CredentialStep<'a> {
    pub instance: &'a str,
    pub ims: &'a Ims,
}

impl<'a> CredentialStep<'a> {
    pub fn of(inst: &'a Instance) -> Option<CredentialStep<'a>> {
        Some(CredentialStep { instance: &inst.name, ims: inst.ims.as_ref()? })
    }

    fn option(&self) -> &'static str {
        match self.ims.auth {
            Auth::Oauth => "-setimsoauth",
            Auth::Jwt => "-setimsjwtauth",
        }
    }

    /// The command as shown in reviews and logs: secrets masked.
    pub fn shown(&self, nlserver: &str) -> String {
        let key = if self.ims.auth == Auth::Jwt { "/(sensitive)" } else { "" };
        format!(
            "{nlserver} config -instance:{} {}:{}/{}/{}/(sensitive){key}",
            self.instance,
            self.option(),
            self.ims.org_id,
            self.ims.client_id,
            self.ims.technical_account_id
        )
    }

    /// The real argument vector (no shell): the only place a credential's plaintext goes.
    pub fn argv(&self, nlserver: &str, values: &SecretStore) -> Option<Vec<Zeroizing<String>>> {
        use std::fmt::Write as _;
        let secret = values.get(self.ims.client_secret)?;
        let key = match self.ims.auth {
            Auth::Jwt => Some(Zeroizing::new(BASE64_STANDARD.encode(values.get(self.ims.private_key?)?.expose()))),
            Auth::Oauth => None,
        };
        let ids = [self.option(), &self.ims.org_id, &self.ims.client_id, &self.ims.technical_account_id];
        // Sized up front (growing would leave unwiped copies of the credentials behind).
        let len = ids.iter().map(|s| s.len() + 1).sum::<usize>()
            + secret.expose().len()
            + key.as_ref().map_or(0, |k| k.len() + 1);
        let mut arg = Zeroizing::new(String::with_capacity(len));
        let _ = write!(arg, "{}:{}/{}/{}/", ids[0], ids[1], ids[2], ids[3]);
        arg.push_str(secret.expose());
        if let Some(k) = &key {
            arg.push('/');
            arg.push_str(k);
        }
        Some(vec![
            Zeroizing::new(nlserver.to_string()),
            Zeroizing::new("config".into()),
            Zeroizing::new(format!("-instance:{}", self.instance)),
            arg,
        ])
    }

    fn slots(&self) -> impl Iterator<Item = SecretId> {
        std::iter::once(self.ims.client_secret).chain(self.ims.private_key)
    }

    pub fn ciphertext_digest(&self, env: &Environment) -> String {
        let mut h = Sha256::new();
        for i in self.slots() {
            if let Some(ct) = env.secret(i).and_then(|s| s.ciphertext.as_ref()) {
                h.update(ct.armor.as_bytes());
            }
            h.update([0]);
        }
        format!("sha256:{}", crate::support::digest::hex(&h.finalize()))
    }

    /// The fingerprint of all fields, secrets included; `None` without the plaintexts.
    pub fn fingerprint(&self, env_name: &str, values: &SecretStore) -> Option<String> {
        let parts = [self.ims.auth.name(), &self.ims.org_id, &self.ims.client_id, &self.ims.technical_account_id];
        let secrets: Vec<&SecretValue> = self.slots().map(|i| values.get(i)).collect::<Option<_>>()?;
        // Sized up front (growing would leave unwiped copies of the credentials behind).
        let len = parts.iter().map(|p| p.len() + 1).sum::<usize>()
            + secrets.iter().map(|s| s.expose().len() + 1).sum::<usize>();
        let mut material = Zeroizing::new(Vec::with_capacity(len));
        for part in parts {
            material.extend_from_slice(part.as_bytes());
            material.push(0);
        }
        for s in secrets {
            material.extend_from_slice(s.expose().as_bytes());
            material.push(0);
        }
        let salt = format!("nlconf-credentials-v1\0{env_name}\0{}", self.instance);
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(&material, salt.as_bytes(), FINGERPRINT_ROUNDS, &mut out);
        Some(format!("pbkdf2-sha256:{FINGERPRINT_ROUNDS}:{}", crate::support::digest::hex(&out)))
    }

    pub fn record(&self, env: &Environment, values: &SecretStore) -> Option<AppliedCredentials> {
        Some(AppliedCredentials {
            auth: self.ims.auth.name().into(),
            org_id: self.ims.org_id.clone(),
            client_id: self.ims.client_id.clone(),
            technical_account_id: self.ims.technical_account_id.clone(),
            fingerprint: self.fingerprint(&env.name, values)?,
            ciphertexts: self.ciphertext_digest(env),
        })
    }

    /// Whether the step must run on a container, and why. With the plaintexts at hand the answer is
    /// exact; without them, a changed ciphertext counts as a change.
    pub fn needed(
        &self,
        env: &Environment,
        state: Option<&StateRecord>,
        values: Option<&SecretStore>,
    ) -> Option<String> {
        let Some(applied) = state.and_then(|s| s.credentials.as_ref()) else {
            return Some("no record of applied credentials on this container".into());
        };
        let fields = [
            ("auth", applied.auth.as_str(), self.ims.auth.name()),
            ("orgId", &applied.org_id, &self.ims.org_id),
            ("clientId", &applied.client_id, &self.ims.client_id),
            ("technicalAccountId", &applied.technical_account_id, &self.ims.technical_account_id),
        ];
        let changed: Vec<&str> = fields.iter().filter(|(_, a, b)| a != b).map(|(n, _, _)| *n).collect();
        if !changed.is_empty() {
            return Some(format!("{} changed since the last apply", changed.join(", ")));
        }
        if applied.ciphertexts == self.ciphertext_digest(env) {
            return None;
        }
        match values.and_then(|v| self.fingerprint(&env.name, v)) {
            Some(fp) if fp == applied.fingerprint => None,
            Some(_) => Some("the client secret or key changed since the last apply".into()),
            None => Some("the secret was re-encrypted or changed; without an identity nlconf cannot tell which".into()),
        }
    }
}

/// Checks that need the plaintexts (DESIGN §3): a client secret without `/`, and for JWT an
/// unencrypted RSA private key in PEM (PKCS#8 or PKCS#1).
pub fn check_plaintexts(env: &Environment, values: &SecretStore) -> Diagnostics {
    let mut diags = Diagnostics::new();
    for inst in &env.instances {
        let Some(step) = CredentialStep::of(inst) else { continue };
        let at = |i: SecretId| env.secret(i).map(|s| s.origin.location());
        if let Some(secret) = values.get(step.ims.client_secret) {
            if secret.expose().contains('/') {
                diags.push(
                    Diagnostic::error(at(step.ims.client_secret), format!("instances.{}.ims.clientSecret contains `/`, the field separator of nlserver -setims*", inst.name))
                        .with_help("create another client secret in the Developer Console (up to two exist at a time) and set it with nlconf secret set"),
                );
            }
            let s = secret.expose();
            if s.trim().is_empty() {
                diags.push(Diagnostic::error(
                    at(step.ims.client_secret),
                    format!("instances.{}.ims.clientSecret is empty", inst.name),
                ));
            } else if s.trim() != s || s.chars().any(char::is_control) {
                // (Which characters is not said: that would tell something of the secret.)
                diags.push(
                    Diagnostic::error(
                        at(step.ims.client_secret),
                        format!(
                            "instances.{}.ims.clientSecret has surrounding whitespace or a control character (a newline?): nlserver would store it as is",
                            inst.name
                        ),
                    )
                    .with_help("set it again without the newline: `printf %s 'VALUE' | nlconf secret set ...` (--from-file keeps a file's exact bytes)"),
                );
            }
        }
        if let Some(k) = step.ims.private_key
            && let Some(key) = values.get(k)
            && let Err(why) = check_rsa_pem(key.expose())
        {
            diags.push(
                Diagnostic::error(at(k), format!("instances.{}.ims.privateKey: {why}", inst.name))
                    .with_help("use the unencrypted private.key of the JWT credential (openssl genpkey/req -nodes writes PKCS#8 `BEGIN PRIVATE KEY`)"),
            );
        }
    }
    diags
}

/// An RSA private key in PEM, PKCS#8 or PKCS#1, not encrypted.
pub fn check_rsa_pem(pem: &str) -> Result<(), String> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    let text = pem.trim();
    if text.contains("ENCRYPTED") {
        return Err("the private key is encrypted with a passphrase; nlserver needs it unencrypted".into());
    }
    if text.starts_with("-----BEGIN EC PRIVATE KEY-----") || text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----") {
        return Err("not an RSA private key (Adobe's JWT credentials use RSA)".into());
    }
    if text.starts_with("-----BEGIN RSA PRIVATE KEY-----") {
        return rsa::RsaPrivateKey::from_pkcs1_pem(text)
            .map(|_| ())
            .map_err(|_| "not a valid PKCS#1 RSA private key".into());
    }
    if text.starts_with("-----BEGIN PRIVATE KEY-----") {
        return rsa::RsaPrivateKey::from_pkcs8_pem(text)
            .map(|_| ())
            .map_err(|_| "not a valid PKCS#8 RSA private key (an EC or Ed25519 key?)".into());
    }
    Err("not a PEM private key (expected -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)".into())
}

#[cfg(test)]
mod tests;
