//! Identities (private keys) that decrypt secrets, and where nlconf looks for them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use zeroize::Zeroizing;

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
            let bytes = match std::fs::read(path) {
                Ok(bytes) => Zeroizing::new(bytes),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(err(None, IdentityErrorKind::NotFound(source.origin)));
                }
                Err(e) => return Err(err(None, IdentityErrorKind::Unreadable(e.to_string()))),
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
/// line is checked first so that an error names its line (age's own message would
/// otherwise be the only clue), then age's parser reads the file.
fn load_age(text: &str) -> Result<Vec<AgeIdentity>, (Option<usize>, IdentityErrorKind)> {
    for (index, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if age::x25519::Identity::from_str(line).is_ok() {
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
    age::IdentityFile::from_buffer(text.as_bytes())
        .ok()
        .and_then(|file| file.into_identities().ok())
        .ok_or((None, IdentityErrorKind::NotAnIdentity))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    fn origins(sources: &[IdentitySource]) -> Vec<(String, &'static str)> {
        sources.iter().map(|s| (s.path.display().to_string(), s.origin.as_str())).collect()
    }

    #[test]
    fn search_order_first_found_wins() {
        let home = tempfile::tempdir().unwrap();
        let default = home.path().join(".config/nlconf/identity.txt");
        let all = env(&[("NLCONF_AGE_IDENTITY", "/keys/nlconf.txt"), ("SOPS_AGE_KEY_FILE", "/keys/sops.txt")]);
        let cli = vec![PathBuf::from("a.txt"), PathBuf::from("b.key")];
        assert_eq!(
            origins(&identity_search_order(&cli, &all, Some(home.path()))),
            vec![("a.txt".to_owned(), "--identity"), ("b.key".to_owned(), "--identity")]
        );
        assert_eq!(
            origins(&identity_search_order(&[], &all, Some(home.path()))),
            vec![("/keys/nlconf.txt".to_owned(), "NLCONF_AGE_IDENTITY")]
        );
        let sops = env(&[("NLCONF_AGE_IDENTITY", ""), ("SOPS_AGE_KEY_FILE", "/keys/sops.txt")]);
        assert_eq!(
            origins(&identity_search_order(&[], &sops, Some(home.path()))),
            vec![("/keys/sops.txt".to_owned(), "SOPS_AGE_KEY_FILE")]
        );
        let none = env(&[]);
        // The home default only counts when it exists.
        assert!(identity_search_order(&[], &none, Some(home.path())).is_empty());
        assert!(identity_search_order(&[], &none, None).is_empty());
        std::fs::create_dir_all(default.parent().unwrap()).unwrap();
        std::fs::write(&default, "# empty\n").unwrap();
        assert_eq!(
            identity_search_order(&[], &none, Some(home.path())),
            vec![IdentitySource { path: default, origin: IdentityOrigin::HomeDefault }]
        );
    }

    #[test]
    fn a_named_source_that_does_not_exist_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.txt");
        let sources = identity_search_order(&[], &env(&[("NLCONF_AGE_IDENTITY", missing.to_str().unwrap())]), None);
        let e = Identities::load_sources(&sources).unwrap_err();
        assert_eq!(e.kind, IdentityErrorKind::NotFound(IdentityOrigin::NlconfEnv));
        assert_eq!(
            e.to_string(),
            format!(
                "{}: no such identity file (named by NLCONF_AGE_IDENTITY): fix or unset \
                 NLCONF_AGE_IDENTITY",
                missing.display()
            )
        );
        let e = Identities::load(std::slice::from_ref(&missing)).unwrap_err();
        assert!(e.to_string().ends_with("(named by --identity): fix the --identity argument"));
    }

    #[test]
    fn loads_age_identity_files_with_comments() {
        let dir = tempfile::tempdir().unwrap();
        let a = age::x25519::Identity::generate();
        let b = age::x25519::Identity::generate();
        let text = format!(
            "# created: 2024-05-01T10:00:00Z\n# public key: {}\n{}\r\n\n# second\n{}\n",
            a.to_public(),
            age::secrecy::ExposeSecret::expose_secret(&a.to_string()),
            age::secrecy::ExposeSecret::expose_secret(&b.to_string()),
        );
        let path = dir.path().join("identity.txt");
        std::fs::write(&path, text).unwrap();
        let ids = Identities::load(std::slice::from_ref(&path)).unwrap();
        assert_eq!(ids.len(), 2);
        assert_eq!(ids.files(), &[path]);
        assert_eq!(format!("{ids:?}"), format!("Identities {{ keys: 2, files: [{:?}] }}", ids.files()[0]));
    }

    fn load_text(text: &[u8]) -> IdentityError {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.txt");
        std::fs::write(&path, text).unwrap();
        let e = Identities::load(std::slice::from_ref(&path)).unwrap_err();
        assert_eq!(e.path, path);
        assert!(e.to_string().starts_with(&path.display().to_string()));
        e
    }

    #[test]
    fn bad_identity_files_name_the_file_and_line() {
        let secret = age::x25519::Identity::generate();
        let secret = age::secrecy::ExposeSecret::expose_secret(&secret.to_string()).to_owned();

        let e = load_text(format!("# ok\n{secret}\nnot a key at all\n").as_bytes());
        assert_eq!((e.line, &e.kind), (Some(3), &IdentityErrorKind::NotAnIdentity));
        assert!(e.to_string().contains(":3: not an age identity: expected AGE-SECRET-KEY-1..."));

        // A truncated secret key: the error names the line and does not echo it.
        let e = load_text(format!("\n{}\n", &secret[..40]).as_bytes());
        assert_eq!((e.line, &e.kind), (Some(2), &IdentityErrorKind::NotAnIdentity));
        assert!(!e.to_string().contains(&secret[16..40]));

        let recipient = age::x25519::Identity::generate().to_public().to_string();
        let e = load_text(format!("# public\n{recipient}\n").as_bytes());
        assert_eq!((e.line, &e.kind), (Some(2), &IdentityErrorKind::PublicKey));

        let e = load_text(format!("{}\n", super::super::tests::SSH_ED25519_PUB).as_bytes());
        assert_eq!((e.line, &e.kind), (Some(1), &IdentityErrorKind::PublicKey));
        assert!(e.to_string().contains("this is a public key (a recipient), not an identity"));

        let e = load_text(b"AGE-PLUGIN-YUBIKEY-1QQQQQQQQQQQQQQQQQQQQQQ\n");
        assert_eq!((e.line, &e.kind), (Some(1), &IdentityErrorKind::Plugin));

        let e = load_text(b"# nothing here\n\n");
        assert_eq!((e.line, &e.kind), (None, &IdentityErrorKind::Empty));
        assert!(e.to_string().ends_with(
            ": the file holds no identity: create one with `age-keygen -o FILE` or pass an SSH \
             private key"
        ));

        let e = load_text(&[0xff, 0xfe, 0x00, 0x01]);
        assert_eq!((e.line, &e.kind), (None, &IdentityErrorKind::NotAnIdentity));

        let e =
            load_text(b"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n");
        assert_eq!(e.kind, IdentityErrorKind::UnsupportedPrivateKey);

        let e = load_text(b"-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage\n-----END OPENSSH PRIVATE KEY-----\n");
        assert_eq!(e.kind, IdentityErrorKind::UnsupportedPrivateKey);
    }

    #[test]
    fn an_unreadable_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        // A directory cannot be read as a file, whoever runs the test (root included).
        let e = Identities::load(&[dir.path().to_path_buf()]).unwrap_err();
        assert!(matches!(e.kind, IdentityErrorKind::Unreadable(_)));
        assert!(e.to_string().starts_with(&format!("{}: cannot read the identity file (", dir.path().display())));
        assert!(e.to_string().ends_with("): check the path and its permissions"));
    }

    #[test]
    fn passphrase_protected_ssh_keys_are_refused_clearly() {
        let Some(dir) = super::super::tests::ssh_keygen("ed25519", "correct horse") else {
            return;
        };
        let key = dir.path().join("id");
        let e = Identities::load(std::slice::from_ref(&key)).unwrap_err();
        assert_eq!(e.kind, IdentityErrorKind::Passphrase);
        assert_eq!(
            e.to_string(),
            format!(
                "{}: the SSH key is protected by a passphrase; nlconf cannot prompt here: decrypt \
                 a copy (ssh-keygen -p) or use an age identity",
                key.display()
            )
        );
    }

    #[test]
    fn unsupported_ssh_key_types_are_named() {
        let Some(dir) = super::super::tests::ssh_keygen("ecdsa", "") else {
            return;
        };
        let e = Identities::load(&[dir.path().join("id")]).unwrap_err();
        assert_eq!(e.kind, IdentityErrorKind::UnsupportedSshKey("ecdsa-sha2-nistp256".to_owned()));
        assert!(
            e.to_string()
                .ends_with(": SSH key type `ecdsa-sha2-nistp256` is not supported by age: use an ssh-ed25519 or ssh-rsa key, or an age identity (age-keygen)")
        );
    }
}
