//! `nlconf apply PLANFILE [--force-unlock]`: carries out exactly the reviewed plan, or nothing.

use std::io::IsTerminal;
use std::path::Path;

use super::{Ctx, Status};
use crate::apply::{self, Reporter};
use crate::ui::Ui;

pub fn run(ctx: &mut Ctx, plan_path: &Path, force_unlock: bool, show_credential_output: bool) -> Status {
    // What nlserver prints may hold the secret of its command line, in any form: shown to a person
    // who asked for it, never into a CI log.
    if show_credential_output && !std::io::stderr().is_terminal() {
        return ctx.fail(crate::diag::Diagnostic::error(
            None,
            "--show-credential-output works at a terminal only: what nlserver prints may hold the secret",
        ));
    }
    let plan = match crate::plan::file::read(plan_path).and_then(|p| p.check_names(plan_path).map(|()| p)) {
        Ok(p) => p,
        Err(d) => return ctx.fail(d),
    };
    let Some(repo) = ctx.repo() else { return Status::Failed };
    let Some(identities) = ctx.identities("apply") else { return Status::Failed };
    let templates = ctx.templates(&repo);
    let Some(env) = ctx.load_env_for_rendering(&repo, &plan.environment) else { return Status::Failed };
    let Some(templates) = templates else { return Status::Failed };
    let req = apply::Request {
        plan: &plan,
        plan_path,
        repo: &repo,
        identities: &identities,
        force_unlock,
        show_credential_output,
    };
    let live = std::io::stderr().is_terminal() && !ctx.ui.quiet;
    let mut progress = Progress { ui: &ctx.ui, live };
    let Some(report) = ctx.diags.take(apply::apply(env, &templates, &req, &mut progress)) else {
        return Status::Failed;
    };
    for line in report.lines() {
        ctx.ui.out(&line);
    }
    let failed = report.failed();
    ctx.diags.extend(report.errors);
    if failed { Status::Failed } else { Status::Ok }
}

/// Progress on stderr: one line rewritten in place on a terminal, a line per step elsewhere.
struct Progress<'a> {
    ui: &'a Ui,
    live: bool,
}

impl Reporter for Progress<'_> {
    fn step(&mut self, container: &str, what: &str) {
        if self.live {
            eprint!("\r\x1b[2K{container}: {what}");
        } else {
            self.ui.note(&format!("{container}: {what}"));
        }
    }

    fn finished(&mut self, container: &str, ok: bool) {
        match (self.live, ok) {
            (true, true) => eprintln!("\r\x1b[2K{container}: done"),
            (true, false) => eprintln!(),
            (false, _) => {}
        }
    }
}
