//! Credential steps (DESIGN §9): what only nlserver can encrypt with the instance's key, nlconf sets
//! by running it on every container of the instance, and then carries over from the deployed file.
//! One mechanism for every kind: the IMS technical account (`-setimsoauth` / `-setimsjwtauth`) and
//! the default data source's database login (`-setdblogin`). Each kind says its command, its
//! non-secret fields, its secrets, and what the deployed file must hold once it has run; planning,
//! fingerprints, the state record, the review and apply are the same for all.

mod fingerprint;
mod state;

pub use state::{AppliedCredential, STATE_SCHEMA, StateRecord, state_file};

use std::collections::BTreeMap;

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::diag::{Diagnostic, Diagnostics};
use crate::env::{Auth, DbLogin, Environment, Ims, Instance};
use crate::secrets::{SecretId, SecretStore};
use crate::support::xml::XmlElement;

/// A kind of credential, with its own fields.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    Ims(&'a Ims),
    DbLogin(&'a DbLogin),
}

/// One credential step of an instance (the same on each of its containers).
#[derive(Debug, Clone, Copy)]
pub struct CredentialStep<'a> {
    pub instance: &'a str,
    pub credential: Credential<'a>,
}

/// What a deployed file holds of the credentials: the attributes credential steps write, by
/// `element/@attribute` (`ims/@authIMSTAClientId`, `dbcnx/@password`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeployedFacts(BTreeMap<&'static str, String>);

impl DeployedFacts {
    /// Reads them from a deployed file: `shared/ims`, and the default data source's `dbcnx`.
    pub fn of(tree: &XmlElement) -> DeployedFacts {
        let mut facts = BTreeMap::new();
        let shared = tree.child("shared");
        if let Some(ims) = shared.and_then(|s| s.child("ims")) {
            for a in ["authIMSTAClientId", "authIMSTAId", "authIMSTAClientSecret", "authIMSTAPrivateKey"] {
                if let Some(v) = ims.attr(a) {
                    facts.insert(ims_key(a), v.to_string());
                }
            }
        }
        let dbcnx = shared
            .and_then(|s| s.child("dataStore"))
            .and_then(|d| d.children.iter().find(|c| c.name == "dataSource" && c.attr("name") == Some("default")))
            .and_then(|d| d.child("dbcnx"));
        if let Some(dbcnx) = dbcnx {
            for a in ["provider", "login", "server", "password", "encrypted"] {
                if let Some(v) = dbcnx.attr(a) {
                    facts.insert(db_key(a), v.to_string());
                }
            }
        }
        DeployedFacts(facts)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }
}

fn ims_key(a: &str) -> &'static str {
    match a {
        "authIMSTAClientId" => "ims/@authIMSTAClientId",
        "authIMSTAId" => "ims/@authIMSTAId",
        "authIMSTAClientSecret" => "ims/@authIMSTAClientSecret",
        _ => "ims/@authIMSTAPrivateKey",
    }
}

fn db_key(a: &str) -> &'static str {
    match a {
        "provider" => "dbcnx/@provider",
        "login" => "dbcnx/@login",
        "server" => "dbcnx/@server",
        "password" => "dbcnx/@password",
        _ => "dbcnx/@encrypted",
    }
}

impl<'a> CredentialStep<'a> {
    /// Every credential step of an instance, in the order apply runs them.
    pub fn of(inst: &'a Instance) -> Vec<CredentialStep<'a>> {
        let ims = inst.ims.as_ref().map(Credential::Ims);
        let db = inst.db_login.as_ref().map(Credential::DbLogin);
        ims.into_iter().chain(db).map(|credential| CredentialStep { instance: &inst.name, credential }).collect()
    }

    /// The step of this kind an instance has, if it has one.
    pub fn find(inst: &'a Instance, kind: &str) -> Option<CredentialStep<'a>> {
        CredentialStep::of(inst).into_iter().find(|s| s.kind() == kind)
    }

    /// Its name in state records, plans and reviews.
    pub fn kind(&self) -> &'static str {
        match self.credential {
            Credential::Ims(_) => "ims",
            Credential::DbLogin(_) => "dblogin",
        }
    }

    /// What apply reports once it ran.
    pub fn done(&self) -> &'static str {
        match self.credential {
            Credential::Ims(_) => "set the IMS credentials",
            Credential::DbLogin(_) => "set the database login",
        }
    }

