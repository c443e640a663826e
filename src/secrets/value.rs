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
        super::hex(&tag[..8])
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
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_show_the_value() {
        let value = SecretValue::new("hunter2-super-secret".to_owned());
        assert_eq!(format!("{value:?}"), "SecretValue(..)");
        assert_eq!(format!("{value:#?}"), "SecretValue(..)");
        assert_eq!(value.expose(), "hunter2-super-secret");
        let clone = value.clone();
        assert_eq!(clone.expose(), value.expose());
    }

    #[test]
    fn from_bytes_accepts_utf8_and_refuses_the_rest() {
        let ok = SecretValue::from_bytes("clé secrète".as_bytes().to_vec());
        assert_eq!(ok.map(|v| v.expose().to_owned()), Ok("clé secrète".to_owned()));
        let err = SecretValue::from_bytes(vec![b's', b'3', 0xff, 0xfe, b'x']).unwrap_err();
        assert_eq!(err, NotUtf8);
        let text = err.to_string();
        assert!(text.contains("not UTF-8"), "{text}");
        assert!(!text.contains("s3"), "{text}");
    }

    #[test]
    fn fingerprint_is_keyed_and_stable() {
        let key = FingerprintKey::from_bytes([7; 32]);
        let other = FingerprintKey::from_bytes([8; 32]);
        let a = SecretValue::new("s3cr3t".to_owned());
        let b = SecretValue::new("s3cr3t".to_owned());
        let c = SecretValue::new("s3cr3u".to_owned());
        let fa = a.fingerprint(&key);
        assert_eq!(fa.len(), 16);
        assert!(fa.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(fa, b.fingerprint(&key));
        assert_ne!(fa, c.fingerprint(&key));
        assert_ne!(fa, a.fingerprint(&other));
        // Not a plain hash of the value.
        let plain = super::super::hex(&Sha256::digest(b"s3cr3t")[..8]);
        assert_ne!(fa, plain);
        // Known answer (RFC 2104 HMAC-SHA256 with key 0x07 * 32), so stored fingerprints
        // stay comparable across releases.
        let mut mac = Hmac::<Sha256>::new_from_slice(&[7; 32]).unwrap();
        mac.update(b"s3cr3t");
        assert_eq!(fa, super::super::hex(&mac.finalize().into_bytes()[..8]));
    }

    #[test]
    fn random_keys_differ_and_never_print() {
        let k1 = FingerprintKey::random();
        let k2 = FingerprintKey::random();
        assert_ne!(k1.as_bytes(), k2.as_bytes());
        assert_eq!(format!("{k1:?}"), "FingerprintKey(..)");
        let v = SecretValue::new("x".to_owned());
        assert_ne!(v.fingerprint(&k1), v.fingerprint(&k2));
    }
}
