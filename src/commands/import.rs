//! `nlconf import -e ENV --instance I [CONTAINER=FILE | CONTAINER]... [--force]`: adopt the deployed
//! `config-<instance>.xml` of each container into `environments/<env>/<instance>.yaml`.

use std::path::Path;

use crate::app::{Ctx, Status};
use crate::diag::{Diagnostic, Location};
use crate::env;
use crate::import::{self, Input};
use crate::support::xml;

pub fn run(ctx: &mut Ctx, env_name: &str, instance: &str, specs: &[String], force: bool) -> Status {
    let Some(repo) = ctx.repo() else { return Status::Failed };
    if let Err(d) = repo.environment_files(env_name) {
        ctx.diags.push(d);
        return Status::Failed;
    }
    if instance.is_empty() || !instance.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        ctx.diags.push(Diagnostic::error(
            None,
            format!("instance name `{instance}`: use letters, digits, `_` and `-` only"),
        ));
        return Status::Failed;
    }
    let out_path = repo.env_dir(env_name).join(format!("{instance}.yaml"));
    let shown_out = repo.display(&out_path);
    if out_path.exists() && !force {
        ctx.diags.push(
            Diagnostic::in_file(&shown_out, "already exists; nlconf import never overwrites a file")
                .with_help("move it away, or pass --force to replace it"),
        );
        return Status::Failed;
    }
    // The instance must not be defined by another file of the environment.
    let (sources, _) = env::read_sources(&repo, env_name);
    if let Some(sources) = &sources {
        for (file, path) in sources.files.iter().zip(&sources.paths) {
            if *path == out_path {
                continue;
            }
            if let Some(e) = file.root.get("instances").and_then(|i| i.entry(instance)) {
                ctx.diags.push(Diagnostic::at(
                    Location::new(&file.display, e.key_pos.line, e.key_pos.col),
                    format!("instance `{instance}` is already defined here; import writes a new instance"),
                ));
                return Status::Failed;
            }
        }
    }
    if specs.is_empty() {
        ctx.diags.push(
            Diagnostic::error(None, "name the containers: CONTAINER=FILE for a local copy, or CONTAINER to read it from the target")
                .with_help(format!("e.g. nlconf import -e {env_name} --instance {instance} app1=app1/config-{instance}.xml app2=app2/config-{instance}.xml")),
        );
        return Status::Failed;
    }
    let mut inputs = Vec::new();
    let mut target = None;
    for spec in specs {
        let (container, file) = match spec.split_once('=') {
            Some((c, f)) => (c.to_string(), Some(f.to_string())),
            None => (spec.clone(), None),
        };
        if container.is_empty() || !container.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            ctx.diags.push(Diagnostic::error(None, format!("`{spec}`: expected CONTAINER=FILE or CONTAINER")));
            continue;
        }
        if specs.iter().filter(|s| s.split_once('=').map_or(s.as_str(), |(c, _)| c) == container).count() > 1
            && !ctx.diags.iter().any(|d| d.message.contains(&format!("`{container}` is named twice")))
        {
            ctx.diags.push(Diagnostic::error(None, format!("container `{container}` is named twice")));
            continue;
        }
        let read = match &file {
            Some(f) => read_local(Path::new(f), instance),
            None => {
                if target.is_none() {
                    let (t, diags) = env::load_target_settings(&repo, env_name);
                    ctx.diags.extend(diags);
                    target = t;
                }
                let Some(t) = &target else { return Status::Failed };
                read_target(&repo.root, t, instance, &container)
            }
        };
        match read {
            Ok((shown, text)) => match xml::parse(&text) {
                Ok(tree) if tree.name.eq_ignore_ascii_case("serverconf") => {
                    inputs.push(Input { container, shown, text, tree })
                }
                Ok(tree) => ctx.diags.push(Diagnostic::at(
                    Location::new(&shown, tree.line, tree.col),
                    format!("the root element is <{}>, expected <serverconf>: not an ACC instance file", tree.name),
                )),
                Err(e) => ctx.diags.push(Diagnostic::at(
                    Location::new(&shown, e.line, e.col),
                    format!("{container}: not well-formed XML: {}", e.message),
                )),
            },
            Err(d) => ctx.diags.push(d),
        }
    }
    if ctx.diags.has_errors() {
        return Status::Failed;
    }
    let names: Vec<String> = inputs.iter().map(|i| format!("{}={}", i.container, i.shown)).collect();
    let header = format!(
        "Imported by `nlconf import` on {} from:\n  {}\nnlserver's encrypted attributes are not here: nlconf keeps them from the deployed files.",
        &crate::support::clock::now_utc()[..10],
        names.join("\n  ")
    );
    let imported = import::import(env_name, instance, &inputs, &header);
    if let Err(e) = crate::support::fs::write_atomic(&out_path, imported.yaml.as_bytes()) {
        ctx.diags
            .push(Diagnostic::in_file(&shown_out, format!("cannot write: {}", crate::support::yaml::io_reason(&e))));
        return Status::Failed;
    }
    ctx.ui.out(&format!("wrote {} ({})", shown_out.display(), crate::ui::count(inputs.len(), "container")));
    let r = &imported.report;
    let section = |title: &str, lines: &[String]| {
        if !lines.is_empty() {
            ctx.ui.out(&format!("{title}:"));
            for l in lines {
                ctx.ui.out(&format!("  {l}"));
            }
        }
    };
    section(
        "kept by nlserver, with the other sensitive values (left out of the YAML; carried over from the deployed files on render)",
        &r.kept_by_nlserver,
    );
    section(
        "unknown to the schema, written under rawAttributes (each may be a typo that ACC ignores)",
        &r.raw_attributes,
    );
    section("NOT carried", &r.not_carried);
    section("XML comments, not carried", &r.comments);
    section("technical account", &r.ims);
    // What the deployed files hold may not pass the schema: say so now rather than at validate.
    let (_, diags) = env::load(&repo, env_name);
    let problems: Vec<Diagnostic> = diags.sorted().into_iter().filter(|d| d.is_error()).collect();
    if problems.is_empty() {
        let dir_hint = if specs.iter().all(|s| s.contains('=')) { " --deployed DIR" } else { "" };
        ctx.ui.note(&format!(
            "check: nlconf validate -e {env_name}; nlconf diff -e {env_name}{dir_hint} --semantic (nothing should change)"
        ));
    } else {
        for d in problems {
            ctx.diags.push(Diagnostic {
                severity: crate::diag::Severity::Warning,
                message: format!("the imported YAML does not validate yet: {}", d.message),
                ..d
            });
        }
        ctx.ui.note("fix what the warnings name (values the deployed files hold that ACC's schema rejects), then run nlconf validate");
    }
    Status::Ok
}

