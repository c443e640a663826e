//! The `ims:` block: the Adobe IMS technical account that Triggers authenticate with (DESIGN §3).

use std::collections::HashMap;

use super::value::{Origin, Value};
use super::{OAUTH_MIN_BUILD, expect_map, expect_scalar, unknown_key};
use crate::diag::{Diagnostic, Diagnostics};
// The keys of an `ims:` block, with what they hold (shown to editors by `nlconf schema`).
use crate::schema::keys::{self, IMS as KEYS};
use crate::secrets::SecretId;
use crate::support::yaml::Tag;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// OAuth Server-to-Server: `nlserver config -setimsoauth` (ACC 7.4.1, build 9383, and later).
    Oauth,
    /// Service Account (JWT): `nlserver config -setimsjwtauth` (20.3 to 7.4.0); end of life.
    Jwt,
}

impl Auth {
    pub fn name(self) -> &'static str {
        match self {
            Auth::Oauth => "oauth",
            Auth::Jwt => "jwt",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Ims {
    pub auth: Auth,
    pub org_id: String,
    pub client_id: String,
    pub technical_account_id: String,
    /// Index into `Environment::secrets`.
    pub client_secret: SecretId,
    pub private_key: Option<SecretId>,
    pub origin: Origin,
}

/// The warning every command touching a JWT instance prints once.
pub const JWT_END_OF_LIFE: &str =
    "Service Account (JWT) credentials reached end of life on 2025-06-30 and stop working on 2026-03-01";
pub const JWT_MIGRATION: &str = "migrate to OAuth Server-to-Server: in the Adobe Developer Console add an OAuth Server-to-Server credential to the same project (clientId and technicalAccountId stay) and create a client secret; upgrade ACC to 7.4.1 (build 9383) or later; then set `auth: oauth`, `campaign.build`, the new clientSecret, and remove privateKey";

pub fn load(
    diags: &mut Diagnostics,
    v: &Value,
    env: &str,
    instance: &str,
    build: u32,
    secrets: &HashMap<Origin, SecretId>,
) -> Option<Ims> {
    let v = expect_map(diags, v, &format!("instances.{instance}.ims"))?;
    for f in v.fields() {
        if !keys::has(KEYS, &f.key) {
            unknown_key(diags, f, &format!("instances.{instance}.ims"), KEYS);
        }
    }
    let missing = |diags: &mut Diagnostics, key: &str, example: &str| {
        diags.push(
            Diagnostic::at(v.origin.location(), format!("instances.{instance}.ims: `{key}` is required"))
                .with_help(format!("add `{key}: {example}`")),
        );
    };
    let text = |diags: &mut Diagnostics, key: &str, example: &str| -> Option<(String, Origin)> {
        match v.get(key) {
            None => {
                missing(diags, key, example);
                None
            }
            Some(x) => expect_scalar(diags, x, &format!("ims.{key}")).map(|s| (s.to_string(), x.origin.clone())),
        }
    };
    let auth = text(diags, "auth", "oauth").and_then(|(a, origin)| match a.as_str() {
        "oauth" => Some((Auth::Oauth, origin)),
        "jwt" => Some((Auth::Jwt, origin)),
        other => {
            diags.error(
                origin.location(),
                format!(
                    "ims.auth: expected `oauth` (OAuth Server-to-Server) or `jwt` (Service Account), found `{other}`"
                ),
            );
            None
        }
    });
    let org_id = text(diags, "orgId", "0123456789ABCDEF01234567@AdobeOrg");
    if let Some((org, origin)) = &org_id {
        check_org_id(diags, org, origin);
    }
    let client_id = text(diags, "clientId", "e053e1a87cf74c68a6ec8e71d4a82662");
    if let Some((id, origin)) = &client_id {
        check_client_id(diags, id, origin);
    }
    let ta = text(diags, "technicalAccountId", "6657031C5C095BB40A4B0123@techacct.adobe.com");
    if let Some((id, origin)) = &ta {
        check_technical_account_id(diags, id, origin);
    }
    let secret = |diags: &mut Diagnostics, key: &str| -> Option<SecretId> {
        let x = v.get(key)?;
        if x.tag != Tag::Age {
            diags.push(
                Diagnostic::at(x.origin.location(), format!("ims.{key} must be an `!age` secret, not plain text"))
                    .with_help(format!("encrypt it: nlconf secret set -e {env} instances.{instance}.ims.{key}")),
            );
            return None;
        }
        secrets.get(&x.origin).copied()
    };
    let client_secret = secret(diags, "clientSecret");
    if client_secret.is_none() && v.get("clientSecret").is_none() {
        missing(diags, "clientSecret", "!age … (nlconf secret set)");
    }
    let private_key = secret(diags, "privateKey");
    let (auth, auth_origin) = auth?;
    match auth {
        Auth::Oauth => {
            if build < OAUTH_MIN_BUILD && build > 0 {
                diags.push(
                    Diagnostic::at(auth_origin.location(), format!("ims.auth `oauth` needs ACC 7.4.1 (build {OAUTH_MIN_BUILD}) or later; campaign.build is {build}"))
                        .with_help("upgrade ACC (nlserver config -setimsoauth exists from build 9383), or correct campaign.build"),
                );
            }
            if let Some(k) = v.get("privateKey") {
                diags.push(Diagnostic::warning(
                    Some(k.origin.location()),
                    "ims.privateKey is not used by OAuth Server-to-Server; remove it",
                ));
            }
        }
        Auth::Jwt => {
            if v.get("privateKey").is_none() {
                missing(diags, "privateKey", "!age … (the PEM private key of the JWT credential)");
            }
            if build >= OAUTH_MIN_BUILD {
                diags.push(
                    Diagnostic::warning(Some(auth_origin.location()), format!("build {build} supports OAuth Server-to-Server; `auth: jwt` keeps a credential that has reached end of life"))
                        .with_help("set `auth: oauth` with a client secret of an OAuth Server-to-Server credential"),
                );
            }
        }
    }
    Some(Ims {
        auth,
        org_id: org_id?.0,
        client_id: client_id?.0,
        technical_account_id: ta?.0,
        client_secret: client_secret?,
        private_key: if auth == Auth::Jwt { Some(private_key?) } else { None },
        origin: v.origin.clone(),
    })
}

fn check_org_id(diags: &mut Diagnostics, org: &str, origin: &Origin) {
    match org.strip_suffix("@AdobeOrg") {
        Some(id) if id.len() == 24 && id.chars().all(|c| c.is_ascii_alphanumeric()) => {
            if !id.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
                || !id.chars().all(|c| c.is_ascii_hexdigit())
            {
                diags.push(Diagnostic::warning(
                    Some(origin.location()),
                    format!("ims.orgId `{org}`: Adobe organization IDs are usually 24 upper-case hex digits"),
                ));
            }
        }
        _ => diags.push(
            Diagnostic::at(origin.location(), format!("ims.orgId: `{org}` is not an Adobe organization ID"))
                .with_help("expected 24 letters or digits followed by @AdobeOrg, as shown in the Developer Console"),
        ),
    }
}

fn check_client_id(diags: &mut Diagnostics, id: &str, origin: &Origin) {
    if !(id.len() == 32 && id.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))) {
        diags.push(Diagnostic::warning(
            Some(origin.location()),
            format!("ims.clientId `{id}`: Developer Console client IDs are 32 lower-case hex digits; check it was copied whole"),
        ));
    }
}

