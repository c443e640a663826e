//! Decrypting secrets, each distinct ciphertext once per run.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Read;

use rayon::prelude::*;
use zeroize::Zeroizing;

use super::armor::{AgeHeader, Ciphertext};
use super::identity::Identities;
use super::value::SecretValue;

/// Why a secret could not be decrypted. No variant holds any decrypted byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecryptError {
    /// None of the identities matches; `stanzas` says whom the file is encrypted to, as
    /// far as age reveals it (X25519 stanzas are anonymous, SSH stanzas carry a 4-byte
    /// key tag), and the recipient digest of the binding header if there is one.
    NoMatchingIdentity { stanzas: String },
    /// Authentication failed: the header, its MAC or the payload was modified.
    Corrupted(String),
    /// The payload ends early.
    Truncated,
    /// The value decrypted but is not UTF-8 text.
    NotUtf8,
}

impl fmt::Display for DecryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecryptError::NoMatchingIdentity { stanzas } => write!(
                f,
                "no loaded identity can decrypt this secret: {stanzas}; pass a matching key with \
                 --identity FILE (or NLCONF_AGE_IDENTITY)"
            ),
            DecryptError::Corrupted(why) => write!(
                f,
                "the secret cannot be decrypted, authentication failed: {why}; restore it from \
                 git or re-encrypt it with `nlconf secret set`"
            ),
            DecryptError::Truncated => f.write_str(
                "the secret's ciphertext is truncated: restore the whole armor block from git or \
                 re-encrypt it with `nlconf secret set`",
            ),
            DecryptError::NotUtf8 => f.write_str(
                "the decrypted value is not UTF-8 text: nlconf secrets hold text; re-encrypt the \
                 value as text with `nlconf secret set`",
            ),
        }
    }
}

impl std::error::Error for DecryptError {}

/// The payload is a 16-byte nonce, then chunks each ending with a 16-byte tag.
const MIN_PAYLOAD: usize = 16 + 16;

/// Decrypts one secret. The binding is not checked here: see
/// [`Ciphertext::check_binding`].
pub fn decrypt(ct: &Ciphertext, ids: &Identities) -> Result<SecretValue, DecryptError> {
    let bytes = ct.age_file().map_err(|e| DecryptError::Corrupted(format!("the armor is invalid ({e})")))?;
    let header = AgeHeader::scan(&bytes).map_err(|why| DecryptError::Corrupted(why.to_owned()))?;
    let payload = bytes.len().saturating_sub(header.payload_offset);
    if payload < MIN_PAYLOAD {
        return Err(DecryptError::Truncated);
    }

    let decryptor = age::Decryptor::new_buffered(&bytes[..]).map_err(from_age)?;
    let mut reader = decryptor.decrypt(ids.as_age()).map_err(|e| match e {
        age::DecryptError::NoMatchingKeys => {
            DecryptError::NoMatchingIdentity { stanzas: header.describe(ct.binding.as_ref()) }
        }
        other => from_age(other),
    })?;

    // The plaintext is shorter than the payload, so this buffer never reallocates (which
    // would leave an unwiped copy behind).
    let mut plaintext = Zeroizing::new(Vec::with_capacity(payload));
    reader.read_to_end(&mut plaintext).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => DecryptError::Truncated,
        _ => {
            DecryptError::Corrupted("the payload failed authentication: the ciphertext was modified or cut".to_owned())
        }
    })?;
    SecretValue::from_bytes(std::mem::take(&mut *plaintext)).map_err(|_| DecryptError::NotUtf8)
}

fn from_age(e: age::DecryptError) -> DecryptError {
    use age::DecryptError as E;
    match e {
        E::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => DecryptError::Truncated,
        E::InvalidMac => {
            DecryptError::Corrupted("the age header's MAC does not match: the header was modified".to_owned())
        }
        E::DecryptionFailed | E::KeyDecryptionFailed => DecryptError::Corrupted(
            "the recipient stanza for this identity does not decrypt: the header was modified".to_owned(),
        ),
        E::InvalidHeader | E::UnknownFormat => DecryptError::Corrupted("the age header is invalid".to_owned()),
        // age's messages hold no plaintext (it has none at this stage).
        other => DecryptError::Corrupted(other.to_string()),
    }
}

/// Above this many distinct ciphertexts, decryption is spread over rayon's threads.
const PARALLEL_FROM: usize = 8;

/// Remembers the result for each distinct ciphertext (by its armor), so that a run
/// decrypts each one at most once however many places use it.
#[derive(Default)]
pub struct DecryptCache {
    done: HashMap<String, Result<SecretValue, DecryptError>>,
}

impl DecryptCache {
    pub fn new() -> DecryptCache {
        DecryptCache::default()
    }

    /// Decrypts every ciphertext not seen yet, in parallel when there are many.
    pub fn prefetch<'a>(&mut self, cts: impl IntoIterator<Item = &'a Ciphertext>, ids: &Identities) {
        let mut seen = HashSet::new();
        let todo: Vec<&Ciphertext> =
            cts.into_iter().filter(|ct| !self.done.contains_key(&ct.armor) && seen.insert(ct.armor.as_str())).collect();
        let results: Vec<(String, Result<SecretValue, DecryptError>)> = if todo.len() >= PARALLEL_FROM {
            todo.par_iter().map(|ct| (ct.armor.clone(), decrypt(ct, ids))).collect()
        } else {
            todo.iter().map(|ct| (ct.armor.clone(), decrypt(ct, ids))).collect()
        };
        self.done.extend(results);
    }

    /// The value of `ct`, decrypting it only the first time.
    pub fn decrypt(&mut self, ct: &Ciphertext, ids: &Identities) -> Result<SecretValue, DecryptError> {
        if let Some(result) = self.done.get(&ct.armor) {
            return result.clone();
        }
        let result = decrypt(ct, ids);
        self.done.insert(ct.armor.clone(), result.clone());
        result
    }

    /// The number of distinct ciphertexts decrypted (or attempted).
    pub fn len(&self) -> usize {
        self.done.len()
    }

    pub fn is_empty(&self) -> bool {
        self.done.is_empty()
    }
}

impl fmt::Debug for DecryptCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptCache").field("ciphertexts", &self.done.len()).finish()
    }
}

/// Decrypts every item, keyed by its id; identical ciphertexts are decrypted once.
pub fn decrypt_all(
    items: &[(&str, &Ciphertext)],
    ids: &Identities,
) -> HashMap<String, Result<SecretValue, DecryptError>> {
    let mut cache = DecryptCache::new();
    cache.prefetch(items.iter().map(|(_, ct)| *ct), ids);
    items.iter().map(|(id, ct)| ((*id).to_owned(), cache.decrypt(ct, ids))).collect()
}
