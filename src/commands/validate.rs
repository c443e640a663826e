//! `nlconf validate [-e ENV]...`: YAML, schema, templates and recipients, all problems at once.

use super::{Ctx, Status};

pub fn run(ctx: &mut Ctx, envs: &[String]) -> Status {
    let Some(repo) = ctx.repo() else { return Status::Failed };
    let Some(names) = ctx.env_names(&repo, envs) else { return Status::Failed };
    let templates = ctx.templates(&repo);
    let mut failed = templates.is_none();
    for name in &names {
        let Some(env) = ctx.load_env_for_rendering(&repo, name) else {
            failed = true;
            continue;
        };
        // Rendering every container checks its settings and the templates' output.
        let rendered = templates.as_ref().and_then(|t| ctx.diags.take(t.check_environment(&env)));
        if rendered.is_none() {
            failed = true;
            continue;
        }
        // With a key at hand, what only the plaintexts tell is checked too (DESIGN §9).
        // (A key that cannot read this environment checks nothing here: `secret check` says so.)
        if let Some(ids) = ctx.keys_if_any()
            && let Ok(store) = env.decrypt_all(&ids)
        {
            let found = crate::credentials::check_plaintexts(&env, &store);
            if found.has_errors() {
                ctx.diags.extend(found);
                failed = true;
                continue;
            }
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
