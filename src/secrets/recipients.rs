//! An environment's `recipients` file: who may decrypt its secrets.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::prelude::{BASE64_STANDARD, BASE64_STANDARD_NO_PAD};
use sha2::{Digest, Sha256};

/// A problem on one line of a `recipients` file. Lines and columns are 1-based.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for LineError {}

/// The kind of a recipient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecipientKind {
    /// A native age key, `age1...`.
    X25519,
    /// An OpenSSH `ssh-ed25519` public key.
    SshEd25519,
    /// An OpenSSH `ssh-rsa` public key (2048 bits or more).
    SshRsa,
}

#[derive(Clone)]
enum ParsedRecipient {
    X25519(age::x25519::Recipient),
    Ssh(age::ssh::Recipient),
}

/// One recipient of the set.
#[derive(Clone)]
pub struct RecipientEntry {
    line: usize,
    kind: RecipientKind,
    canonical: String,
    parsed: ParsedRecipient,
}

impl RecipientEntry {
    /// The 1-based line of the `recipients` file it was read from (its first occurrence).
    pub fn line(&self) -> usize {
        self.line
    }

    pub fn kind(&self) -> RecipientKind {
        self.kind
    }

    /// The canonical text: `age1...` in lower case, or `ssh-<type> <base64 key>` without
    /// the comment. This is what [`RecipientSet::digest`] covers.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }

    /// For an SSH key, the 4-byte key tag that age writes in the file's stanza
    /// (`-> ssh-ed25519 <tag> ...`), as unpadded base64. This lets a "no matching
    /// identity" report be matched with a line of the recipients file. X25519 stanzas
    /// carry no tag.
    pub fn ssh_tag(&self) -> Option<String> {
        match self.kind {
            RecipientKind::X25519 => None,
            RecipientKind::SshEd25519 | RecipientKind::SshRsa => {
                let key = self.canonical.split(' ').nth(1)?;
                let wire = BASE64_STANDARD.decode(key).ok()?;
                Some(BASE64_STANDARD_NO_PAD.encode(&Sha256::digest(&wire)[..4]))
            }
        }
    }
}

impl fmt::Debug for RecipientEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecipientEntry")
            .field("line", &self.line)
            .field("kind", &self.kind)
            .field("canonical", &self.canonical)
            .finish()
    }
}

/// The parsed `recipients` file of an environment, in `age -R` syntax: one recipient per
/// line (`age1...`, `ssh-ed25519 ...` or `ssh-rsa ...`, an SSH key may keep its
/// comment), `#` comment lines and blank lines ignored.
#[derive(Clone, Debug)]
pub struct RecipientSet {
    entries: Vec<RecipientEntry>,
}

