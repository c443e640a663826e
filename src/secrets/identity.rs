//! Identities (private keys) that decrypt secrets, and where nlconf looks for them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use zeroize::Zeroizing;

use crate::support::fs::{InputError, read_input};

/// Where an identity file was named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityOrigin {
    /// `--identity FILE` (`-i`), repeatable.
    Flag,
    /// The `NLCONF_AGE_IDENTITY` environment variable.
    NlconfEnv,
    /// The `SOPS_AGE_KEY_FILE` environment variable.
    SopsEnv,
    /// `~/.config/nlconf/identity.txt`.
    HomeDefault,
}

impl IdentityOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityOrigin::Flag => "--identity",
            IdentityOrigin::NlconfEnv => "NLCONF_AGE_IDENTITY",
            IdentityOrigin::SopsEnv => "SOPS_AGE_KEY_FILE",
            IdentityOrigin::HomeDefault => "~/.config/nlconf/identity.txt",
        }
    }

    fn fix(self) -> &'static str {
        match self {
            IdentityOrigin::Flag => "fix the --identity argument",
            IdentityOrigin::NlconfEnv => "fix or unset NLCONF_AGE_IDENTITY",
            IdentityOrigin::SopsEnv => "fix or unset SOPS_AGE_KEY_FILE",
            IdentityOrigin::HomeDefault => "create it or pass --identity FILE",
        }
    }
}

impl fmt::Display for IdentityOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An identity file to load, and what named it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentitySource {
    pub path: PathBuf,
    pub origin: IdentityOrigin,
}

/// The identity files to use, first found wins (DESIGN §4): every `--identity` file if
/// any was given; else the file named by `NLCONF_AGE_IDENTITY`; else the one named by
/// `SOPS_AGE_KEY_FILE`; else `<home>/.config/nlconf/identity.txt` if it exists. An empty
/// variable counts as unset. A named file is returned even if it does not exist, so that
/// [`Identities::load_sources`] reports it; only the home default is optional. An empty
/// result means "no identity": secrets then stay encrypted.
pub fn identity_search_order(
    cli: &[PathBuf],
    getenv: &dyn Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Vec<IdentitySource> {
    if !cli.is_empty() {
        return cli.iter().map(|path| IdentitySource { path: path.clone(), origin: IdentityOrigin::Flag }).collect();
    }
    for origin in [IdentityOrigin::NlconfEnv, IdentityOrigin::SopsEnv] {
        if let Some(path) = getenv(origin.as_str()).filter(|p| !p.is_empty()) {
            return vec![IdentitySource { path: PathBuf::from(path), origin }];
        }
    }
    if let Some(home) = home {
        let path = home.join(".config").join("nlconf").join("identity.txt");
        if path.is_file() {
            return vec![IdentitySource { path, origin: IdentityOrigin::HomeDefault }];
        }
    }
    Vec::new()
}

/// Why an identity file could not be used. It names the file, and the line when there
/// is one; it never quotes the file's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub kind: IdentityErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentityErrorKind {
    /// A named file does not exist.
    NotFound(IdentityOrigin),
    /// The file exists but cannot be read (the I/O error's text).
    Unreadable(String),
    /// An SSH key encrypted with a passphrase.
    Passphrase,
    /// Not a regular file of a sensible size (the reason, see `support::fs::InputError`).
    NotAFile(String),
    /// An SSH key of a type age does not support (the type).
    UnsupportedSshKey(String),
    /// An SSH key held by a hardware security key (the type).
    HardwareSshKey(String),
    /// A private key in a format age does not read (PKCS#8 PEM, PuTTY, ...).
    UnsupportedPrivateKey,
    /// A public key (recipient) where a private key was expected.
    PublicKey,
    /// An `AGE-PLUGIN-...` identity.
    Plugin,
    /// A line that is not an age identity.
    NotAnIdentity,
    /// No identity in the file.
    Empty,
}

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        match &self.kind {
            IdentityErrorKind::NotFound(origin) => {
                write!(f, "no such identity file (named by {origin}): {}", origin.fix())
            }
            IdentityErrorKind::Unreadable(why) => {
                write!(f, "cannot read the identity file ({why}): check the path and its permissions")
            }
            IdentityErrorKind::NotAFile(why) => {
                write!(f, "{why}: pass the identity file itself (age-keygen writes one, or an SSH private key)")
            }
            IdentityErrorKind::Passphrase => f.write_str(
                "the SSH key is protected by a passphrase; nlconf cannot prompt here: decrypt a \
                 copy (ssh-keygen -p) or use an age identity",
            ),
            IdentityErrorKind::UnsupportedSshKey(kind) => write!(
                f,
                "SSH key type `{kind}` is not supported by age: use an ssh-ed25519 or ssh-rsa key, \
                 or an age identity (age-keygen)"
            ),
            IdentityErrorKind::HardwareSshKey(kind) => write!(
                f,
                "`{kind}` keys live on a hardware security key, which nlconf cannot use: use an \
                 age identity or a plain ssh-ed25519 key"
            ),
            IdentityErrorKind::UnsupportedPrivateKey => f.write_str(
                "this private key format is not supported: age reads OpenSSH private keys (what \
                 ssh-keygen writes) and PEM RSA keys; use such a key or an age identity",
            ),
            IdentityErrorKind::PublicKey => f.write_str(
                "this is a public key (a recipient), not an identity: pass the private key (for \
                 SSH the file without .pub, for age the file holding AGE-SECRET-KEY-1...)",
            ),
            IdentityErrorKind::Plugin => f.write_str(
                "plugin identities (AGE-PLUGIN-...) are not supported: use an age identity \
                 (AGE-SECRET-KEY-1...) or an ssh-ed25519/ssh-rsa key",
            ),
            IdentityErrorKind::NotAnIdentity => f.write_str(
                "not an age identity: expected AGE-SECRET-KEY-1... lines and # comments (as \
                 age-keygen writes them) or an OpenSSH private key",
            ),
            IdentityErrorKind::Empty => f.write_str(
                "the file holds no identity: create one with `age-keygen -o FILE` or pass an \
                 SSH private key",
            ),
        }
    }
}

