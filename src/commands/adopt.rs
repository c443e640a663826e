//! `nlconf adopt -e ENV [--instance I]...`: record that what is deployed is what the YAML says.

use super::{Ctx, Status};
use crate::apply::adopt;

pub fn run(ctx: &mut Ctx, env_name: &str, instances: &[String]) -> Status {
    let Some(repo) = ctx.repo() else { return Status::Failed };
    let Some(ids) = ctx.identities("adopt (its records hold fingerprints of the secrets)") else {
        return Status::Failed;
    };
    let templates = ctx.templates(&repo);
    let Some(env) = ctx.load_env_for_rendering(&repo, env_name) else { return Status::Failed };
    let Some(templates) = templates else { return Status::Failed };
    let progress = ctx.progress(false);
    let hosts = crate::deployed::Hosts { parallelism: ctx.parallelism, progress: &progress };
    let Some(report) = ctx.diags.take(adopt::adopt(env, &templates, &repo, &ids, instances, &hosts)) else {
        return Status::Failed;
    };
    ctx.ui.out(&format!("adopt {env_name}:"));
    for line in &report.adopted {
        ctx.ui.out(&format!("  adopted {line}"));
    }
    for line in &report.refused {
        ctx.ui.out(&format!("  NOT adopted {line}"));
    }
    ctx.ui.out(&format!(
        "{} of {} containers adopted",
        report.adopted.len(),
        report.adopted.len() + report.refused.len()
    ));
    ctx.ui.note(
        "note: nlconf cannot check the secrets themselves against the deployed ciphertexts (only nlserver can read those): it records that the YAML's secrets are the ones deployed; if unsure, let a plan set them",
    );
    let failed = !report.refused.is_empty() || report.errors.has_errors();
    ctx.diags.extend(report.errors);
    if failed { Status::Failed } else { Status::Ok }
}
