//! The secrets of a run: which identities are at hand, and the decrypted values, each named by
//! its [`SecretId`].

use std::collections::HashMap;
use std::path::PathBuf;

use super::{Ciphertext, DecryptError, Identities, SecretValue, decrypt_all, identity_search_order};
use crate::diag::Diagnostic;

pub const NO_IDENTITY_HELP: &str = "pass --identity FILE (an age identity or an SSH private key), or set NLCONF_AGE_IDENTITY or SOPS_AGE_KEY_FILE, or create ~/.config/nlconf/identity.txt";

/// Names one `!age` value of an environment: its place in `Environment::secrets`. Rendered files,
/// credential steps and the store refer to secrets by this handle, never by their text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretId(u32);

impl SecretId {
    pub fn new(index: usize) -> SecretId {
        SecretId(u32::try_from(index).unwrap_or(u32::MAX))
    }

    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl std::fmt::Display for SecretId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The decrypted values of a run. One way in ([`SecretStore::decrypt`]: each distinct ciphertext
/// once, in parallel), one way out ([`SecretStore::get`]); every value is wiped when the store is
/// dropped.
#[derive(Debug, Default)]
pub struct SecretStore {
    values: HashMap<SecretId, SecretValue>,
}

impl SecretStore {
    /// Decrypts every named ciphertext; what fails is returned beside the store, by handle.
    pub fn decrypt<'a>(
        items: impl IntoIterator<Item = (SecretId, &'a Ciphertext)>,
        ids: &Identities,
    ) -> (SecretStore, Vec<(SecretId, Option<DecryptError>)>) {
        let items: Vec<(String, SecretId, &Ciphertext)> =
            items.into_iter().map(|(id, ct)| (id.to_string(), id, ct)).collect();
        let refs: Vec<(&str, &Ciphertext)> = items.iter().map(|(k, _, ct)| (k.as_str(), *ct)).collect();
        let mut results = decrypt_all(&refs, ids);
        let mut store = SecretStore::default();
        let mut failed = Vec::new();
        for (key, id, _) in &items {
            match results.remove(key) {
                Some(Ok(v)) => {
                    store.values.insert(*id, v);
                }
                Some(Err(e)) => failed.push((*id, Some(e))),
                None => failed.push((*id, None)),
            }
        }
        (store, failed)
    }

    pub fn get(&self, id: SecretId) -> Option<&SecretValue> {
        self.values.get(&id)
    }

    /// The handles of the values held, in order.
    pub fn ids(&self) -> Vec<SecretId> {
        let mut ids: Vec<SecretId> = self.values.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// The identities in DESIGN §4 order; `Ok(None)` when none is configured.
pub fn find_identities(cli: &[PathBuf]) -> Result<Option<Identities>, Diagnostic> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let getenv = |k: &str| std::env::var(k).ok();
    let sources = identity_search_order(cli, &getenv, home.as_deref());
    if sources.is_empty() {
        return Ok(None);
    }
    Identities::load_sources(&sources).map(Some).map_err(|e| {
        let loc = crate::diag::Location::new(e.path.clone(), e.line.unwrap_or(0) as u32, 0);
        let text = e.to_string();
        // The error's text starts with the path (and line), which the location already shows.
        let shown = loc.to_string();
        let message = text.strip_prefix(&format!("{shown}: ")).unwrap_or(&text).to_string();
        Diagnostic::at(loc, message)
    })
}
