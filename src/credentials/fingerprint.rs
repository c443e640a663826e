//! Fingerprints of applied credentials, kept in state records: equal credentials verify, and
//! nothing about a secret can be learnt from one faster than by guessing.
//!
//! A database password is often chosen by a person, so a fingerprint must cost a guesser what a
//! memory-hard KDF costs: scrypt (N = 2^15, r = 8, p = 1: 32 MiB and tens of milliseconds a try),
//! with a random salt per instance and apply, so that no two records of different credentials can
//! be attacked together (the containers of an instance hold the same credentials: an apply computes
//! their fingerprint once, and their records share it). It is computed when a credential is applied,
//! and checked when its ciphertext changed since (a rotation or a rekey); an unchanged ciphertext
//! needs none. Records written by nlconf before
//! v2 hold a PBKDF2-SHA256 fingerprint, still verified, and replaced on the next apply.

use sha2::Sha256;
use zeroize::Zeroizing;

const SCRYPT_LOG_N: u8 = 15;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;
/// The rounds of the v1 fingerprints, for verifying old records only.
const LEGACY_ROUNDS: u32 = 4096;

/// A new fingerprint of `material`, with a fresh random salt:
/// `scrypt:<log N>:<r>:<p>:<salt hex>:<hash hex>`.
pub fn derive(material: &[u8]) -> Option<String> {
    let key = crate::secrets::FingerprintKey::random();
    let salt = &key.as_bytes()[..16];
    let hash = scrypt(material, salt, SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P)?;
    Some(format!(
        "scrypt:{SCRYPT_LOG_N}:{SCRYPT_R}:{SCRYPT_P}:{}:{}",
        crate::support::digest::hex(salt),
        crate::support::digest::hex(hash.as_slice())
    ))
}

/// Whether `stored` is the fingerprint of `material`; `None` when it is of no form nlconf wrote.
/// `legacy_salt` is what v1 fingerprints were salted with (`nlconf-credentials-v1\0<env>\0<i>`).
pub fn verify(stored: &str, material: &[u8], legacy_material: &[u8], legacy_salt: &[u8]) -> Option<bool> {
    let parts: Vec<&str> = stored.split(':').collect();
    match parts.as_slice() {
        ["scrypt", log_n, r, p, salt, hash] => {
            let (log_n, r, p) = (log_n.parse().ok()?, r.parse().ok()?, p.parse().ok()?);
            // A record is input: parameters far above nlconf's own would make verifying a denial of
            // service.
            if log_n > 20 || r > 16 || p > 4 {
                return None;
            }
            let salt = unhex(salt)?;
            let got = scrypt(material, &salt, log_n, r, p)?;
            Some(crate::support::digest::hex(got.as_slice()) == *hash)
        }
        ["pbkdf2-sha256", rounds, hash] if *rounds == LEGACY_ROUNDS.to_string() => {
            let mut out = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<Sha256>(legacy_material, legacy_salt, LEGACY_ROUNDS, &mut out);
            Some(crate::support::digest::hex(&out) == *hash)
        }
        _ => None,
    }
}

fn scrypt(material: &[u8], salt: &[u8], log_n: u8, r: u32, p: u32) -> Option<Zeroizing<[u8; 32]>> {
    let params = scrypt::Params::new(log_n, r, p, 32).ok()?;
    let mut out = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(material, salt, &params, out.as_mut_slice()).ok()?;
    Some(out)
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 128 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}
