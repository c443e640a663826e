//! The age X25519 identity (`AGE-SECRET-KEY-1...`), with its public key computed once.
//!
//! age's own `x25519::Identity` computes its public key again for every stanza it unwraps (the
//! public key is half of the key derivation's salt): a scalar multiplication that was a fifth of
//! decrypting a fleet's secrets, one per secret. This is the same unwrapping, step for step, as
//! age 0.12's (`age/src/native/x25519.rs`, <https://c2sp.org/age#x25519-recipient-stanza>), with
//! the public key kept beside the secret one. Tests decrypt what the age command encrypted.

use age::{DecryptError, Identity};
use age_core::format::{FILE_KEY_BYTES, FileKey, Stanza};
use age_core::primitives::{aead_decrypt, bech32_decode, hkdf};
use base64::Engine as _;
use base64::prelude::BASE64_STANDARD_NO_PAD;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroize;

const SECRET_KEY_PREFIX: bech32::Hrp = bech32::Hrp::parse_unchecked("AGE-SECRET-KEY-");
const TAG: &str = "X25519";
const KEY_LABEL: &[u8] = b"age-encryption.org/v1/X25519";
const ENCRYPTED_FILE_KEY_BYTES: usize = FILE_KEY_BYTES + 16;

/// An X25519 identity and its public key.
pub struct X25519 {
    secret: StaticSecret,
    public: PublicKey,
}

impl std::str::FromStr for X25519 {
    type Err = &'static str;

    /// A line of an age identity file, as age reads it.
    fn from_str(s: &str) -> Result<X25519, &'static str> {
        bech32_decode(
            s,
            |_| "invalid Bech32 encoding",
            |hrp| (hrp == SECRET_KEY_PREFIX).then_some(()).ok_or("incorrect HRP"),
            |_, bytes| {
                let mut buf = bytes.collect::<Vec<_>>();
                let key = <[u8; 32]>::try_from(buf.as_slice()).map_err(|_| "incorrect identity length");
                buf.zeroize();
                // The array is copied into the secret (which wipes itself on drop): this copy is wiped.
                let mut key = key?;
                let secret = StaticSecret::from(key);
                key.zeroize();
                let public = PublicKey::from(&secret);
                Ok(X25519 { secret, public })
            },
        )
    }
}

impl Identity for X25519 {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, DecryptError>> {
        if stanza.tag != TAG {
            return None;
        }
        // The stanza's one argument: the ephemeral share, 32 bytes in canonical unpadded base64.
        let share = match &stanza.args[..] {
            [arg] => {
                let mut buf = [0u8; 33];
                if BASE64_STANDARD_NO_PAD.decode_slice(arg, &mut buf) != Ok(32) {
                    return Some(Err(DecryptError::InvalidHeader));
                }
                let mut share = [0u8; 32];
                share.copy_from_slice(&buf[..32]);
                share
            }
            _ => return Some(Err(DecryptError::InvalidHeader)),
        };
        let Ok(body) = <[u8; ENCRYPTED_FILE_KEY_BYTES]>::try_from(&stanza.body[..]) else {
            return Some(Err(DecryptError::InvalidHeader));
        };
        let epk = PublicKey::from(share);
        let shared = self.secret.diffie_hellman(&epk);
        // An all-zero shared secret (a low-order share) is refused, in constant time.
        if !shared.was_contributory() {
            return Some(Err(DecryptError::InvalidHeader));
        }
        let mut salt = [0; 64];
        salt[..32].copy_from_slice(epk.as_bytes());
        salt[32..].copy_from_slice(self.public.as_bytes());
        let mut key = hkdf(&salt, KEY_LABEL, shared.as_bytes());
        let plain = aead_decrypt(&key, FILE_KEY_BYTES, &body);
        key.zeroize();
        // Not ours (another recipient's stanza): not an error, the next identity may unwrap it.
        plain.ok().map(|mut plain| {
            Ok(FileKey::init_with_mut(|file_key| {
                file_key.copy_from_slice(&plain);
                plain.zeroize();
            }))
        })
    }
}

#[cfg(test)]
mod tests;
