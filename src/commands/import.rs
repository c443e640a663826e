//! `nlconf import -e ENV --instance I [CONTAINER=FILE | CONTAINER]... [--force]`: adopt the deployed
//! `config-<instance>.xml` of each container into `environments/<env>/<instance>.yaml`.

use super::{Ctx, Status};
use crate::import::request::{self, Request};

pub fn run(ctx: &mut Ctx, env_name: &str, instance: &str, specs: &[String], force: bool) -> Status {
    let Some(repo) = ctx.repo() else { return Status::Failed };
    let req = Request { env: env_name, instance, specs, force, parallelism: ctx.parallelism };
    let Some(done) = ctx.diags.take(request::run(&repo, &req)) else { return Status::Failed };
    ctx.ui.out(&format!("wrote {} ({})", done.written.display(), crate::ui::count(done.containers, "container")));
    let r = &done.report;
    let sections: [(&str, &[String]); 5] = [
        (
            "kept by nlserver, with the other sensitive values (left out of the YAML; carried over from the deployed files on render)",
            &r.kept_by_nlserver,
        ),
        ("unknown to the schema, written under rawAttributes (each may be a typo that ACC ignores)", &r.raw_attributes),
        ("NOT carried", &r.not_carried),
        ("XML comments, not carried", &r.comments),
        ("technical account", &r.ims),
    ];
    for (title, lines) in sections.into_iter().filter(|(_, lines)| !lines.is_empty()) {
        ctx.ui.out(&format!("{title}:"));
        for l in lines {
            ctx.ui.out(&format!("  {l}"));
        }
    }
    if done.validates {
        let dir_hint = if specs.iter().all(|s| s.contains('=')) { " --deployed DIR" } else { "" };
        ctx.ui.note(&format!(
            "check: nlconf validate -e {env_name}; nlconf diff -e {env_name}{dir_hint} --semantic (nothing should change)"
        ));
    } else {
        ctx.ui.note("fix what the warnings name (values the deployed files hold that ACC's schema rejects), then run nlconf validate");
    }
    Status::Ok
}
