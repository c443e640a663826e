//! `nlconf plan -e ENV [--deployed DIR] --out PLANFILE [--format ...] [--detailed-exitcode]`: the
//! review of `diff`, and a plan file that `apply` carries out exactly.

use std::path::Path;

use super::{Ctx, Status};
use crate::cli::ReviewArgs;
use crate::deployed::Hosts;
use crate::plan::{self, PlanFile, compute};
use crate::review::{self, Options};

pub fn run(ctx: &mut Ctx, args: &ReviewArgs, out: &Path) -> Status {
    let Some(repo) = ctx.repo() else { return Status::Failed };
    let templates = ctx.templates(&repo);
    let Some(env) = ctx.load_env_for_rendering(&repo, &args.env) else { return Status::Failed };
    let Some(templates) = templates else { return Status::Failed };
    let Ok(keys) = ctx.keys() else { return Status::Failed };
    let options = Options { semantic: false, context: 3 };
    let progress = ctx.progress(false);
    let hosts = Hosts { parallelism: ctx.parallelism, progress: &progress };
    let req =
        compute::Request { repo: &repo, source: &args.source, options, identities: keys.as_deref(), hosts: &hosts };
    let Some(mut p) = ctx.diags.take(compute::for_plan(env, &templates, &req)) else { return Status::Failed };
    ctx.ui.timings(&p.timings);
    let started = std::time::Instant::now();
    let inputs = std::mem::take(&mut p.inputs);
    let written = p.take_written();
    // The plan file is assembled and written while the review is formatted: neither needs the other.
    let (color, quiet) = (ctx.ui.color_out, ctx.ui.quiet);
    let (written, shown) = rayon::join(
        || {
            let planfile = PlanFile::of_review(&p, written, inputs);
            plan::file::write(out, &planfile).map(|()| (planfile, started.elapsed()))
        },
        || review::format::print(&p.review, args.format, color, quiet),
    );
    let (planfile, took) = match written {
        Ok(w) => w,
        Err(d) => return ctx.fail(d),
    };
    ctx.ui.took(&format!("wrote the plan ({})", crate::ui::count(planfile.containers.len(), "container")), took);
    let started = std::time::Instant::now();
    ctx.ui.print(&shown);
    ctx.ui.timing("printed the review", started);
    let changes = planfile.has_changes();
    ctx.ui.note(&if changes {
        format!("plan written to {}: carry it out with `nlconf apply {}`", out.display(), out.display())
    } else {
        format!("plan written to {}: nothing to do", out.display())
    });
    // As in `Planned::into_review`: the secrets are wiped; the plan file holds placeholders only.
    std::mem::forget((planfile, p.into_review()));
    if args.detailed_exitcode && changes { Status::Changes } else { Status::Ok }
}
