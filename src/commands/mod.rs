//! One module per command: each turns its arguments into a stage's request, calls the stage, and
//! prints what it returns. The work is in the stages; no command imports another.

pub mod apply;
pub mod diff;
pub mod explain;
pub mod import;
pub mod ims;
pub mod plan;
pub mod render;
pub mod secret;
pub mod validate;

use std::path::PathBuf;
use std::rc::Rc;

use crate::cli::{Command, Globals};
use crate::diag::{Diagnostic, Diagnostics, Staged};
use crate::env::{self, Environment, ims as env_ims};
use crate::render::Templates;
use crate::repo::Repository;
use crate::secrets::Identities;
use crate::ui::Ui;

/// How a command ended, before findings are counted: an error found anywhere fails the run.
pub enum Status {
    Ok,
    Changes,
    Failed,
}

/// What a command works with: the output, the findings to report at the end, the repository's
/// folder and the identities named on the command line.
pub struct Ctx {
    pub ui: Ui,
    pub diags: Diagnostics,
    dir: PathBuf,
    identity_files: Vec<PathBuf>,
    /// The identities, once looked up: `None` inside when none is configured.
    keys: Option<Option<Rc<Identities>>>,
    jwt_warned: bool,
}

/// Runs one command.
pub fn run(ctx: &mut Ctx, command: Command) -> Status {
    match command {
        Command::Validate { envs } => validate::run(ctx, &envs),
        Command::Render { env, out, instance, container, reveal } => {
            render::run(ctx, &env, out.as_deref(), instance.as_deref(), container.as_deref(), reveal)
        }
        Command::Diff { review, base, options } => diff::run(ctx, &review, base.as_deref(), options),
        Command::Plan { review, out } => plan::run(ctx, &review, &out),
        Command::Apply { plan, force_unlock } => apply::run(ctx, &plan, force_unlock),
        Command::Import { env, instance, files, force } => import::run(ctx, &env, &instance, &files, force),
        Command::Explain { env, instance, container, path } => {
            explain::run(ctx, &env, &instance, container.as_deref(), path.as_deref())
        }
        Command::SecretSet { env, path, from_file } => secret::set(ctx, &env, &path, from_file.as_deref()),
        Command::SecretRekey { envs, dry_run } => secret::rekey(ctx, &envs, dry_run),
        Command::SecretCheck { envs } => secret::check(ctx, &envs),
        Command::ImsStatus { env, source } => ims::status(ctx, &env, &source),
        Command::Print(bytes) => print_bytes(&bytes),
    }
}

/// Writes to stdout; a reader that went away (`| head`) is not an error worth a panic.
fn print_bytes(bytes: &[u8]) -> Status {
    use std::io::Write;
    match std::io::stdout().lock().write_all(bytes) {
        Ok(()) => Status::Ok,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Status::Ok,
        Err(_) => Status::Failed,
    }
}

impl Ctx {
    pub fn new(globals: Globals) -> Ctx {
        Ctx {
            ui: Ui::new(globals.output),
            diags: Diagnostics::new(),
            dir: globals.dir,
            identity_files: globals.identities,
            keys: None,
            jwt_warned: false,
        }
    }

    /// A stage's value, its findings kept for the report.
    pub fn take<T>(&mut self, staged: Staged<T>) -> Option<T> {
        self.diags.take(staged)
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
        let env = self.take(load(repo, name))?;
        self.warn_jwt(&env);
        let files: Vec<String> = env.files.iter().map(|f| f.display.display().to_string()).collect();
        self.ui.timing(
            &format!("{name}: merged {}: {}", crate::ui::count(files.len(), "file"), files.join(", ")),
            started,
        );
        Some(env)
    }

    pub fn templates(&mut self, repo: &Repository) -> Option<Templates> {
        Templates::load(repo).map_err(|d| self.diags.extend(d)).ok()
    }

    /// The identities at hand, read once per run: `Ok(None)` when none is configured, `Err` (with the
    /// finding recorded) when one cannot be used.
    pub fn keys(&mut self) -> Result<Option<Rc<Identities>>, ()> {
        if let Some(keys) = &self.keys {
            return Ok(keys.clone());
        }
        match crate::secrets::store::find_identities(&self.identity_files) {
            Ok(ids) => {
                let ids = ids.map(Rc::new);
                self.keys = Some(ids.clone());
                Ok(ids)
            }
            Err(d) => {
                self.diags.push(d);
                Err(())
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
            Err(()) => None,
        }
    }

    /// The environments named, or all of them.
    pub fn env_names(&mut self, repo: &Repository, names: &[String]) -> Option<Vec<String>> {
        if !names.is_empty() {
            return Some(names.to_vec());
        }
        match repo.environments() {
            Ok(n) if !n.is_empty() => Some(n),
            Ok(_) => {
                self.diags.push(Diagnostic::in_file(
                    &repo.display(&repo.environments_dir()),
                    "no environments: create environments/<env>/environment.yaml",
                ));
                None
            }
            Err(d) => {
                self.diags.push(d);
                None
            }
        }
    }

    /// Every command touching a JWT instance warns once.
    fn warn_jwt(&mut self, env: &Environment) {
        if self.jwt_warned || !env.uses_jwt() {
            return;
        }
        self.jwt_warned = true;
        let names: Vec<String> = env
            .instances
            .iter()
            .filter(|i| i.ims.as_ref().is_some_and(|x| x.auth == env::Auth::Jwt))
            .map(|i| format!("{}/{}", env.name, i.name))
            .collect();
        self.diags.push(
            Diagnostic::warning(None, format!("{} ({} uses `auth: jwt`)", env_ims::JWT_END_OF_LIFE, names.join(", ")))
                .with_help(env_ims::JWT_MIGRATION),
        );
    }
}
