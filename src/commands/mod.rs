//! One module per command: each turns its arguments into a stage's request, calls the stage, and
//! prints what it returns. The work is in the stages; no command imports another.

pub mod adopt;
pub mod apply;
pub mod diff;
pub mod explain;
pub mod import;
pub mod ims;
pub mod init;
pub mod plan;
pub mod render;
pub mod schema;
pub mod secret;
pub mod validate;

mod context;
mod progress;

pub use context::Ctx;
pub(crate) use progress::Live;

use crate::cli::Command;

/// How a command ended, before findings are counted: an error found anywhere fails the run.
pub enum Status {
    Ok,
    Changes,
    Failed,
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
        Command::Apply { plan, force_unlock, show_credential_output, batch, max_fail } => {
            let opts = apply::Options { force_unlock, show_credential_output, batch, max_fail };
            apply::run(ctx, &plan, opts)
        }
        Command::Import { env, instance, files, force } => import::run(ctx, &env, &instance, &files, force),
        Command::Adopt { env, instances } => adopt::run(ctx, &env, &instances),
        Command::Explain { env, instance, container, path } => {
            explain::run(ctx, &env, &instance, container.as_deref(), path.as_deref())
        }
        Command::SecretSet { env, path, from_file } => secret::set(ctx, &env, &path, from_file.as_deref()),
        Command::SecretRekey { envs, dry_run } => secret::rekey(ctx, &envs, dry_run),
        Command::SecretCheck { envs, decrypt } => secret::check(ctx, &envs, decrypt),
        Command::ImsStatus { env, source } => ims::status(ctx, &env, &source),
        Command::Schema => schema::run(ctx),
        Command::Init { dir, identities } => init::run(ctx, &dir, &identities),
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
