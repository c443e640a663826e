//! The repository as it was at another git revision, for `diff --base REV` (the pull-request review).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::diag::Diagnostic;

/// A temporary copy of the repository's `environments/` and `templates/` at a revision; removed on drop.
pub struct Checkout {
    pub root: PathBuf,
}

impl Drop for Checkout {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() { Ok(out.stdout) } else { Err(String::from_utf8_lossy(&out.stderr).trim().to_string()) }
}

/// Extracts the repository (the folder holding `environments/`) at `rev` into a temporary folder.
pub fn checkout(repo_root: &Path, rev: &str) -> Result<Checkout, Diagnostic> {
    let fail = |msg: String| Diagnostic::error(None, msg);
    let prefix = git(repo_root, &["rev-parse", "--show-prefix"])
        .map_err(|e| fail(format!("--base {rev}: the repository is not in a git work tree ({e})")))?;
    let prefix = String::from_utf8_lossy(&prefix).trim().to_string();
    let commit = git(repo_root, &["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")]).map_err(|_| {
        fail(format!("--base {rev}: no such revision in this clone")).with_help(
            "in a shallow CI clone, fetch it first, e.g. `git fetch --depth=1 origin main` for --base origin/main",
        )
    })?;
    let commit = String::from_utf8_lossy(&commit).trim().to_string();
    let root = std::env::temp_dir().join(format!(
        "nlconf-base-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
    ));
    std::fs::create_dir_all(&root).map_err(|e| fail(format!("cannot create a temporary folder: {e}")))?;
    let checkout = Checkout { root };
    let mut dirs = Vec::new();
    for dir in ["environments", "templates"] {
        if git(repo_root, &["cat-file", "-e", &format!("{commit}:{prefix}{dir}")]).is_ok() {
            dirs.push(dir);
        }
    }
    if !dirs.contains(&"environments") {
        // The repository did not exist yet at that revision: everything is new.
        return Ok(checkout);
    }
    let toplevel = git(repo_root, &["rev-parse", "--show-toplevel"]).map_err(fail)?;
    let toplevel = PathBuf::from(String::from_utf8_lossy(&toplevel).trim());
    // The tree of the repository's folder at that commit, so that paths in the archive start there.
    let mut archive = Command::new("git");
    archive.arg("-C").arg(&toplevel).args(["archive", "--format=tar", &format!("{commit}:{prefix}"), "--"]).args(&dirs);
    let tar = archive.stdin(Stdio::null()).output().map_err(|e| fail(format!("cannot run git archive: {e}")))?;
    if !tar.status.success() {
        return Err(fail(format!("--base {rev}: git archive failed: {}", String::from_utf8_lossy(&tar.stderr).trim())));
    }
    let mut untar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(&checkout.root)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run tar: {e}")))?;
    if let Some(mut stdin) = untar.stdin.take() {
        use std::io::Write;
        stdin.write_all(&tar.stdout).map_err(|e| fail(format!("cannot extract the revision: {e}")))?;
    }
    let status = untar.wait_with_output().map_err(|e| fail(format!("cannot extract the revision: {e}")))?;
    if !status.status.success() {
        return Err(fail(format!(
            "--base {rev}: extracting failed: {}",
            String::from_utf8_lossy(&status.stderr).trim()
        )));
    }
    Ok(checkout)
}