fn check_technical_account_id(diags: &mut Diagnostics, id: &str, origin: &Origin) {
    let ok = id
        .strip_suffix("@techacct.adobe.com")
        .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if !ok {
        diags.push(
            Diagnostic::at(origin.location(), format!("ims.technicalAccountId: `{id}` is not a technical account ID"))
                .with_help("expected letters and digits followed by @techacct.adobe.com"),
        );
    }
}

/// An `ims:` block without `auth` (and without secrets): the credentials are not managed by nlconf,
/// as after `nlconf import`. Returns the client ID it names, for `ims status` and the review notes.
pub fn load_unmanaged(diags: &mut Diagnostics, v: &Value, env: &str, instance: &str) -> Option<String> {
    let v = expect_map(diags, v, &format!("instances.{instance}.ims"))?;
    for f in v.fields() {
        if !keys::has(KEYS, &f.key) {
            unknown_key(diags, f, &format!("instances.{instance}.ims"), KEYS);
        }
    }
    let get = |diags: &mut Diagnostics, key: &str| {
        v.get(key)
            .and_then(|x| expect_scalar(diags, x, &format!("ims.{key}")).map(|s| (s.to_string(), x.origin.clone())))
    };
    if let Some((org, origin)) = get(diags, "orgId") {
        check_org_id(diags, &org, &origin);
    }
    let client = get(diags, "clientId");
    if let Some((id, origin)) = &client {
        check_client_id(diags, id, origin);
    }
    if let Some((id, origin)) = get(diags, "technicalAccountId") {
        check_technical_account_id(diags, &id, &origin);
    }
    diags.push(
        Diagnostic::warning(
            Some(v.origin.location()),
            format!("instances.{instance}.ims has no `auth`: nlconf does not manage these credentials (no credential step)"),
        )
        .with_help(format!(
            "to manage them add `auth: oauth` and `orgId`, then: printf %s \"$CLIENT_SECRET\" | nlconf secret set -e {env} instances.{instance}.ims.clientSecret"
        )),
    );
    client.map(|(id, _)| id)
}

/// Whether an `ims:` block is the unmanaged kind (no `auth`, no secrets).
pub fn is_unmanaged(v: &Value) -> bool {
    v.is_map() && ["auth", "clientSecret", "privateKey"].iter().all(|k| v.get(k).is_none())
}
