//! What every command works with: the output, the findings to report at the end, the repository
//! and the identities, each looked up once per run.

use std::path::PathBuf;
use std::rc::Rc;

use super::Status;
use crate::cli::Globals;
use crate::diag::{Diagnostic, Diagnostics, Staged};
use crate::env::{self, Environment};
use crate::render::Templates;
use crate::repo::Repository;
use crate::secrets::Identities;
use crate::ui::Ui;

/// What a command works with (see the module's doc).
pub struct Ctx {
    pub ui: Ui,
    pub diags: Diagnostics,
    /// Hosts worked on at once (`--parallelism`).
    pub parallelism: usize,
    dir: PathBuf,
    identity_files: Vec<PathBuf>,
    /// The identities, once looked up: `None` inside when none is configured.
    keys: Option<Option<Rc<Identities>>>,
    jwt_warned: bool,
}

/// A failure whose finding is already recorded in `Ctx::diags`.
#[derive(Debug, Clone, Copy)]
pub struct Reported;

impl Ctx {
    pub fn new(globals: Globals) -> Ctx {
        Ctx {
            ui: Ui::new(globals.output),
            diags: Diagnostics::new(),
            parallelism: globals.parallelism,
            dir: globals.dir,
            identity_files: globals.identities,
            keys: None,
            jwt_warned: false,
        }
    }

    /// The progress of work on hosts, on stderr: live on a terminal (unless -q); elsewhere a line
    /// per step with `plain`, else nothing.
    pub fn progress(&self, plain: bool) -> super::Live {
        use std::io::IsTerminal;
        let live = std::io::stderr().is_terminal() && !self.ui.quiet;
        super::Live::new(live, plain && !self.ui.quiet)
    }

    /// A finding that ends the command.
    pub fn fail(&mut self, d: impl Into<Diagnostics>) -> Status {
        self.diags.extend(d.into());
        Status::Failed
    }

    pub fn repo(&mut self) -> Option<Repository> {
        Repository::open(&self.dir).map_err(|d| self.diags.push(d)).ok()
    }

    /// Loads and validates one environment.
    pub fn load_env(&mut self, repo: &Repository, name: &str) -> Option<Environment> {
        self.load_env_with(repo, name, env::load)
    }

    /// `load_env` for commands that render every container (see `env::load_for_rendering`): their
    /// rendering reports what the schema check finds.
    pub fn load_env_for_rendering(&mut self, repo: &Repository, name: &str) -> Option<Environment> {
        self.load_env_with(repo, name, env::load_for_rendering)
    }

    fn load_env_with(
        &mut self,
        repo: &Repository,
        name: &str,
        load: fn(&Repository, &str) -> Staged<Environment>,
    ) -> Option<Environment> {
        let started = std::time::Instant::now();
        let env = self.diags.take(load(repo, name))?;
        // Every command touching a JWT instance warns once.
        if !self.jwt_warned
            && let Some(w) = env.jwt_warning()
        {
            self.jwt_warned = true;
            self.diags.push(w);
        }
        if self.ui.verbose {
            // The first few files by name: an environment split per instance is a thousand of them.
            const NAMED: usize = 5;
            let mut files: Vec<String> =
                env.files.iter().take(NAMED).map(|f| f.display.display().to_string()).collect();
            if env.files.len() > NAMED {
                files.push(format!("and {} more", env.files.len() - NAMED));
            }
            self.ui.note(&format!(
                "{name}: merged {} in {} ms: {}",
                crate::ui::count(env.files.len(), "file"),
                started.elapsed().as_millis(),
                files.join(", ")
            ));
        }
        Some(env)
    }

    pub fn templates(&mut self, repo: &Repository) -> Option<Templates> {
        Templates::load(repo).map_err(|d| self.diags.extend(d)).ok()
    }

    /// The identities at hand, read once per run: `Ok(None)` when none is configured, `Err` (with the
    /// finding recorded) when one cannot be used.
    pub fn keys(&mut self) -> Result<Option<Rc<Identities>>, Reported> {
        self.lookup_keys(true)
    }

    /// The same for a command that works without: one that cannot be read is a warning, and none.
    pub fn keys_if_any(&mut self) -> Option<Rc<Identities>> {
        self.lookup_keys(false).ok().flatten()
    }

    fn lookup_keys(&mut self, needed: bool) -> Result<Option<Rc<Identities>>, Reported> {
        if let Some(keys) = &self.keys {
            return Ok(keys.clone());
        }
        match crate::secrets::store::find_identities(&self.identity_files) {
            Ok(ids) => {
                let ids = ids.map(Rc::new);
                self.keys = Some(ids.clone());
                Ok(ids)
            }
            Err(d) if needed => {
                self.diags.push(d);
                Err(Reported)
            }
            Err(d) => {
                self.diags.push(Diagnostic { severity: crate::diag::Severity::Warning, ..d });
                self.keys = Some(None);
                Ok(None)
            }
        }
    }

    /// The identities at hand; an error when there is none, since the caller needs one.
    pub fn identities(&mut self, why: &str) -> Option<Rc<Identities>> {
        match self.keys() {
            Ok(Some(ids)) => Some(ids),
            Ok(None) => {
                self.diags.push(
                    Diagnostic::error(None, format!("{why} needs an identity to decrypt secrets, and none was found"))
                        .with_help(crate::secrets::store::NO_IDENTITY_HELP),
                );
                None
            }
            Err(Reported) => None,
        }
    }

    /// The environments named, or all of them.
    pub fn env_names(&mut self, repo: &Repository, names: &[String]) -> Option<Vec<String>> {
        repo.named_or_all(names).map_err(|d| self.diags.push(d)).ok()
    }
}