impl RecipientSet {
    /// Parses the text of a `recipients` file, reporting every bad line. A duplicate
    /// recipient is kept once.
    pub fn parse(text: &str) -> Result<RecipientSet, Vec<LineError>> {
        let mut entries: Vec<RecipientEntry> = Vec::new();
        let mut errors = Vec::new();
        // Inside a pasted private key (`-----BEGIN ...` to `-----END ...`): its first line is
        // reported, the others are key material and are neither parsed nor quoted.
        let mut in_key = false;
        for (index, raw) in text.split('\n').enumerate() {
            let line = index + 1;
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            let body = raw.trim_start();
            let column = raw[..raw.len() - body.len()].chars().count() + 1;
            let body = body.trim_end();
            if body.is_empty() || body.starts_with('#') {
                continue;
            }
            if in_key {
                in_key = !body.starts_with("-----END");
                continue;
            }
            in_key = body.starts_with("-----BEGIN");
            match parse_recipient(body) {
                Ok((kind, parsed, canonical)) => {
                    if entries.iter().all(|e| e.canonical != canonical) {
                        entries.push(RecipientEntry { line, kind, canonical, parsed });
                    }
                }
                Err(message) => errors.push(LineError { line, column, message }),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        if entries.is_empty() {
            return Err(vec![LineError {
                line: 1,
                column: 1,
                message: "no recipients: add at least one age1... or ssh-ed25519 key".to_owned(),
            }]);
        }
        Ok(RecipientSet { entries })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Always false for a parsed set (an empty file is an error); here for clippy's
    /// `len_without_is_empty` and for symmetry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The recipients, in file order.
    pub fn entries(&self) -> &[RecipientEntry] {
        &self.entries
    }

    /// 16 hex characters of SHA-256 over the sorted canonical recipient texts, each
    /// followed by `\n`. Reordering lines, duplicating a key or editing comments does
    /// not change it; adding, removing or replacing a key does.
    pub fn digest(&self) -> String {
        let mut canonical: Vec<&str> = self.entries.iter().map(|e| e.canonical()).collect();
        canonical.sort_unstable();
        canonical.dedup();
        let mut hasher = Sha256::new();
        for text in canonical {
            hasher.update(text.as_bytes());
            hasher.update(b"\n");
        }
        crate::support::digest::hex(&hasher.finalize()[..8])
    }

    /// The recipients as age wants them for [`age::Encryptor::with_recipients`].
    pub fn to_age_recipients(&self) -> Vec<Box<dyn age::Recipient + Send>> {
        self.entries
            .iter()
            .map(|e| -> Box<dyn age::Recipient + Send> {
                match &e.parsed {
                    ParsedRecipient::X25519(r) => Box::new(r.clone()),
                    ParsedRecipient::Ssh(r) => Box::new(r.clone()),
                }
            })
            .collect()
    }
}

const EXPECTED: &str = "expected an age recipient (age1...) or an OpenSSH public key (ssh-ed25519/ssh-rsa)";

/// Parses one non-comment line (already trimmed).
fn parse_recipient(body: &str) -> Result<(RecipientKind, ParsedRecipient, String), String> {
    let first = body.split_whitespace().next().unwrap_or(body);
    let lower = first.to_ascii_lowercase();

    // A private key pasted here by mistake must not be echoed into a log.
    if lower.starts_with("age-secret-key-") || lower.starts_with("age-plugin-") {
        return Err("this is an age identity (a private key), not a recipient: remove it from \
             this file now and list its public key instead (`age-keygen -y`)"
            .to_owned());
    }
    if body.starts_with("-----BEGIN") {
        return Err("this looks like a private key, not a recipient: remove it from this file now and \
             list its public key instead (`ssh-keygen -y -f KEY`)"
            .to_owned());
    }

    if lower.starts_with("age1") {
        // Bech32: the human-readable part is everything before the last `1`.
        let hrp = lower.rfind('1').map_or("", |i| &lower[..i]);
        if let Some(plugin) = hrp.strip_prefix("age1") {
            return Err(format!(
                "plugin recipients are not supported (`age1{plugin}...` needs the age-plugin-{plugin} \
                 program): use an age1... X25519 key or an ssh-ed25519/ssh-rsa key"
            ));
        }
        if first.len() != body.len() {
            return Err(format!(
                "{EXPECTED}, found `{}` followed by more text: an age1... recipient stands alone \
                 on its line (put comments on their own `#` line)",
                shorten(first)
            ));
        }
        return match age::x25519::Recipient::from_str(first) {
            Ok(r) => {
                let canonical = r.to_string();
                Ok((RecipientKind::X25519, ParsedRecipient::X25519(r), canonical))
            }
            Err(why) => Err(format!(
                "`{}` is not a valid age recipient ({why}): copy the public key printed by \
                 `age-keygen` (age1 followed by 58 characters)",
                shorten(first)
            )),
        };
    }

    if first == "ssh-ed25519" || first == "ssh-rsa" {
        return match age::ssh::Recipient::from_str(body) {
            Ok(r) => {
                let canonical = r.to_string();
                let kind = if first == "ssh-rsa" { RecipientKind::SshRsa } else { RecipientKind::SshEd25519 };
                Ok((kind, ParsedRecipient::Ssh(r), canonical))
            }
            Err(age::ssh::ParseRecipientKeyError::RsaModulusTooSmall) => {
                Err("this ssh-rsa key is shorter than 2048 bits, which age refuses: use a longer \
                 key or an ssh-ed25519 key"
                    .to_owned())
            }
            Err(age::ssh::ParseRecipientKeyError::RsaModulusTooLarge) => {
                Err("this ssh-rsa key is longer than age supports (16384 bits): use a shorter key \
                 or an ssh-ed25519 key"
                    .to_owned())
            }
            Err(_) => Err(format!(
                "invalid {first} public key: expected `{first} <base64 key> [comment]` as in \
                 a .pub file or authorized_keys"
            )),
        };
    }

    if lower.starts_with("ssh-")
        || lower.starts_with("ecdsa-")
        || lower.starts_with("sk-")
        || lower.starts_with("ssh-dss")
    {
        return Err(format!(
            "SSH key type `{}` is not supported by age: use an ssh-ed25519 or ssh-rsa key, or an \
             age1... key",
            shorten(first)
        ));
    }

    Err(format!("{EXPECTED}, found `{}`", shorten(first)))
}

/// Keeps error messages one line long whatever was pasted into the file.
fn shorten(token: &str) -> String {
    const MAX: usize = 40;
    if token.chars().count() <= MAX {
        token.to_owned()
    } else {
        let head: String = token.chars().take(MAX).collect();
        format!("{head}...")
    }
}

#[cfg(test)]
mod tests;
