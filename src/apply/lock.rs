//! The locks of an apply: one per conf folder involved, all taken before the first write, released
//! on every way out (an error, a panic unwinding, the end of the run) when the set is dropped.

use crate::diag::{Diagnostic, Diagnostics, Location as DiagLocation};
use crate::target::{LOCK_FILE, Location, LockError, LockInfo};

/// The locks held, released when dropped (or by `release`, which reports what it could not release).
pub struct LockSet {
    held: Vec<(String, Location)>,
}

impl LockSet {
    /// Removes the locks an apply that died left in these folders (`--force-unlock`).
    pub fn force_unlock<'a>(folders: impl IntoIterator<Item = (&'a str, Location)>) -> Result<(), Diagnostics> {
        let mut diags = Diagnostics::new();
        let mut seen = Vec::new();
        for (container, loc) in folders {
            let key = loc.shown("");
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            if let Err(e) = loc.unlock() {
                diags.push(
                    Diagnostic::error(
                        Some(DiagLocation::file(loc.shown(LOCK_FILE))),
                        format!("{container}: cannot remove the lock: {e}"),
                    )
                    .with_help("remove it by hand on the container once no apply runs there"),
                );
            }
        }
        if diags.has_errors() { Err(diags) } else { Ok(()) }
    }

    /// Locks every folder (each once, in the order given); on the first that cannot be locked,
    /// releases those taken and says why.
    pub fn acquire<'a>(
        folders: impl IntoIterator<Item = (&'a str, Location)>,
        info: &LockInfo,
    ) -> Result<LockSet, Diagnostics> {
        let mut set = LockSet { held: Vec::new() };
        let mut diags = Diagnostics::new();
        for (container, loc) in folders {
            let key = loc.shown("");
            if set.held.iter().any(|(k, _)| *k == key) {
                continue;
            }
            let lock_file = DiagLocation::file(loc.shown(LOCK_FILE));
            match loc.lock(info) {
                Ok(()) => set.held.push((key, loc)),
                Err(e) => {
                    diags.push(refused(container, &loc, lock_file, e));
                    diags.extend(set.release());
                    return Err(diags);
                }
            }
        }
        Ok(set)
    }

    /// Releases every lock now; what could not be released is an error to report.
    pub fn release(mut self) -> Diagnostics {
        self.release_all()
    }

    fn release_all(&mut self) -> Diagnostics {
        let mut diags = Diagnostics::new();
        for (key, loc) in self.held.drain(..) {
            if let Err(e) = loc.unlock() {
                diags.push(
                    Diagnostic::error(None, format!("{key}: cannot release the lock: {e}"))
                        .with_help("remove .nlconf/lock in that folder once you have checked the container, or use --force-unlock next time"),
                );
            }
        }
        diags
    }
}

impl Drop for LockSet {
    fn drop(&mut self) {
        // A way out that did not release them (a panic unwinding): nothing left to report to.
        drop(self.release_all());
    }
}

/// Why a folder could not be locked: a held lock is named by its holder (or its path); a failure
/// to take one, by its path.
fn refused(container: &str, loc: &Location, lock_file: DiagLocation, e: LockError) -> Diagnostic {
    let held = "wait for it to finish; if it died, check the containers and run apply with --force-unlock";
    let (at, msg, help) = match e {
        LockError::Held(text) => match serde_json::from_str::<LockInfo>(&text) {
            Ok(holder) => (None, format!("{container}: another apply holds the lock: {holder}"), held),
            Err(_) => (None, format!("{container}: the folder is locked ({})", loc.shown(LOCK_FILE)), held),
        },
        LockError::Io(e) => (
            Some(lock_file),
            format!("{container}: cannot take the lock: {e}"),
            "check that the conf folder exists and that nlconf's user may write there (ssh targets: that `ssh` to the host works without a prompt)",
        ),
    };
    Diagnostic::error(at, msg).with_help(help)
}
