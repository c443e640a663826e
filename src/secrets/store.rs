//! Secrets of an environment: finding the identities at hand and decrypting each value once.

use std::collections::HashMap;
use std::path::PathBuf;

use super::{Ciphertext, Identities, SecretValue, decrypt_all, identity_search_order};
use crate::diag::{Diagnostic, Diagnostics};
use crate::env::SecretSlot;

pub const NO_IDENTITY_HELP: &str = "pass --identity FILE (an age identity or an SSH private key), or set NLCONF_AGE_IDENTITY or SOPS_AGE_KEY_FILE, or create ~/.config/nlconf/identity.txt";

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

/// Decrypts the named secrets, each distinct ciphertext once, in parallel. Every failure names the
/// secret's file, line and YAML path.
pub fn decrypt_slots(
    slots: &[SecretSlot],
    which: &[usize],
    ids: &Identities,
) -> Result<HashMap<usize, SecretValue>, Diagnostics> {
    let items: Vec<(String, &Ciphertext)> =
        which.iter().filter_map(|&i| slots.get(i)?.ciphertext.as_ref().map(|ct| (i.to_string(), ct))).collect();
    let refs: Vec<(&str, &Ciphertext)> = items.iter().map(|(k, ct)| (k.as_str(), *ct)).collect();
    let mut results = decrypt_all(&refs, ids);
    let mut out = HashMap::new();
    let mut diags = Diagnostics::new();
    for &i in which {
        let Some(slot) = slots.get(i) else { continue };
        match results.remove(&i.to_string()) {
            Some(Ok(v)) => {
                out.insert(i, v);
            }
            Some(Err(e)) => diags.push(Diagnostic::at(slot.origin.location(), format!("{}: {e}", slot.yaml_path))),
            None => diags.push(Diagnostic::at(
                slot.origin.location(),
                format!("{}: the ciphertext is not valid", slot.yaml_path),
            )),
        }
    }
    if diags.has_errors() { Err(diags) } else { Ok(out) }
}
