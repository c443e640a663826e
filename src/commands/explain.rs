//! `nlconf explain -e ENV --instance I [--container C] [PATH]`: every final value, where it was set
//! and what it overrode.

use super::{Ctx, Status};

pub fn run(ctx: &mut Ctx, env_name: &str, instance: &str, container: Option<&str>, filter: Option<&str>) -> Status {
    let Some(repo) = ctx.repo() else { return Status::Failed };
    let Some(env) = ctx.load_env(&repo, env_name) else { return Status::Failed };
    match crate::env::explain::explain(&env, instance, container, filter) {
        Ok(lines) => {
            for line in lines {
                ctx.ui.out(&line);
            }
            Status::Ok
        }
        Err(d) => ctx.fail(d),
    }
}
