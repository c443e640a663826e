//! Runs one invocation: parse the command line, run the command, print the findings, pick the exit
//! code.

use std::ffi::OsString;

use crate::cli::{self, Invocation};
use crate::commands::{self, Ctx, Status};

/// Exit codes (DESIGN §6): 0 success and no changes, 2 success with changes, 1 any error.
pub const EXIT_OK: u8 = 0;
pub const EXIT_ERROR: u8 = 1;
pub const EXIT_CHANGES: u8 = 2;

pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let Invocation { globals, command } = match cli::parse(args.iter().cloned()) {
        Ok(inv) => inv,
        Err(e) if e.use_stderr() => {
            eprint!("{}", cli::usage_error(&e, &args));
            return EXIT_ERROR;
        }
        Err(e) => {
            let _ = e.print();
            return EXIT_OK;
        }
    };
    // The ssh connections of the run are closed (and their sockets removed) on every way out.
    let _connections = crate::target::CloseOnDrop;
    let mut ctx = Ctx::new(globals);
    let status = commands::run(&mut ctx, command);
    let failed = ctx.diags.has_errors() || matches!(status, Status::Failed);
    let diags = std::mem::take(&mut ctx.diags);
    ctx.ui.report(diags);
    match status {
        _ if failed => EXIT_ERROR,
        Status::Changes => EXIT_CHANGES,
        _ => EXIT_OK,
    }
}
