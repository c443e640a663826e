//! Unit tests of `crate::secrets::value`.

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
    let plain = crate::support::digest::hex(&Sha256::digest(b"s3cr3t")[..8]);
    assert_ne!(fa, plain);
    // Known answer (RFC 2104 HMAC-SHA256 with key 0x07 * 32), so stored fingerprints
    // stay comparable across releases.
    let mut mac = Hmac::<Sha256>::new_from_slice(&[7; 32]).unwrap();
    mac.update(b"s3cr3t");
    assert_eq!(fa, crate::support::digest::hex(&mac.finalize().into_bytes()[..8]));
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
