//! The decrypted value of a secret, and keyed fingerprints of it.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

/// A decrypted secret: UTF-8 text held in memory that is wiped when dropped.
///
/// It has no `Display`, its `Debug` prints `SecretValue(..)`, and the only way to the
/// text is [`SecretValue::expose`], so a leak has to be written on purpose. `Clone`
/// exists because one ciphertext may be used at several places of a run; a clone is
/// another wiped buffer.
#[derive(Clone)]
pub struct SecretValue(Zeroizing<String>);

impl SecretValue {
    /// Takes ownership of `text`; it is wiped when the value is dropped.
    pub fn new(text: String) -> SecretValue {
        SecretValue(Zeroizing::new(text))
    }

    /// Checks that `bytes` are UTF-8 and takes them over. On error the bytes are wiped
    /// before returning, and the error holds none of them.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<SecretValue, NotUtf8> {
        match String::from_utf8(bytes) {
            Ok(text) => Ok(SecretValue::new(text)),
            Err(err) => {
                err.into_bytes().zeroize();
                Err(NotUtf8)
            }
        }
    }

    /// The plaintext. Call this only where the value goes into the deployed file or the
    /// nlserver command.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// A keyed fingerprint of the value: the first 16 hex characters of
    /// HMAC-SHA256(key, value). Without the key it reveals nothing about the value, not
    /// even whether two runs with different keys saw the same value.
    pub fn fingerprint(&self, key: &FingerprintKey) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.0.as_ref()) else {
            // HMAC accepts keys of any length, so this branch cannot be taken.
            return String::new();
        };
        mac.update(self.expose().as_bytes());
        let tag = mac.finalize().into_bytes();
        crate::support::digest::hex(&tag[..8])
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(..)")
    }
}

/// The decrypted bytes were not UTF-8 (they have been wiped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotUtf8;

impl fmt::Display for NotUtf8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the decrypted value is not UTF-8 text: nlconf secrets hold text; \
             re-encrypt the value as text with `nlconf secret set`",
        )
    }
}

impl std::error::Error for NotUtf8 {}

/// The key of [`SecretValue::fingerprint`]: 32 bytes, wiped on drop, never printed.
#[derive(Clone)]
pub struct FingerprintKey(Zeroizing<[u8; 32]>);

impl FingerprintKey {
    /// A fresh key from the operating system's random generator.
    ///
    /// age's key generator draws from the OS RNG (`OsRng`); hashing a freshly generated
    /// age secret key gives 32 uniformly random bytes without another dependency and
    /// without a fallible read of `/dev/urandom`.
    pub fn random() -> FingerprintKey {
        let identity = age::x25519::Identity::generate();
        let encoded = age::secrecy::ExposeSecret::expose_secret(&identity.to_string()).as_bytes().to_vec();
        let encoded = Zeroizing::new(encoded);
        let mut hasher = Sha256::new();
        hasher.update(b"nlconf fingerprint key v1\0");
        hasher.update(encoded.as_slice());
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&hasher.finalize());
        FingerprintKey(key)
    }

    /// A key kept from an earlier run (for example in the state record next to a
    /// deployed file).
    pub fn from_bytes(bytes: [u8; 32]) -> FingerprintKey {
        FingerprintKey(Zeroizing::new(bytes))
    }

    /// The raw key, to store it for a later run.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FingerprintKey(..)")
    }
}

#[cfg(test)]
mod tests;
