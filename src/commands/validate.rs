//! `nlconf validate [-e ENV]...`: YAML, schema, templates and recipients, all problems at once.

use crate::app::{Ctx, Status};

pub fn run(ctx: &mut Ctx, envs: &[String]) -> Status {
    let Some(repo) = ctx.repo() else {
        return Status::Failed;
    };
    let Some(names) = ctx.env_names(&repo, envs) else { return Status::Failed };
    let templates = ctx.templates(&repo);
    let mut failed = templates.is_none();
    for name in &names {
        let before = ctx.diags.error_count();
        let Some(env) = ctx.load_env_for_rendering(&repo, name) else {
            failed = true;
            continue;
        };
        if let Some(t) = &templates {
            let (_, diags) = t.render_environment(&env, None, None);
            ctx.diags.extend(diags);
        }
        if ctx.diags.error_count() > before || templates.is_none() {
            failed = true;
            continue;
        }
        let containers: usize = env.instances.iter().map(|i| i.containers.len()).sum();
        ctx.ui.note(&format!(
            "{}: {} ({}, {}, {})",
            ctx.ui.paint("32", "ok"),
            name,
            crate::ui::count(env.instances.len(), "instance"),
            crate::ui::count(containers, "container"),
            crate::ui::count(env.secrets.len(), "secret")
        ));
    }
    if failed { Status::Failed } else { Status::Ok }
}
