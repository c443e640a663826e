//! The public key a new repository's `recipients` starts with: the user's own, so that they can
//! encrypt and read the first secrets at once (DESIGN §4, §11).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use zeroize::Zeroizing;

use crate::secrets::{IdentitySource, MAX_IDENTITY_BYTES, RecipientSet, identity_search_order};
use crate::support::fs::read_input;

/// A public key found, and where it came from (for the file's comment and the report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// One line of a `recipients` file: `age1...`, or `ssh-ed25519 AAAA... comment`.
    pub line: String,
    /// Where it was found, e.g. `~/.config/nlconf/identity.txt`.
    pub from: String,
}

/// What was looked at, and what was found.
#[derive(Debug, Default)]
pub struct Found {
    pub keys: Vec<PublicKey>,
    /// Identities that were there but gave no public key, and why (shown as notes).
    pub skipped: Vec<String>,
}

/// The public keys of the identities nlconf would decrypt with (`--identity`, `NLCONF_AGE_IDENTITY`,
/// `SOPS_AGE_KEY_FILE`, `~/.config/nlconf/identity.txt`: age identities give their `age1...`
/// recipients, an SSH private key the `.pub` file beside it); when they give none,
/// `~/.ssh/id_ed25519.pub`.
pub fn find(cli: &[PathBuf], getenv: &dyn Fn(&str) -> Option<String>, home: Option<&Path>) -> Found {
    let mut found = Found::default();
    for source in identity_search_order(cli, getenv, home) {
        match public_keys_of(&source, home) {
            Ok(keys) => found.keys.extend(keys),
            Err(why) => found.skipped.push(format!("{}: {why}", shown(&source.path, home))),
        }
    }
    if found.keys.is_empty()
        && let Some(home) = home
    {
        let pub_file = home.join(".ssh").join("id_ed25519.pub");
        if let Some(key) = ssh_public_key(&pub_file, Some(home)) {
            found.keys.push(key);
        }
    }
    found.keys.dedup_by(|a, b| a.line == b.line);
    found
}

fn public_keys_of(source: &IdentitySource, home: Option<&Path>) -> Result<Vec<PublicKey>, String> {
    let bytes = Zeroizing::new(read_input(&source.path, MAX_IDENTITY_BYTES, None).map_err(|e| e.reason())?);
    let text = std::str::from_utf8(&bytes).map_err(|_| "not an age identity or SSH private key".to_string())?;
    let from = shown(&source.path, home);
    if text.trim_start().starts_with("-----BEGIN") {
        // An SSH private key: its public half is the `.pub` file ssh-keygen writes beside it.
        let mut pub_file = source.path.clone().into_os_string();
        pub_file.push(".pub");
        return ssh_public_key(Path::new(&pub_file), home)
            .map(|k| vec![k])
            .ok_or_else(|| format!("an SSH private key without a readable public key beside it ({from}.pub)"));
    }
    let keys: Vec<PublicKey> = text
        .lines()
        .filter_map(|line| age::x25519::Identity::from_str(line.trim()).ok())
        .map(|identity| PublicKey { line: identity.to_public().to_string(), from: from.clone() })
        .collect();
    if keys.is_empty() {
        return Err("holds no age identity (AGE-SECRET-KEY-1...)".to_string());
    }
    Ok(keys)
}

/// The first key of a public key file, when it is one that age encrypts to.
fn ssh_public_key(path: &Path, home: Option<&Path>) -> Option<PublicKey> {
    let bytes = read_input(path, MAX_IDENTITY_BYTES, None).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let line = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#'))?;
    RecipientSet::parse(line).ok()?;
    Some(PublicKey { line: line.to_string(), from: shown(path, home) })
}

/// A path as the user knows it: `~/...` under the home folder.
fn shown(path: &Path, home: Option<&Path>) -> String {
    match home.and_then(|h| path.strip_prefix(h).ok()) {
        Some(rest) => format!("~/{}", rest.display()),
        None => path.display().to_string(),
    }
}
