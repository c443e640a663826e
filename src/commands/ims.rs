//! `nlconf ims status -e ENV [--deployed DIR]`: the seed procedure's step 1, for every container:
//! which Adobe I/O project (technical-account client ID) is deployed, whether it is the YAML's, and
//! what nlconf last applied.

use super::{Ctx, Status};
use crate::deployed::{self, Source};
use crate::env::{Container, Instance};

pub fn status(ctx: &mut Ctx, env_name: &str, source: &Source) -> Status {
    let Some(repo) = ctx.repo() else { return Status::Failed };
    let Some(env) = ctx.load_env(&repo, env_name) else { return Status::Failed };
    let jobs: Vec<(&Instance, &Container)> = env.containers().collect();
    let progress = ctx.progress(false);
    let hosts = deployed::Hosts { parallelism: ctx.parallelism, progress: &progress };
    let (files, diags) = deployed::read_all(&repo.root, &env, source, &jobs, &hosts);
    if diags.has_errors() {
        return ctx.fail(diags);
    }
    let mut rows = vec![[
        "INSTANCE".to_string(),
        "CONTAINER".into(),
        "DEPLOYED CLIENT ID".into(),
        "YAML".into(),
        "LAST APPLIED BY NLCONF".into(),
    ]];
    // read_all keeps the order of the jobs (and stopped above on any error).
    for ((inst, c), d) in jobs.iter().zip(&files) {
        let deployed_id = d.ims_client_id();
        let shown_id = match (&d.content, deployed_id) {
            (None, _) => "no file".to_string(),
            (Some(_), None) => "not configured".to_string(),
            (Some(_), Some(id)) => id.to_string(),
        };
        let managed = if inst.ims.is_some() { "" } else { " (credentials not managed)" };
        let yaml = match (&inst.ims_client_id, deployed_id) {
            (None, _) => "no ims: block".to_string(),
            (Some(yaml), Some(id)) if id == yaml => format!("same{managed}"),
            (Some(yaml), None) => format!("to set: {yaml}{managed}"),
            (Some(yaml), Some(_)) => format!("differs: {yaml}{managed}"),
        };
        let applied = match d.state.as_ref().and_then(|s| s.credentials.get("ims").map(|c| (s, c))) {
            Some((s, c)) => {
                let field = |k: &str| c.fields.get(k).map_or("?", String::as_str);
                format!("{} {} at {} (nlconf {})", field("auth"), field("clientId"), s.applied_at, s.nlconf_version)
            }
            None => "never".to_string(),
        };
        rows.push([inst.name.clone(), c.name.clone(), shown_id, yaml, applied]);
    }
    let widths: Vec<usize> = (0..5).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    for r in &rows {
        // Padded by hand: a format width over 65,535 (a deployed value can be any length) panics.
        let line: Vec<String> =
            r.iter().zip(&widths).map(|(cell, w)| format!("{cell}{}", " ".repeat(w - cell.chars().count()))).collect();
        ctx.ui.out(line.join("  ").trim_end());
    }
    let rendered_notes = crate::plan::notes(&env, &files);
    for n in rendered_notes {
        ctx.ui.out(&format!("note: {n}"));
    }
    Status::Ok
}
