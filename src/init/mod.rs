//! A new configuration repository (`nlconf init [DIR]`, DESIGN §11): the files of a repository that
//! `nlconf validate` accepts at once, commented so that a newcomer learns the format from them,
//! written only where nothing is, all of them or none.

pub mod key;

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Diagnostics};
use crate::support::yaml::io_reason;

/// The environment the new repository starts with (one instance, `mkt_dev`, on one container).
pub const ENVIRONMENT: &str = "dev";

/// Where the environment files' `# yaml-language-server: $schema=` lines point: written by init,
/// refreshed with `nlconf schema > .nlconf-schema.json` after upgrading nlconf.
pub const SCHEMA_FILE: &str = ".nlconf-schema.json";

const DEFAULTS_YAML: &str = include_str!("files/defaults.yaml");
const ENVIRONMENT_YAML: &str = include_str!("files/environment.yaml");
const GITIGNORE: &str = include_str!("files/gitignore");
const PRE_COMMIT_CONFIG: &str = include_str!("files/pre-commit-config.yaml");

/// One file of the new repository.
#[derive(Debug)]
pub struct NewFile {
    /// Relative to the repository's root.
    pub path: String,
    pub text: String,
}

/// The new repository, before anything is written.
#[derive(Debug)]
pub struct NewRepository {
    pub root: PathBuf,
    pub files: Vec<NewFile>,
    /// The public keys its `recipients` file holds (none found: a comment says how to add one).
    pub keys: Vec<key::PublicKey>,
}

impl NewRepository {
    /// The files, `recipients` holding `keys`.
    pub fn new(root: &Path, keys: Vec<key::PublicKey>) -> NewRepository {
        let file = |path: &str, text: String| NewFile { path: path.to_string(), text };
        let env_dir = format!("environments/{ENVIRONMENT}");
        let files = vec![
            file(".gitignore", GITIGNORE.to_string()),
            file(SCHEMA_FILE, crate::schema::json::environment_schema_text()),
            file(".pre-commit-config.yaml", PRE_COMMIT_CONFIG.to_string()),
            file("environments/defaults.yaml", DEFAULTS_YAML.to_string()),
            file(&format!("{env_dir}/environment.yaml"), ENVIRONMENT_YAML.to_string()),
            file(&format!("{env_dir}/recipients"), recipients(&keys)),
        ];
        NewRepository { root: root.to_path_buf(), files, keys }
    }

    /// A path of the repository (`""`: its folder; `root.join("")` would end in `/`, and a file
    /// there would look like no file at all).
    fn full(&self, rel: &str) -> PathBuf {
        if rel.is_empty() { self.root.clone() } else { self.root.join(rel) }
    }

    /// A path of the repository as shown to the user: relative to the repository, as every command
    /// shows them; the repository's folder itself as given.
    fn shown(&self, rel: &str) -> PathBuf {
        if rel.is_empty() { self.root.clone() } else { PathBuf::from(rel) }
    }

    /// Writes every file, or none: when any of them (or a folder on the way) is already there, each
    /// is named and nothing is written; a write that fails removes what this run wrote.
    pub fn write(&self) -> Result<(), Diagnostics> {
        let mut taken = Diagnostics::new();
        for dir in self.folders() {
            let full = self.full(&dir);
            if full.symlink_metadata().is_ok() && !full.is_dir() {
                taken.push(
                    Diagnostic::in_file(&self.shown(&dir), "exists and is not a folder")
                        .with_help("nlconf init writes a new repository and overwrites nothing: pick another DIR"),
                );
            }
        }
        for f in &self.files {
            if self.full(&f.path).symlink_metadata().is_ok() {
                taken.push(
                    Diagnostic::in_file(
                        &self.shown(&f.path),
                        "already exists: nlconf init overwrites nothing, so it wrote no file",
                    )
                    .with_help("run it in a new or empty folder (nlconf init DIR), or move this file away"),
                );
            }
        }
        if !taken.is_empty() {
            return Err(taken);
        }
        let mut created: Vec<PathBuf> = Vec::new();
        let result = self.write_all(&mut created);
        if result.is_err() {
            // Files were created after their folders: undo in reverse order.
            for path in created.iter().rev() {
                let _ = std::fs::remove_file(path).or_else(|_| std::fs::remove_dir(path));
            }
        }
        result.map_err(Diagnostics::from)
    }

    /// The folders the files go in, the root first, each before what it holds.
    fn folders(&self) -> Vec<String> {
        let mut dirs = vec![String::new()];
        for f in &self.files {
            let mut at = String::new();
            for part in Path::new(&f.path).parent().into_iter().flat_map(Path::components) {
                at = if at.is_empty() {
                    part.as_os_str().to_string_lossy().into_owned()
                } else {
                    format!("{at}/{}", part.as_os_str().to_string_lossy())
                };
                if !dirs.contains(&at) {
                    dirs.push(at.clone());
                }
            }
        }
        dirs
    }

    fn write_all(&self, created: &mut Vec<PathBuf>) -> Result<(), Diagnostic> {
        // The repository's folder and those above it that are missing, outermost first.
        let mut missing = Vec::new();
        let mut at = Some(self.root.as_path());
        while let Some(dir) = at.filter(|d| !d.as_os_str().is_empty() && d.symlink_metadata().is_err()) {
            missing.push(dir.to_path_buf());
            at = dir.parent();
        }
        for dir in missing.into_iter().rev() {
            std::fs::create_dir(&dir)
                .map_err(|e| Diagnostic::in_file(&dir, format!("cannot create the folder: {}", io_reason(&e))))?;
            created.push(dir);
        }
        for dir in self.folders() {
            let full = self.full(&dir);
            if full.is_dir() {
                continue;
            }
            std::fs::create_dir(&full).map_err(|e| {
                Diagnostic::in_file(&self.shown(&dir), format!("cannot create the folder: {}", io_reason(&e)))
            })?;
            created.push(full);
        }
        for f in &self.files {
            let full = self.full(&f.path);
            let cannot = |e: std::io::Error| {
                Diagnostic::in_file(&self.shown(&f.path), format!("cannot write: {}", io_reason(&e)))
            };
            // create_new: a file that appeared since the check is not overwritten either.
            let mut out =
                std::fs::OpenOptions::new().write(true).create_new(true).mode(0o644).open(&full).map_err(cannot)?;
            created.push(full);
            out.write_all(f.text.as_bytes()).map_err(cannot)?;
        }
        Ok(())
    }
}

/// The environment's `recipients` file: the user's public keys, or how to add one.
fn recipients(keys: &[key::PublicKey]) -> String {
    let mut text = format!(
        "# Who may decrypt the secrets of environment `{ENVIRONMENT}`: one public key per line, age1... or\n\
         # ssh-ed25519/ssh-rsa (the syntax of `age -R`). After a change, someone who can already decrypt\n\
         # runs `nlconf secret rekey -e {ENVIRONMENT}` and commits.\n"
    );
    if keys.is_empty() {
        text.push_str(
            "#\n\
             # No public key was found when this file was written. Add yours on a line of its own: create an\n\
             # age identity with `age-keygen -o ~/.config/nlconf/identity.txt` (it prints `Public key: age1...`),\n\
             # or use the line of ~/.ssh/id_ed25519.pub. Until a key is here, no secret can be set.\n",
        );
    }
    for k in keys {
        text.push_str(&format!("\n# from {}\n{}\n", k.from, k.line));
    }
    text
}

#[cfg(test)]
mod tests;