    /// What it sets, for people.
    pub fn what(&self) -> &'static str {
        match self.credential {
            Credential::Ims(_) => "the IMS technical-account credentials",
            Credential::DbLogin(_) => "the database login",
        }
    }

    /// The non-secret fields, by their YAML names, in the order they are fingerprinted.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        match self.credential {
            Credential::Ims(ims) => vec![
                ("auth", ims.auth.name().to_string()),
                ("orgId", ims.org_id.clone()),
                ("clientId", ims.client_id.clone()),
                ("technicalAccountId", ims.technical_account_id.clone()),
            ],
            Credential::DbLogin(db) => {
                vec![("provider", db.provider.clone()), ("login", db.login.clone()), ("server", db.server.clone())]
            }
        }
    }

    /// The secrets, by their YAML names.
    pub fn secrets(&self) -> Vec<(&'static str, SecretId)> {
        match self.credential {
            Credential::Ims(ims) => std::iter::once(("clientSecret", ims.client_secret))
                .chain(ims.private_key.map(|k| ("privateKey", k)))
                .collect(),
            Credential::DbLogin(db) => vec![("password", db.password)],
        }
    }

    /// The command as shown in reviews and logs: secrets masked.
    pub fn shown(&self, nlserver: &str) -> String {
        match self.credential {
            Credential::Ims(ims) => {
                let key = if ims.auth == Auth::Jwt { "/(sensitive)" } else { "" };
                format!(
                    "{nlserver} config -instance:{} {}:{}/{}/{}/(sensitive){key}",
                    self.instance,
                    ims_option(ims),
                    ims.org_id,
                    ims.client_id,
                    ims.technical_account_id
                )
            }
            Credential::DbLogin(db) => {
                let password = if db.is_mssql() { "\"(sensitive)\"" } else { "(sensitive)" };
                format!(
                    "{nlserver} config -setdblogin:{}:{}/{password}@{} -instance:{}",
                    db.provider, db.login, db.server, self.instance
                )
            }
        }
    }

    /// The real argument vector (no shell): the only place a credential's plaintext goes. The
    /// argument at `secret_arg()` holds it.
    pub fn argv(&self, nlserver: &str, store: &SecretStore) -> Option<Vec<Zeroizing<String>>> {
        let secret = |id: SecretId| store.get(id).map(|v| v.expose());
        match self.credential {
            Credential::Ims(ims) => {
                let key = match ims.auth {
                    Auth::Jwt => Some(Zeroizing::new(BASE64_STANDARD.encode(secret(ims.private_key?)?))),
                    Auth::Oauth => None,
                };
                let head =
                    format!("{}:{}/{}/{}/", ims_option(ims), ims.org_id, ims.client_id, ims.technical_account_id);
                let client_secret = secret(ims.client_secret)?;
                let tail = key.as_ref().map_or(0, |k| k.len() + 1);
                // Sized up front (growing would leave unwiped copies of the credentials behind).
                let mut arg = Zeroizing::new(String::with_capacity(head.len() + client_secret.len() + tail));
                arg.push_str(&head);
                arg.push_str(client_secret);
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
            Credential::DbLogin(db) => {
                let password = secret(db.password)?;
                let quote = if db.is_mssql() { "\"" } else { "" };
                let head = format!("-setdblogin:{}:{}/{quote}", db.provider, db.login);
                let tail = format!("{quote}@{}", db.server);
                let mut arg = Zeroizing::new(String::with_capacity(head.len() + password.len() + tail.len()));
                arg.push_str(&head);
                arg.push_str(password);
                arg.push_str(&tail);
                Some(vec![
                    Zeroizing::new(nlserver.to_string()),
                    Zeroizing::new("config".into()),
                    arg,
                    Zeroizing::new(format!("-instance:{}", self.instance)),
                ])
            }
        }
    }

    /// Which argument of `argv` holds the secret (over ssh it travels on stdin).
    pub fn secret_arg(&self) -> usize {
        match self.credential {
            Credential::Ims(_) => 3,
            Credential::DbLogin(_) => 2,
        }
    }

    /// SHA-256 of the secrets' ciphertexts, in order.
    pub fn ciphertext_digest(&self, env: &Environment) -> String {
        let mut h = Sha256::new();
        for (_, id) in self.secrets() {
            if let Some(ct) = env.secret(id).and_then(|s| s.ciphertext.as_ref()) {
                h.update(ct.armor.as_bytes());
            }
            h.update([0]);
        }
        format!("sha256:{}", crate::support::digest::hex(&h.finalize()))
    }

    /// Every field and secret, `\0`-separated, after `prefix`; `None` without the plaintexts.
    fn material(&self, prefix: &str, store: &SecretStore) -> Option<Zeroizing<Vec<u8>>> {
        let fields = self.fields();
        let secrets: Vec<&str> =
            self.secrets().into_iter().map(|(_, id)| store.get(id).map(|v| v.expose())).collect::<Option<_>>()?;
        // Sized up front (growing would leave unwiped copies of the credentials behind).
        let len = prefix.len()
            + fields.iter().map(|(_, v)| v.len() + 1).sum::<usize>()
            + secrets.iter().map(|s| s.len() + 1).sum::<usize>();
        let mut material = Zeroizing::new(Vec::with_capacity(len));
        material.extend_from_slice(prefix.as_bytes());
        for part in fields.iter().map(|(_, v)| v.as_str()).chain(secrets) {
            material.extend_from_slice(part.as_bytes());
            material.push(0);
        }
        Some(material)
    }

    fn context(&self, env_name: &str) -> String {
        format!("nlconf-credentials-v2\0{env_name}\0{}\0{}\0", self.instance, self.kind())
    }

    /// What to record once the step has run; `None` without the plaintexts.
    pub fn record(&self, env: &Environment, store: &SecretStore) -> Option<AppliedCredential> {
        let material = self.material(&self.context(&env.name), store)?;
        Some(AppliedCredential {
            fields: self.fields().into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            fingerprint: fingerprint::derive(&material)?,
            ciphertexts: self.ciphertext_digest(env),
        })
    }

    /// Whether the recorded fingerprint is of these credentials; `None` when it cannot be told.
    fn same_as(&self, env: &Environment, applied: &AppliedCredential, store: &SecretStore) -> Option<bool> {
        let material = self.material(&self.context(&env.name), store)?;
        let legacy = self.material("", store)?;
        let legacy_salt = format!("nlconf-credentials-v1\0{}\0{}", env.name, self.instance);
        fingerprint::verify(&applied.fingerprint, &material, &legacy, legacy_salt.as_bytes())
    }

    /// Whether the step must run on a container, and why: no record of it, its fields changed, the
    /// deployed file no longer holds what it set (deployed truth wins), or its secrets changed. With
    /// the plaintexts the last answer is exact; without them a changed ciphertext counts as a change.
    pub fn needed(
        &self,
        env: &Environment,
        state: Option<&StateRecord>,
        deployed: Option<&DeployedFacts>,
        store: Option<&SecretStore>,
    ) -> Option<String> {
        let Some(applied) = state.and_then(|s| s.credentials.get(self.kind())) else {
            return Some(format!("no record of {} on this container", self.what()));
        };
        let changed: Vec<&str> =
            self.fields().into_iter().filter(|(k, v)| applied.fields.get(*k) != Some(v)).map(|(k, _)| k).collect();
        if !changed.is_empty() {
            return Some(format!("{} changed since the last apply", changed.join(", ")));
        }
        if let Some(why) = deployed.and_then(|d| self.deployed_differs(d)) {
            return Some(why);
        }
        if applied.ciphertexts == self.ciphertext_digest(env) {
            return None;
        }
        let names: Vec<&str> = self.secrets().into_iter().map(|(n, _)| n).collect();
        match store.and_then(|s| self.same_as(env, applied, s)) {
            Some(true) => None,
            Some(false) => Some(format!("{} changed since the last apply", names.join(" or "))),
            None => Some(format!(
                "{} re-encrypted or changed; without an identity nlconf cannot tell which",
                names.join(" or ")
            )),
        }
    }

    /// What the deployed file lacks or holds otherwise than this step sets it, if anything.
    pub fn deployed_differs(&self, facts: &DeployedFacts) -> Option<String> {
        match self.credential {
            Credential::Ims(ims) => {
                for (key, want) in
                    [("ims/@authIMSTAClientId", &ims.client_id), ("ims/@authIMSTAId", &ims.technical_account_id)]
                {
                    match facts.get(key) {
                        None => {
                            return Some(format!("the deployed file has no {} (restored or edited?)", attr_name(key)));
                        }
                        Some(v) if v != want => {
                            return Some(format!("the deployed {} is `{v}`, not the YAML's", attr_name(key)));
                        }
                        _ => {}
                    }
                }
                let secrets: &[&str] = match ims.auth {
                    Auth::Oauth => &["ims/@authIMSTAClientSecret"],
                    Auth::Jwt => &["ims/@authIMSTAClientSecret", "ims/@authIMSTAPrivateKey"],
                };
                secrets
                    .iter()
                    .find(|k| facts.get(k).is_none())
                    .map(|k| format!("the deployed file has no encrypted {} (restored or edited?)", attr_name(k)))
            }
            Credential::DbLogin(db) => {
                let encrypted = facts.get("dbcnx/@encrypted").is_some_and(|e| e == "1" || e == "true");
                if facts.get("dbcnx/@password").is_none() || !encrypted {
                    return Some("the deployed dbcnx has no encrypted password (restored or edited?)".into());
                }
                for (key, want) in [("dbcnx/@login", &db.login), ("dbcnx/@server", &db.server)] {
                    if facts.get(key) != Some(want.as_str()) {
                        return Some(format!("the deployed dbcnx {} is not the YAML's", attr_name(key)));
                    }
                }
                None
            }
        }
    }
}

