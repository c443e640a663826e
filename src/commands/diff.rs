//! `nlconf diff -e ENV [--deployed DIR | --base GITREV] [--format ...] [--semantic] [-U N]
//! [--detailed-exitcode]`: what would change, masked, for review.

use super::{Ctx, Status};
use crate::cli::ReviewArgs;
use crate::deployed::Hosts;
use crate::plan::compute;
use crate::review::{self, Options};

pub fn run(ctx: &mut Ctx, args: &ReviewArgs, base: Option<&str>, options: Options) -> Status {
    let Some(repo) = ctx.repo() else { return Status::Failed };
    let templates = ctx.templates(&repo);
    let Some(env) = ctx.load_env_for_rendering(&repo, &args.env) else { return Status::Failed };
    let Some(templates) = templates else { return Status::Failed };
    let review = match base {
        Some(rev) => {
            // No key is needed; with one at hand, a re-encrypted secret is told from a new one.
            let keys = ctx.keys_if_any();
            ctx.diags.take(review::base::against_base(&repo, &env, &templates, rev, &options, keys.as_deref()))
        }
        None => {
            let Ok(keys) = ctx.keys() else { return Status::Failed };
            let progress = ctx.progress(false);
            let hosts = Hosts { parallelism: ctx.parallelism, progress: &progress };
            let req = compute::Request {
                repo: &repo,
                source: &args.source,
                options,
                identities: keys.as_deref(),
                hosts: &hosts,
            };
            let planned = ctx.diags.take(compute::review_only(env, &templates, &req));
            planned.map(|p| {
                ctx.ui.timings(&p.timings);
                p.into_review()
            })
        }
    };
    let Some(review) = review else { return Status::Failed };
    ctx.ui.print(&review::format::print(&review, args.format, ctx.ui.color_out, ctx.ui.quiet));
    if args.detailed_exitcode && review.has_changes() { Status::Changes } else { Status::Ok }
}
