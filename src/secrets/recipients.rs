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
        for (index, raw) in text.split('\n').enumerate() {
            let line = index + 1;
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            let body = raw.trim_start();
            let column = raw[..raw.len() - body.len()].chars().count() + 1;
            let body = body.trim_end();
            if body.is_empty() || body.starts_with('#') {
                continue;
            }
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
        super::hex(&hasher.finalize()[..8])
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
mod tests {
    use super::super::tests::{RSA_PUB, SSH_ED25519_PUB};
    use super::*;

    fn x25519() -> String {
        age::x25519::Identity::generate().to_public().to_string()
    }

    #[test]
    fn parses_all_kinds_with_comments_and_blank_lines() {
        let a = x25519();
        let text =
            format!("# ops team\n\n{a}\n  # indented comment\r\n{SSH_ED25519_PUB} alice@laptop\r\n{RSA_PUB} bob\n\n");
        let set = RecipientSet::parse(&text).unwrap();
        assert_eq!(set.len(), 3);
        let lines: Vec<usize> = set.entries().iter().map(|e| e.line()).collect();
        assert_eq!(lines, vec![3, 5, 6]);
        assert_eq!(set.entries()[0].canonical(), a);
        assert_eq!(set.entries()[0].kind(), RecipientKind::X25519);
        assert_eq!(set.entries()[1].canonical(), SSH_ED25519_PUB);
        assert_eq!(set.entries()[1].kind(), RecipientKind::SshEd25519);
        assert_eq!(set.entries()[2].kind(), RecipientKind::SshRsa);
        assert_eq!(set.entries()[2].canonical(), RSA_PUB);
        assert_eq!(set.to_age_recipients().len(), 3);
        assert_eq!(set.entries()[0].ssh_tag(), None);
        assert_eq!(set.entries()[1].ssh_tag().map(|t| t.len()), Some(6));
    }

    #[test]
    fn digest_ignores_order_comments_case_and_duplicates() {
        let a = x25519();
        let b = x25519();
        let one = RecipientSet::parse(&format!("{a}\n{SSH_ED25519_PUB} alice@laptop\n{b}\n")).unwrap().digest();
        let two = RecipientSet::parse(&format!(
            "# reordered\n{b}\n\n{SSH_ED25519_PUB} alice@other-host\n{}\n{a}\n",
            a.to_uppercase()
        ))
        .unwrap()
        .digest();
        assert_eq!(one, two);
        assert_eq!(one.len(), 16);
        assert!(one.chars().all(|c| c.is_ascii_hexdigit()));
        let three = RecipientSet::parse(&format!("{a}\n{SSH_ED25519_PUB}\n")).unwrap().digest();
        assert_ne!(one, three);
        let dup = RecipientSet::parse(&format!("{a}\n{a}\n")).unwrap();
        assert_eq!(dup.len(), 1);
    }

    #[test]
    fn every_bad_line_is_reported_with_what_was_expected() {
        let good = x25519();
        let text = format!(
            "# team\n{good}\nagee1xyz\n   age1qqqq\nage1yubikey1qgg8cjs5gtuw7ja6wpf9zqk9ywxxzl\n\
             ecdsa-sha2-nistp256 AAAAE2VjZHNh\nssh-ed25519 AAAAnotakey\n{good} # ops\n"
        );
        let errors = RecipientSet::parse(&text).unwrap_err();
        let got: Vec<(usize, usize)> = errors.iter().map(|e| (e.line, e.column)).collect();
        assert_eq!(got, vec![(3, 1), (4, 4), (5, 1), (6, 1), (7, 1), (8, 1)]);
        assert_eq!(
            errors[0].message,
            "expected an age recipient (age1...) or an OpenSSH public key (ssh-ed25519/ssh-rsa), \
             found `agee1xyz`"
        );
        assert!(errors[1].message.starts_with("`age1qqqq` is not a valid age recipient ("), "{}", errors[1].message);
        assert!(
            errors[2].message.starts_with("plugin recipients are not supported (`age1yubikey...`"),
            "{}",
            errors[2].message
        );
        assert_eq!(
            errors[3].message,
            "SSH key type `ecdsa-sha2-nistp256` is not supported by age: use an ssh-ed25519 or \
             ssh-rsa key, or an age1... key"
        );
        assert_eq!(
            errors[4].message,
            "invalid ssh-ed25519 public key: expected `ssh-ed25519 <base64 key> [comment]` as in \
             a .pub file or authorized_keys"
        );
        assert!(errors[5].message.contains("followed by more text"));
        assert_eq!(errors[0].to_string(), format!("3:1: {}", errors[0].message));
    }

    #[test]
    fn an_empty_set_is_an_error_at_line_1() {
        for text in ["", "\n\n", "# nobody yet\n\n# really\n"] {
            let errors = RecipientSet::parse(text).unwrap_err();
            assert_eq!(
                errors,
                vec![LineError {
                    line: 1,
                    column: 1,
                    message: "no recipients: add at least one age1... or ssh-ed25519 key".to_owned()
                }]
            );
        }
    }

    #[test]
    fn a_pasted_private_key_is_refused_without_echoing_it() {
        let secret = age::x25519::Identity::generate();
        let secret = age::secrecy::ExposeSecret::expose_secret(&secret.to_string()).to_owned();
        let text = format!("{}\n{secret}\n-----BEGIN OPENSSH PRIVATE KEY-----\n", x25519());
        let errors = RecipientSet::parse(&text).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].line, 2);
        assert!(errors[0].message.starts_with("this is an age identity (a private key)"));
        assert!(!errors[0].message.contains(&secret[15..]));
        assert_eq!(errors[1].line, 3);
        assert!(errors[1].message.contains("private key"));
    }

    #[test]
    fn short_rsa_keys_are_refused() {
        // A 1024-bit key (age requires 2048 bits or more).
        let errors = RecipientSet::parse(super::super::tests::RSA_1024_PUB).unwrap_err();
        assert_eq!(errors[0].line, 1);
        assert!(errors[0].message.starts_with("this ssh-rsa key is shorter than 2048 bits"), "{}", errors[0].message);
    }

    #[test]
    fn long_garbage_is_shortened_in_messages() {
        let junk = "x".repeat(500);
        let errors = RecipientSet::parse(&junk).unwrap_err();
        assert!(errors[0].message.len() < 200);
        assert!(errors[0].message.ends_with("...`"));
    }
}