/// `authIMSTAClientId` of `ims/@authIMSTAClientId`.
fn attr_name(key: &str) -> &str {
    key.rsplit('@').next().unwrap_or(key)
}

fn ims_option(ims: &Ims) -> &'static str {
    match ims.auth {
        Auth::Oauth => "-setimsoauth",
        Auth::Jwt => "-setimsjwtauth",
    }
}

/// Checks that need the plaintexts (DESIGN §3, §9): a client secret without `/`, an unencrypted RSA
/// private key in PEM for JWT, and a database password that `-setdblogin` can carry. Each finding
/// is at the secret's YAML line and never quotes it.
pub fn check_plaintexts(env: &Environment, store: &SecretStore) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let at = |id: SecretId| env.secret(id).map(|s| s.origin.location());
    for inst in &env.instances {
        if let Some(ims) = &inst.ims
            && let Some(secret) = store.get(ims.client_secret)
        {
            let s = secret.expose();
            if s.contains('/') {
                diags.push(
                    Diagnostic::error(at(ims.client_secret), format!("instances.{}.ims.clientSecret contains `/`, the field separator of nlserver -setims*", inst.name))
                        .with_help("create another client secret in the Developer Console (up to two exist at a time) and set it with nlconf secret set"),
                );
            }
            if s.trim().is_empty() {
                diags.push(Diagnostic::error(
                    at(ims.client_secret),
                    format!("instances.{}.ims.clientSecret is empty", inst.name),
                ));
            } else if s.trim() != s || s.chars().any(char::is_control) {
                // (Which characters is not said: that would tell something of the secret.)
                diags.push(
                    Diagnostic::error(
                        at(ims.client_secret),
                        format!(
                            "instances.{}.ims.clientSecret has surrounding whitespace or a control character (a newline?): nlserver would store it as is",
                            inst.name
                        ),
                    )
                    .with_help("set it again without the newline: `printf %s 'VALUE' | nlconf secret set ...` (--from-file keeps a file's exact bytes)"),
                );
            }
        }
        if let Some(k) = inst.ims.as_ref().and_then(|i| i.private_key)
            && let Some(key) = store.get(k)
            && let Err(why) = check_rsa_pem(key.expose())
        {
            diags.push(
                Diagnostic::error(at(k), format!("instances.{}.ims.privateKey: {why}", inst.name))
                    .with_help("use the unencrypted private.key of the JWT credential (openssl genpkey/req -nodes writes PKCS#8 `BEGIN PRIVATE KEY`)"),
            );
        }
        if let Some(db) = &inst.db_login
            && let Some(password) = store.get(db.password)
            && let Some(why) = crate::env::dblogin::password_problem(db, password.expose())
        {
            diags.push(
                Diagnostic::error(
                    at(db.password),
                    format!("instances.{}.{}.password {why}", inst.name, crate::env::dblogin::DBCNX_PATH),
                )
                .with_help("change the database password to one without it, then set it with nlconf secret set"),
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