fn read_local(path: &Path, instance: &str) -> Result<(String, String), Diagnostic> {
    let shown = path.display().to_string();
    if let Some(other) = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("config-"))
        .and_then(|n| n.strip_suffix(".xml"))
        && other != instance
    {
        return Err(Diagnostic::in_file(path, format!("this is the file of instance `{other}`, not `{instance}`"))
            .with_help(format!("import config-{instance}.xml files for --instance {instance}")));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| Diagnostic::in_file(path, format!("cannot read: {}", crate::support::yaml::io_reason(&e))))?;
    let text = crate::support::yaml::decode_text(bytes, path, "config files")?;
    Ok((shown, text))
}

fn read_target(
    root: &Path,
    target: &env::Target,
    instance: &str,
    container: &str,
) -> Result<(String, String), Diagnostic> {
    // A container the YAML does not describe yet: its host is its name.
    let loc = crate::target::locate_named(root, target, instance, container, None, None);
    let file = format!("config-{instance}.xml");
    let shown = loc.shown(&file);
    match loc.read(&file) {
        Ok(Some(bytes)) => {
            Ok((shown.clone(), crate::support::yaml::decode_text(bytes, Path::new(&shown), "config files")?))
        }
        Ok(None) => Err(Diagnostic::in_file(Path::new(&shown), format!("{container}: no such file on the target"))),
        Err(e) => Err(Diagnostic::in_file(Path::new(&shown), format!("{container}: cannot read: {e}"))),
    }
}
