//! Unit tests of `crate::secrets::x25519`.

use std::io::{Read, Write};
use std::str::FromStr;

use super::X25519;

fn encrypt(to: &age::x25519::Recipient, plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = age::Encryptor::with_recipients(std::iter::once(to as &dyn age::Recipient))
        .unwrap()
        .wrap_output(&mut out)
        .unwrap();
    w.write_all(plain).unwrap();
    w.finish().unwrap();
    out
}

fn decrypt(id: &X25519, file: &[u8]) -> Result<Vec<u8>, age::DecryptError> {
    let d = age::Decryptor::new(file)?;
    let mut r = d.decrypt(std::iter::once(id as &dyn age::Identity))?;
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    Ok(out)
}

#[test]
fn decrypts_what_age_encrypts_to_its_key_and_nothing_else() {
    let key = age::x25519::Identity::generate();
    let ours = X25519::from_str(age::secrecy::ExposeSecret::expose_secret(&key.to_string())).unwrap();
    let file = encrypt(&key.to_public(), b"s3cret");
    assert_eq!(decrypt(&ours, &file).unwrap(), b"s3cret");
    let other = age::x25519::Identity::generate();
    let file = encrypt(&other.to_public(), b"s3cret");
    assert!(matches!(decrypt(&ours, &file), Err(age::DecryptError::NoMatchingKeys)));
}

#[test]
fn refuses_what_is_not_a_secret_key() {
    let key = age::x25519::Identity::generate();
    let public = key.to_public().to_string();
    assert!(X25519::from_str(&public).is_err());
    assert!(X25519::from_str("AGE-SECRET-KEY-1").is_err());
    let line = age::secrecy::ExposeSecret::expose_secret(&key.to_string()).to_string();
    assert!(X25519::from_str(&line[..line.len() - 1]).is_err());
}
