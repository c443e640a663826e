//! Runs one invocation: parse the command line, dispatch, print findings, pick the exit code.

use std::ffi::OsString;
use std::path::PathBuf;
use std::rc::Rc;

use crate::cli::{self, Command, Invocation};
use crate::commands;
use crate::diag::{Diagnostic, Diagnostics};
use crate::env::{self, Environment, ims};
use crate::render::Templates;
use crate::repo::Repository;
use crate::secrets::Identities;
use crate::ui::Ui;

/// Exit codes (DESIGN §6): 0 success and no changes, 2 success with changes, 1 any error.
pub const EXIT_OK: u8 = 0;
pub const EXIT_ERROR: u8 = 1;
pub const EXIT_CHANGES: u8 = 2;

/// A failure whose diagnostic is already recorded in `Ctx::diags`.
#[derive(Debug, Clone, Copy)]
pub struct Reported;

pub enum Status {
    Ok,
    Changes,
    Failed,
}

/// What a command works with: the output, the findings so far, and the repository.
pub struct Ctx {
    pub ui: Ui,
    pub diags: Diagnostics,
    pub dir: PathBuf,
    pub identities: Vec<PathBuf>,
    /// The identities, once looked up.
    keys: Option<Result<Option<Rc<Identities>>, Reported>>,
    jwt_warned: bool,
}

impl Ctx {
    pub fn repo(&mut self) -> Option<Repository> {
        match Repository::open(&self.dir) {
            Ok(r) => Some(r),
            Err(d) => {
                self.diags.push(d);
                None
            }
        }
    }

    /// Loads one environment, keeping its findings; `None` when it has errors.
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
        load: fn(&Repository, &str) -> (Option<Environment>, crate::diag::Diagnostics),
    ) -> Option<Environment> {
        let started = std::time::Instant::now();
        let (env, diags) = load(repo, name);
        self.diags.extend(diags);
        if let Some(e) = &env {
            self.warn_jwt(e);
            if self.ui.verbose {
                let files: Vec<String> = e.files.iter().map(|f| f.display.display().to_string()).collect();
                self.ui.note(&format!(
                    "{name}: merged {} in {} ms: {}",
                    crate::ui::count(files.len(), "file"),
                    started.elapsed().as_millis(),
                    files.join(", ")
                ));
            }
        }
        env
    }

    pub fn templates(&mut self, repo: &Repository) -> Option<Templates> {
        match Templates::load(repo) {
            Ok(t) => Some(t),
            Err(d) => {
                self.diags.extend(d);
                None
            }
        }
    }

    /// The identities at hand, read once per run: `Ok(None)` when none is configured, `Err` (with the
    /// finding recorded) when one cannot be used.
    pub fn keys(&mut self) -> Result<Option<Rc<Identities>>, Reported> {
        if self.keys.is_none() {
            self.keys = Some(match crate::secrets::store::find_identities(&self.identities) {
                Ok(ids) => Ok(ids.map(Rc::new)),
                Err(d) => {
                    self.diags.push(d);
                    Err(Reported)
                }
            });
        }
        self.keys.clone().unwrap_or(Ok(None))
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
            Diagnostic::warning(None, format!("{} ({} uses `auth: jwt`)", ims::JWT_END_OF_LIFE, names.join(", ")))
                .with_help(ims::JWT_MIGRATION),
        );
    }
}

pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let Invocation { globals, command } = match cli::parse(args) {
        Ok(inv) => inv,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_ERROR } else { EXIT_OK };
        }
    };
    let mut ctx = Ctx {
        ui: Ui::new(globals.color, globals.quiet, globals.verbose),
        diags: Diagnostics::new(),
        dir: globals.dir,
        identities: globals.identities,
        keys: None,
        jwt_warned: false,
    };
    let status = match command {
        Command::Validate { envs } => commands::validate::run(&mut ctx, &envs),
        Command::Render { env, out, instance, container, reveal } => {
            commands::render::run(&mut ctx, &env, out.as_deref(), instance.as_deref(), container.as_deref(), reveal)
        }
        Command::Plan { env, deployed, out, format, detailed_exitcode } => {
            let args = commands::plan::PlanArgs { env, deployed, out, format: format_of(format), detailed_exitcode };
            commands::plan::run(&mut ctx, &args)
        }
        Command::Apply { plan, force_unlock } => commands::apply::run(&mut ctx, &plan, force_unlock),
        Command::Import { env, instance, files, force } => {
            commands::import::run(&mut ctx, &env, &instance, &files, force)
        }
        Command::Diff(o) => {
            let format = format_of(o.format);
            let args = commands::diff::DiffArgs {
                env: o.env,
                deployed: o.deployed,
                base: o.base,
                format,
                semantic: o.semantic,
                context: o.context,
                detailed_exitcode: o.detailed_exitcode,
            };
            commands::diff::run(&mut ctx, &args)
        }
        Command::Explain { env, instance, container, path } => {
            commands::explain::run(&mut ctx, &env, &instance, container.as_deref(), path.as_deref())
        }
        Command::SecretSet { env, path, from_file } => {
            commands::secret::set(&mut ctx, &env, &path, from_file.as_deref())
        }
        Command::SecretRekey { envs, dry_run } => commands::secret::rekey(&mut ctx, &envs, dry_run),
        Command::SecretCheck { envs } => commands::secret::check(&mut ctx, &envs),
        Command::ImsStatus { env, deployed } => commands::ims::status(&mut ctx, &env, deployed.as_deref()),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cli::command(), "nlconf", &mut script);
            write_stdout(&script)
        }
        Command::Man => match man_page() {
            Ok(page) => write_stdout(&page),
            Err(e) => {
                ctx.diags.push(Diagnostic::error(None, format!("cannot write the man page: {e}")));
                Status::Failed
            }
        },
    };
    let failed = ctx.diags.has_errors() || matches!(status, Status::Failed);
    let diags = std::mem::take(&mut ctx.diags);
    ctx.ui.report(diags);
    match status {
        _ if failed => EXIT_ERROR,
        Status::Changes => EXIT_CHANGES,
        _ => EXIT_OK,
    }
}

/// Writes to stdout; a reader that went away (`| head`) is not an error worth a panic.
fn write_stdout(bytes: &[u8]) -> Status {
    use std::io::Write;
    match std::io::stdout().lock().write_all(bytes) {
        Ok(()) => Status::Ok,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Status::Ok,
        Err(_) => Status::Failed,
    }
}

fn man_page() -> std::io::Result<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(cli::command()).render(&mut page)?;
    Ok(page)
}

fn format_of(f: cli::FormatArg) -> commands::diff::Format {
    match f {
        cli::FormatArg::Text => commands::diff::Format::Text,
        cli::FormatArg::Json => commands::diff::Format::Json,
        cli::FormatArg::Markdown => commands::diff::Format::Markdown,
    }
}
