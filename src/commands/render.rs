//! `nlconf render -e ENV [--out DIR] [--instance I] [--container C] [--reveal]`.

use std::path::Path;

use crate::app::{Ctx, Status};
use crate::diag::Diagnostic;
use crate::render::{RenderedFile, mask};

pub fn run(
    ctx: &mut Ctx,
    env_name: &str,
    out: Option<&Path>,
    instance: Option<&str>,
    container: Option<&str>,
    reveal: bool,
) -> Status {
    let Some(repo) = ctx.repo() else {
        return Status::Failed;
    };
    let templates = ctx.templates(&repo);
    let Some(env) = ctx.load_env(&repo, env_name) else {
        return Status::Failed;
    };
    let Some(templates) = templates else {
        return Status::Failed;
    };
    if let Some(i) = instance {
        match env.instance(i) {
            None => {
                let known: Vec<&str> = env.instances.iter().map(|x| x.name.as_str()).collect();
                ctx.diags.push(
                    Diagnostic::error(None, format!("environment `{env_name}` has no instance `{i}`"))
                        .with_help(format!("instances are: {}", known.join(", "))),
                );
                return Status::Failed;
            }
            Some(inst) => {
                if let Some(c) = container
                    && inst.container(c).is_none()
                {
                    let known: Vec<&str> = inst.containers.iter().map(|x| x.name.as_str()).collect();
                    ctx.diags.push(
                        Diagnostic::error(None, format!("instance `{i}` has no container `{c}`"))
                            .with_help(format!("containers are: {}", known.join(", "))),
                    );
                    return Status::Failed;
                }
            }
        }
    }
    if reveal {
        ctx.diags.push(
            Diagnostic::error(None, "--reveal needs the secrets support, which this build does not have yet")
                .with_help("render without --reveal: secrets are shown as (sensitive)"),
        );
        return Status::Failed;
    }
    let (files, diags) = templates.render_environment(&env, instance, container);
    ctx.diags.extend(diags);
    if ctx.diags.has_errors() {
        return Status::Failed;
    }
    if files.is_empty() {
        ctx.diags.push(Diagnostic::error(None, format!("no container of `{env_name}` matches")));
        return Status::Failed;
    }
    match out {
        Some(dir) => write_all(ctx, dir, &files),
        None if instance.is_some() && container.is_some() => {
            print!("{}", mask(&files[0].content));
            Status::Ok
        }
        None => {
            for f in &files {
                ctx.ui.out(&format!("{}  ({} bytes)", f.rel_path(), f.content.len()));
            }
            ctx.ui.note(&format!(
                "{} files; write them with --out DIR, or print one with --instance and --container",
                files.len()
            ));
            Status::Ok
        }
    }
}

fn write_all(ctx: &mut Ctx, dir: &Path, files: &[RenderedFile]) -> Status {
    for f in files {
        let path = dir.join(&f.container).join(&f.file_name);
        let result = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| crate::fsutil::write_atomic(&path, mask(&f.content).as_bytes()));
        if let Err(e) = result {
            ctx.diags.push(Diagnostic::in_file(&path, format!("cannot write: {}", crate::yaml::io_reason(&e))));
            return Status::Failed;
        }
        ctx.ui.out(&format!("wrote {}", path.display()));
    }
    Status::Ok
}
