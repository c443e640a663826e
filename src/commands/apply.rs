//! `nlconf apply PLANFILE [--force-unlock] [--batch N|P%] [--max-fail N] [--parallelism N]`:
//! carries out exactly the reviewed plan, or nothing.

use std::io::IsTerminal;
use std::path::Path;

use super::{Ctx, Status};
use crate::apply::{self, Batch};
use crate::deployed::Hosts;

/// How to carry out the plan.
pub struct Options {
    pub force_unlock: bool,
    pub show_credential_output: bool,
    pub batch: Option<Batch>,
    pub max_fail: usize,
}

pub fn run(ctx: &mut Ctx, plan_path: &Path, opts: Options) -> Status {
    // What nlserver prints may hold the secret of its command line, in any form: shown to a person
    // who asked for it, never into a CI log.
    if opts.show_credential_output && !std::io::stderr().is_terminal() {
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
    let progress = ctx.progress(true);
    let hosts = Hosts { parallelism: ctx.parallelism, progress: &progress };
    let req = apply::Request {
        plan: &plan,
        plan_path,
        repo: &repo,
        identities: &identities,
        force_unlock: opts.force_unlock,
        show_credential_output: opts.show_credential_output,
        batch: opts.batch,
        max_fail: opts.max_fail,
        hosts: &hosts,
    };
    let Some(report) = ctx.diags.take(apply::apply(env, &templates, &req)) else {
        return Status::Failed;
    };
    for line in report.lines() {
        ctx.ui.out(&line);
    }
    let failed = report.failed();
    ctx.diags.extend(report.errors);
    if failed { Status::Failed } else { Status::Ok }
}