impl std::error::Error for IdentityError {}

/// Largest identity file read (1 MB): a key is a few hundred bytes, an RSA key a few KB.
pub const MAX_IDENTITY_BYTES: u64 = 1024 * 1024;

/// The loaded identities. Private keys are kept by age's own types, which wipe them on
/// drop; `Debug` shows only the file names.
#[derive(Default)]
pub struct Identities {
    keys: Vec<Box<dyn age::Identity + Send + Sync>>,
    files: Vec<PathBuf>,
}

impl Identities {
    /// No identity: every decryption fails with "no matching identity".
    pub fn none() -> Identities {
        Identities::default()
    }

    /// Loads every file, each an age identity file or an OpenSSH private key
    /// (`ssh-ed25519`, `ssh-rsa`). Stops at the first file that cannot be used.
    pub fn load(files: &[PathBuf]) -> Result<Identities, IdentityError> {
        let sources: Vec<IdentitySource> =
            files.iter().map(|path| IdentitySource { path: path.clone(), origin: IdentityOrigin::Flag }).collect();
        Identities::load_sources(&sources)
    }

    /// Like [`Identities::load`], and a missing file's error says what named it.
    pub fn load_sources(sources: &[IdentitySource]) -> Result<Identities, IdentityError> {
        let mut ids = Identities::none();
        for source in sources {
            let path = &source.path;
            let err = |line: Option<usize>, kind: IdentityErrorKind| IdentityError { path: path.clone(), line, kind };
            let bytes = match read_input(path, MAX_IDENTITY_BYTES, None) {
                Ok(bytes) => Zeroizing::new(bytes),
                Err(InputError::NotFound | InputError::Dangling) => {
                    return Err(err(None, IdentityErrorKind::NotFound(source.origin)));
                }
                Err(InputError::Unreadable(e)) => {
                    return Err(err(None, IdentityErrorKind::Unreadable(e.to_string())));
                }
                Err(e) => return Err(err(None, IdentityErrorKind::NotAFile(e.reason()))),
            };
            let Ok(text) = std::str::from_utf8(&bytes) else {
                return Err(err(None, IdentityErrorKind::NotAnIdentity));
            };
            let mut keys = if text.trim_start().starts_with("-----BEGIN") {
                vec![load_ssh(text, path).map_err(|kind| err(None, kind))?]
            } else {
                load_age(text).map_err(|(line, kind)| err(line, kind))?
            };
            if keys.is_empty() {
                return Err(err(None, IdentityErrorKind::Empty));
            }
            ids.keys.append(&mut keys);
            ids.files.push(path.clone());
        }
        Ok(ids)
    }

    /// The number of keys (an age identity file may hold several).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The files the keys came from.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    pub(super) fn as_age(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.keys.iter().map(|k| k.as_ref() as &dyn age::Identity)
    }
}

impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identities").field("keys", &self.keys.len()).field("files", &self.files).finish()
    }
}

type AgeIdentity = Box<dyn age::Identity + Send + Sync>;

fn load_ssh(text: &str, path: &Path) -> Result<AgeIdentity, IdentityErrorKind> {
    use age::ssh::{Identity, UnsupportedKey};
    let filename = Some(path.display().to_string());
    match Identity::from_buffer(text.as_bytes(), filename) {
        Ok(Identity::Unencrypted(key)) => Ok(Box::new(Identity::Unencrypted(key))),
        Ok(Identity::Encrypted(_)) => Err(IdentityErrorKind::Passphrase),
        Ok(Identity::Unsupported(UnsupportedKey::EncryptedPem))
        | Ok(Identity::Unsupported(UnsupportedKey::EncryptedSsh(_))) => Err(IdentityErrorKind::Passphrase),
        Ok(Identity::Unsupported(UnsupportedKey::Hardware(kind))) => Err(IdentityErrorKind::HardwareSshKey(kind)),
        Ok(Identity::Unsupported(UnsupportedKey::Type(kind))) => Err(IdentityErrorKind::UnsupportedSshKey(kind)),
        Err(_) => Err(IdentityErrorKind::UnsupportedPrivateKey),
    }
}

/// An age identity file: `AGE-SECRET-KEY-1...` lines, `#` comments, blank lines. Each
/// line is read on its own (as age reads it, `super::x25519`), so that an error names its line
/// (age's own message would otherwise be the only clue), and kept with its public key.
fn load_age(text: &str) -> Result<Vec<AgeIdentity>, (Option<usize>, IdentityErrorKind)> {
    let mut keys: Vec<AgeIdentity> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Ok(key) = super::x25519::X25519::from_str(line) {
            keys.push(Box::new(key));
            continue;
        }
        // A damaged key line may still be sensitive: wipe the copy.
        let lower = Zeroizing::new(line.trim().to_ascii_lowercase());
        let kind = if lower.starts_with("age-plugin-") {
            IdentityErrorKind::Plugin
        } else if lower.starts_with("age1") || lower.starts_with("ssh-") || lower.starts_with("ecdsa-") {
            IdentityErrorKind::PublicKey
        } else {
            IdentityErrorKind::NotAnIdentity
        };
        return Err((Some(index + 1), kind));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests;
