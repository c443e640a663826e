//! `nlconf render -e ENV [--out DIR] [--instance I] [--container C] [--reveal]`.

use std::path::Path;

use super::{Ctx, Status};
use crate::diag::Diagnostic;
use std::io::Write;

use zeroize::Zeroizing;

use crate::render::{MASK, RenderedFile, mask};

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
    // Rendering every container checks each as it renders it; a selection is rendered from a
    // fully checked environment, so that a mistake elsewhere is still reported.
    let env = if instance.is_none() && container.is_none() {
        ctx.load_env_for_rendering(&repo, env_name)
    } else {
        ctx.load_env(&repo, env_name)
    };
    let Some(env) = env else {
        return Status::Failed;
    };
    let Some(templates) = templates else {
        return Status::Failed;
    };
    if let Some(i) = instance
        && let Err(d) = env.select(i, container)
    {
        return ctx.fail(d);
    }
    let Some(files) = ctx.diags.take(templates.render_environment(&env, instance, container)) else {
        return Status::Failed;
    };
    if files.is_empty() {
        ctx.diags.push(
            Diagnostic::error(None, format!("no container of `{env_name}` matches"))
                .with_help(format!("nlconf render -e {env_name} lists every container of the environment")),
        );
        return Status::Failed;
    }
    // With --reveal, decrypt the secrets the files hold (each once) and put them in at the very end.
    let values = if reveal {
        let Some(ids) = ctx.identities("render --reveal") else { return Status::Failed };
        let mut which: Vec<crate::secrets::SecretId> = files.iter().flat_map(|f| f.secrets.iter().copied()).collect();
        which.sort_unstable();
        which.dedup();
        match crate::env::decrypt_slots(&env.secrets, &which, &ids) {
            Ok(v) => Some(v),
            Err(d) => return ctx.fail(d),
        }
    } else {
        None
    };
    let output = |f: &RenderedFile| -> Zeroizing<String> {
        match &values {
            None => Zeroizing::new(mask(&f.content)),
            Some(v) => crate::render::reveal(f, |i| v.get(i), MASK),
        }
    };
    match out {
        Some(dir) => write_all(ctx, dir, &files, &output, reveal),
        None if instance.is_some() && container.is_some() => {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(output(&files[0]).as_bytes());
            Status::Ok
        }
        None => {
            for f in &files {
                ctx.ui.out(&format!("{}  ({} bytes)", f.rel_path(), f.content.len()));
            }
            ctx.ui.note(&format!(
                "{}; write them with --out DIR, or print one with --instance and --container",
                crate::ui::count(files.len(), "file")
            ));
            Status::Ok
        }
    }
}

fn write_all(
    ctx: &mut Ctx,
    dir: &Path,
    files: &[RenderedFile],
    output: &dyn Fn(&RenderedFile) -> Zeroizing<String>,
    reveal: bool,
) -> Status {
    for f in files {
        let path = dir.join(&f.container).join(&f.file_name);
        // Files holding secrets are readable by their owner only.
        let mode = if reveal { 0o600 } else { 0o644 };
        let result = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| crate::support::fs::write_replace(&path, output(f).as_bytes(), mode));
        if let Err(e) = result {
            ctx.diags
                .push(Diagnostic::in_file(&path, format!("cannot write: {}", crate::support::yaml::io_reason(&e))));
            return Status::Failed;
        }
        ctx.ui.out(&format!("wrote {}", path.display()));
    }
    Status::Ok
}
