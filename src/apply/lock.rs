//! The locks of an apply: one per conf folder involved, all taken before the first write, released
//! on every way out (an error, a panic unwinding, the end of the run) when the set is dropped.

use crate::deployed::Hosts;
use crate::diag::{Diagnostic, Diagnostics, Location as DiagLocation};
use crate::target::{LOCK_FILE, Location, LockError, LockInfo};

/// The locks held, released when dropped (or by `release`, which reports what it could not release).
pub struct LockSet {
    held: Vec<(String, Location)>,
    /// Folders released at once.
    parallelism: usize,
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

    /// Locks every folder (each once): the hosts `parallelism` at once, a host's folders one after
    /// the other. When one cannot be locked, releases those taken and says why.
    pub fn acquire<'a>(
        folders: impl IntoIterator<Item = (&'a str, Location)>,
        info: &LockInfo,
        hosts: &Hosts,
    ) -> Result<LockSet, Diagnostics> {
        let mut unique: Vec<(&str, String, Location)> = Vec::new();
        for (container, loc) in folders {
            let key = loc.shown("");
            if !unique.iter().any(|(_, k, _)| *k == key) {
                unique.push((container, key, loc));
            }
        }
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, (_, _, loc)) in unique.iter().enumerate() {
            let host = loc.host_key().unwrap_or_default();
            match groups.iter_mut().find(|(h, _)| *h == host) {
                Some((_, g)) => g.push(i),
                None => groups.push((host, vec![i])),
            }
        }
        hosts.progress.begin("locking: folders", unique.len());
        let taken = crate::support::pool::bounded(&groups, hosts.parallelism, |(_, members)| {
            let mut out = Vec::new();
            for &i in members {
                let (_, _, loc) = &unique[i];
                let r = loc.lock(info);
                hosts.progress.finished(&loc.shown(""), r.is_ok());
                let failed = r.is_err();
                out.push((i, r));
                // A host that refuses one lock is not asked for the next: the set is released anyway.
                if failed {
                    break;
                }
            }
            out
        });
        let mut set = LockSet { held: Vec::new(), parallelism: hosts.parallelism };
        let mut diags = Diagnostics::new();
        let mut results: Vec<_> = taken.into_iter().flatten().collect();
        results.sort_by_key(|(i, _)| *i);
        for (i, r) in results {
            let (container, key, loc) = &unique[i];
            match r {
                Ok(()) => set.held.push((key.clone(), loc.clone())),
                Err(e) => diags.push(refused(container, loc, DiagLocation::file(loc.shown(LOCK_FILE)), e)),
            }
        }
        if diags.has_errors() {
            diags.extend(set.release(hosts.parallelism));
            return Err(diags);
        }
        Ok(set)
    }

    /// Releases every lock now, `parallelism` hosts at once; what could not be released is an
    /// error to report.
    pub fn release(mut self, parallelism: usize) -> Diagnostics {
        self.parallelism = parallelism;
        self.release_all()
    }

    fn release_all(&mut self) -> Diagnostics {
        let held = std::mem::take(&mut self.held);
        let failed = crate::support::pool::bounded(&held, self.parallelism, |(key, loc)| {
            loc.unlock().err().map(|e| {
                Diagnostic::error(None, format!("{key}: cannot release the lock: {e}"))
                    .with_help("remove .nlconf/lock in that folder once you have checked the container, or use --force-unlock next time")
            })
        });
        let mut diags = Diagnostics::new();
        for d in failed.into_iter().flatten() {
            diags.push(d);
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
