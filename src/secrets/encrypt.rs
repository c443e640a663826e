//! Encrypting a value to an environment's recipients.

use std::fmt;
use std::io::Write;

use super::armor::{Binding, Ciphertext};
use super::recipients::RecipientSet;
use super::value::SecretValue;

/// Why a value could not be encrypted. Never holds any of the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncryptError {
    /// The binding cannot be written as a header (empty environment or path).
    InvalidBinding(String),
    /// The binding was made for another recipient set than the one given.
    BindingMismatch { binding: String, recipients: String },
    /// age refused (the text of its error).
    Age(String),
}

impl fmt::Display for EncryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncryptError::InvalidBinding(why) => {
                write!(f, "cannot bind the secret to its place: {why}")
            }
            EncryptError::BindingMismatch { binding, recipients } => write!(
                f,
                "the binding names recipient set {binding} but the value is being encrypted to \
                 set {recipients}: make the binding from the same recipients file"
            ),
            EncryptError::Age(why) => write!(f, "age could not encrypt the value: {why}"),
        }
    }
}

impl std::error::Error for EncryptError {}

/// Encrypts `value` to every recipient of the set, ASCII-armored, with `binding` as its
/// header. The age file holds exactly the value's bytes, so `age -d` on the armor gives
/// the value back unchanged. Everything happens in memory: no plaintext reaches a file.
pub fn encrypt(value: &SecretValue, recipients: &RecipientSet, binding: Binding) -> Result<Ciphertext, EncryptError> {
    binding.validate().map_err(EncryptError::InvalidBinding)?;
    let digest = recipients.digest();
    if binding.recipients_digest != digest {
        return Err(EncryptError::BindingMismatch { binding: binding.recipients_digest, recipients: digest });
    }

    let age_recipients = recipients.to_age_recipients();
    let encryptor = age::Encryptor::with_recipients(age_recipients.iter().map(|r| r.as_ref() as &dyn age::Recipient))
        .map_err(|e| EncryptError::Age(e.to_string()))?;

    let io = |e: std::io::Error| EncryptError::Age(e.to_string());
    // Only ciphertext is written to this buffer.
    let mut armored = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut armored, age::armor::Format::AsciiArmor).map_err(io)?;
    let mut writer = encryptor.wrap_output(armor).map_err(io)?;
    writer.write_all(value.expose().as_bytes()).map_err(io)?;
    writer.finish().and_then(|armor| armor.finish()).map_err(io)?;

    let text =
        String::from_utf8(armored).map_err(|_| EncryptError::Age("the armored output is not text".to_owned()))?;
    // Normalises line endings (age writes CRLF on Windows) and checks the result.
    let parsed = Ciphertext::parse(&text).map_err(|e| EncryptError::Age(e.to_string()))?;
    Ok(Ciphertext { binding: Some(binding), armor: parsed.armor })
}
