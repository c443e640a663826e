//! The config repository on disk: which files make up each environment (DESIGN §2).

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, did_you_mean};
use crate::support::fs::{InputError, read_input, resolve_within};
use crate::support::yaml::io_reason;

/// The repository's files are untrusted in a pull-request review (the pull request's own), so every
/// one is read through [`Repository::read`]: a regular file whose real path is inside the root.
#[derive(Debug, Clone)]
pub struct Repository {
    pub root: PathBuf,
    /// `root` with every symlink resolved: what a file's real path must start with.
    real_root: PathBuf,
}

impl Repository {
    pub fn open(dir: &Path) -> Result<Repository, Diagnostic> {
        let envs = dir.join("environments");
        if !envs.is_dir() {
            return Err(Diagnostic::in_file(dir, "not an nlconf repository: there is no `environments/` folder here")
                .with_help("run nlconf in the repository, or name it with -C DIR"));
        }
        Repository::at(dir)
    }

    /// The repository in `dir`, which may not hold `environments/` (a revision before there was one).
    pub fn at(dir: &Path) -> Result<Repository, Diagnostic> {
        let real_root = std::fs::canonicalize(dir)
            .map_err(|e| Diagnostic::in_file(dir, format!("cannot read folder: {}", io_reason(&e))))?;
        Ok(Repository { root: dir.to_path_buf(), real_root })
    }

    /// The root with every symlink resolved, for `support::fs::read_input`'s `within`.
    pub fn real_root(&self) -> &Path {
        &self.real_root
    }

    /// Reads a file of the repository: a regular file of at most `limit` bytes, inside the repository.
    pub fn read(&self, path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
        read_input(path, limit, Some(&self.real_root))
    }

    /// Lists a folder of the repository, refusing one that leads outside it.
    pub fn read_dir(&self, dir: &Path) -> Result<Vec<std::fs::DirEntry>, Diagnostic> {
        let shown = self.display(dir);
        resolve_within(dir, &self.real_root).map_err(|e| Diagnostic::in_file(&shown, e.reason()))?;
        let rd = std::fs::read_dir(dir)
            .map_err(|e| Diagnostic::in_file(&shown, format!("cannot read folder: {}", io_reason(&e))))?;
        rd.collect::<Result<Vec<_>, _>>()
            .map_err(|e| Diagnostic::in_file(&shown, format!("cannot read folder: {}", io_reason(&e))))
    }

    pub fn environments_dir(&self) -> PathBuf {
        self.root.join("environments")
    }

    pub fn templates_dir(&self) -> PathBuf {
        self.root.join("templates")
    }

    pub fn env_dir(&self, env: &str) -> PathBuf {
        self.environments_dir().join(env)
    }

    pub fn recipients_path(&self, env: &str) -> PathBuf {
        self.env_dir(env).join("recipients")
    }

    /// A path as shown to the user: relative to the repository.
    pub fn display(&self, path: &Path) -> PathBuf {
        crate::support::yaml::display_path(&self.root, path)
    }

    /// The environments: every folder under `environments/`, in name order.
    pub fn environments(&self) -> Result<Vec<String>, Diagnostic> {
        let dir = self.environments_dir();
        let mut names = Vec::new();
        for entry in self.read_dir(&dir)? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && entry.path().is_dir() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// The environments named, or all of them; an error when there is none.
    pub fn named_or_all(&self, names: &[String]) -> Result<Vec<String>, Diagnostic> {
        if !names.is_empty() {
            return Ok(names.to_vec());
        }
        let all = self.environments()?;
        if all.is_empty() {
            return Err(Diagnostic::in_file(
                &self.display(&self.environments_dir()),
                "no environments: create environments/<env>/environment.yaml",
            ));
        }
        Ok(all)
    }

    /// The YAML files of one environment, lowest layer first: `environments/defaults.yaml`, then
    /// `environments/<env>/*.yaml` in name order.
    pub fn environment_files(&self, env: &str) -> Result<Vec<PathBuf>, Diagnostic> {
        let dir = self.env_dir(env);
        if !dir.is_dir() {
            let known = self.environments().unwrap_or_default();
            let mut d = Diagnostic::in_file(
                &self.display(&self.environments_dir()),
                format!("no environment `{env}` (no folder environments/{env}/)"),
            );
            d = match did_you_mean(env, known.iter().map(String::as_str)) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None if known.is_empty() => d.with_help("there are no environments yet"),
                None => d.with_help(format!("environments are: {}", known.join(", "))),
            };
            return Err(d);
        }
        let mut files = Vec::new();
        let defaults = self.environments_dir().join("defaults.yaml");
        if defaults.exists() || defaults.is_symlink() {
            files.push(defaults);
        }
        let mut own = Vec::new();
        for entry in self.read_dir(&dir)? {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && (name.ends_with(".yaml") || name.ends_with(".yml")) {
                own.push(path);
            }
        }
        if own.is_empty() {
            return Err(Diagnostic::in_file(
                &self.display(&dir),
                "the environment folder has no YAML file; expected environment.yaml",
            ));
        }
        own.sort();
        files.extend(own);
        Ok(files)
    }
}
