//! `nlconf plan -e ENV [--deployed DIR] --out PLANFILE [--format ...] [--detailed-exitcode]`: the
//! review of `diff`, and a plan file that `apply` carries out exactly.

use std::path::{Path, PathBuf};

use crate::app::{Ctx, Status};
use crate::commands::diff::{self, Format};
use crate::deployed::Source;
use crate::diag::Diagnostic;
use crate::plan::PlanFile;
use crate::review::Options;

pub struct PlanArgs {
    pub env: String,
    pub deployed: Option<PathBuf>,
    pub out: PathBuf,
    pub format: Format,
    pub detailed_exitcode: bool,
}

pub fn run(ctx: &mut Ctx, args: &PlanArgs) -> Status {
    let Some(repo) = ctx.repo() else { return Status::Failed };
    let source = args.deployed.clone().map_or(Source::Target, Source::Dir);
    let opts = Options { semantic: false, context: 3 };
    let Some(c) = diff::against_deployed(ctx, &repo, &args.env, &source, &opts) else { return Status::Failed };
    let started = std::time::Instant::now();
    let mut c = c;
    let plan = PlanFile::new_taking(&c.env, c.inputs.clone(), &mut c.rendered, &c.deployed, &c.steps);
    let review = c.into_review();
    if let Err(d) = write_plan(&args.out, &plan) {
        ctx.diags.push(d);
        return Status::Failed;
    }
    ctx.ui.timing(&format!("wrote the plan ({})", crate::ui::count(plan.containers.len(), "container")), started);
    let started = std::time::Instant::now();
    diff::print(ctx, &review, args.format);
    ctx.ui.timing("printed the review", started);
    ctx.ui.note(&if plan.has_changes() {
        format!("plan written to {}: carry it out with `nlconf apply {}`", args.out.display(), args.out.display())
    } else {
        format!("plan written to {}: nothing to do", args.out.display())
    });
    let changes = plan.has_changes();
    std::mem::forget((plan, review));
    if args.detailed_exitcode && changes { Status::Changes } else { Status::Ok }
}

fn write_plan(path: &Path, plan: &PlanFile) -> Result<(), Diagnostic> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            Diagnostic::in_file(path, format!("cannot create the folder: {}", crate::support::yaml::io_reason(&e)))
        })?;
    }
    // Replaced atomically (apply never reads half a plan) but not synced to disk: a plan lost in a
    // crash is made again, and syncing megabytes would be a tenth of a fleet's plan.
    crate::support::fs::write_replace_with(path, 0o644, |w| plan.write_json(w)).map_err(|e| {
        Diagnostic::in_file(path, format!("cannot write the plan: {}", crate::support::yaml::io_reason(&e)))
    })
}

/// Reads a plan file, refusing another schema or another nlconf version.
pub fn read_plan(path: &Path) -> Result<PlanFile, Diagnostic> {
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostic::in_file(path, format!("cannot read the plan: {}", crate::support::yaml::io_reason(&e)))
    })?;
    let plan: PlanFile = serde_json::from_slice(&bytes).map_err(|e| {
        Diagnostic::at(
            crate::diag::Location::new(path, e.line() as u32, e.column() as u32),
            format!("not an nlconf plan file: {e}"),
        )
    })?;
    if plan.schema != crate::plan::PLAN_SCHEMA {
        return Err(Diagnostic::in_file(
            path,
            format!("plan schema `{}` is not the `{}` this nlconf reads", plan.schema, crate::plan::PLAN_SCHEMA),
        ));
    }
    if plan.nlconf_version != env!("CARGO_PKG_VERSION") {
        return Err(Diagnostic::in_file(
            path,
            format!(
                "the plan was made by nlconf {}, this is nlconf {}: rendering may differ",
                plan.nlconf_version,
                env!("CARGO_PKG_VERSION")
            ),
        )
        .with_help("make a new plan with this nlconf and review it"));
    }
    Ok(plan)
}
