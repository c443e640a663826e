//! Secrets: age-encrypted YAML values (DESIGN §4).
//!
//! - [`RecipientSet`]: an environment's `recipients` file, and its digest.
//! - [`Identities`]: the private keys at hand, found by [`identity_search_order`].
//! - [`Ciphertext`]: a stored secret, the [`Binding`] header line and the armored age
//!   file.
//! - [`encrypt`], [`decrypt`], [`decrypt_all`]/[`DecryptCache`]: each distinct
//!   ciphertext is decrypted once per run, in parallel.
//! - [`SecretValue`]: the plaintext, wiped on drop, never printed; compared across runs
//!   by keyed [`SecretValue::fingerprint`]s.
//!
//! No plaintext is written to a file, and no error or `Debug` output holds any.

mod armor;
mod decrypt;
mod encrypt;
mod identity;
mod recipients;
pub mod store;
mod value;
mod x25519;

#[cfg(test)]
mod tests;

pub use armor::{Binding, BindingStatus, CipherError, Ciphertext};
pub use decrypt::{DecryptCache, DecryptError, decrypt, decrypt_all};
pub use encrypt::{EncryptError, encrypt};
pub use identity::{
    Identities, IdentityError, IdentityErrorKind, IdentityOrigin, IdentitySource, MAX_IDENTITY_BYTES,
    identity_search_order,
};
pub use recipients::{LineError, RecipientEntry, RecipientKind, RecipientSet};
pub use store::{SecretId, SecretStore};
pub use value::{FingerprintKey, NotUtf8, SecretValue};
