//! Import as a whole: check where the instance's YAML goes, read each container's deployed file
//! (a local copy or from the target), turn them into YAML and write it (`import::import` does the
//! turning), and say whether the result validates.

use std::path::{Path, PathBuf};

use super::{Input, Report};
use crate::diag::{Diagnostic, Diagnostics, Location, Severity, Staged};
use crate::env;
use crate::repo::Repository;
use crate::support::fs::InputError;
use crate::support::xml;

pub struct Request<'a> {
    pub env: &'a str,
    pub instance: &'a str,
    /// `CONTAINER=FILE` (a local copy) or `CONTAINER` (read from the target).
    pub specs: &'a [String],
    /// Replace an existing `environments/<env>/<instance>.yaml`.
    pub force: bool,
    /// Hosts read at once.
    pub parallelism: usize,
}

/// What import wrote, and what a person should know about it.
pub struct Outcome {
    /// `environments/<env>/<instance>.yaml`, as shown.
    pub written: PathBuf,
    pub containers: usize,
    pub report: Report,
    /// Whether the environment validates with the new file (its findings are the warnings).
    pub validates: bool,
}

pub fn run(repo: &Repository, req: &Request) -> Staged<Outcome> {
    let (env_name, instance) = (req.env, req.instance);
    repo.environment_files(env_name).map_err(Diagnostics::from)?;
    if !crate::env::name_ok(instance) {
        return Err(Diagnostic::error(None, format!("instance name `{instance}`: {}", crate::env::NAME_RULE)).into());
    }
    let out_path = repo.env_dir(env_name).join(format!("{instance}.yaml"));
    let shown_out = repo.display(&out_path);
    if out_path.exists() && !req.force {
        return Err(Diagnostic::in_file(&shown_out, "already exists; nlconf import never overwrites a file")
            .with_help("move it away, or pass --force to replace it")
            .into());
    }
    // The instance must not be defined by another file of the environment.
    if let Ok(sources) = env::read_sources(repo, env_name) {
        for (file, path) in sources.value.files.iter().zip(&sources.value.paths) {
            if *path == out_path {
                continue;
            }
            if let Some(e) = file.root.get("instances").and_then(|i| i.entry(instance)) {
                return Err(Diagnostic::at(
                    Location::new(&file.display, e.key_pos.line, e.key_pos.col),
                    format!("instance `{instance}` is already defined here; import writes a new instance"),
                )
                .into());
            }
        }
    }
    // What the file being replaced has that the deployed files cannot give stays.
    let kept = match (out_path.exists(), req.force) {
        (true, true) => kept_from(repo, &out_path, &shown_out, instance)?,
        _ => super::Kept::default(),
    };
    let inputs = read_inputs(repo, req)?;
    let names: Vec<String> = inputs.iter().map(|i| format!("{}={}", i.container, i.shown)).collect();
    let header = format!(
        "Imported by `nlconf import` on {} from:\n  {}\nnlserver's encrypted attributes are not here: nlconf keeps them from the deployed files.",
        &crate::support::clock::now_utc()[..10],
        names.join("\n  ")
    );
    let imported = super::import(env_name, instance, &inputs, &header, &kept);
    if let Err(e) = crate::support::fs::write_atomic(&out_path, imported.yaml.as_bytes()) {
        return Err(
            Diagnostic::in_file(&shown_out, format!("cannot write: {}", crate::support::yaml::io_reason(&e))).into()
        );
    }
    // What the deployed files hold may not pass the schema: said now rather than at validate.
    let problems: Diagnostics = match env::load(repo, env_name) {
        Ok(_) => Diagnostics::new(),
        Err(found) => found
            .sorted()
            .into_iter()
            .filter(|d| d.is_error())
            .map(|d| Diagnostic {
                severity: Severity::Warning,
                message: format!("the imported YAML does not validate yet: {}", d.message),
                ..d
            })
            .collect(),
    };
    let validates = problems.is_empty();
    problems.finish(Outcome { written: shown_out, containers: inputs.len(), report: imported.report, validates })
}

/// What `instances.<instance>` of the file being replaced holds that import keeps.
fn kept_from(repo: &Repository, path: &Path, shown: &Path, instance: &str) -> Result<super::Kept, Diagnostics> {
    let bytes = repo
        .read(path, crate::support::yaml::MAX_FILE_BYTES)
        .map_err(|e| Diagnostic::in_file(shown, format!("cannot read the file import replaces: {}", e.reason())))?;
    let text =
        String::from_utf8(bytes).map_err(|_| Diagnostic::in_file(shown, "the file import replaces is not UTF-8"))?;
    let (root, _) = crate::support::yaml::parse(&text, shown)?;
    Ok(root.get("instances").and_then(|i| i.get(instance)).map(super::Kept::from_instance).unwrap_or_default())
}

/// Each container's deployed file, parsed; every bad spec or file is reported.
fn read_inputs(repo: &Repository, req: &Request) -> Result<Vec<Input>, Diagnostics> {
    let (env_name, instance, specs) = (req.env, req.instance, req.specs);
    if specs.is_empty() {
        return Err(Diagnostic::error(None, "name the containers: CONTAINER=FILE for a local copy, or CONTAINER to read it from the target")
            .with_help(format!("e.g. nlconf import -e {env_name} --instance {instance} app1=app1/config-{instance}.xml app2=app2/config-{instance}.xml"))
            .into());
    }
    let mut diags = Diagnostics::new();
    let mut inputs = Vec::new();
    let mut target = None;
    let mut twice = Vec::new();
    let mut todo: Vec<(String, Option<String>)> = Vec::new();
    for spec in specs {
        let (container, file) = match spec.split_once('=') {
            Some((c, f)) => (c.to_string(), Some(f.to_string())),
            None => (spec.clone(), None),
        };
        if container.is_empty() || !container.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            diags.push(Diagnostic::error(None, format!("`{spec}`: expected CONTAINER=FILE or CONTAINER")));
            continue;
        }
        if specs.iter().filter(|s| s.split_once('=').map_or(s.as_str(), |(c, _)| c) == container).count() > 1 {
            if !twice.contains(&container) {
                diags.push(Diagnostic::error(None, format!("container `{container}` is named twice")));
                twice.push(container);
            }
            continue;
        }
        if file.is_none() && target.is_none() {
            target = diags.take(env::load_target_settings(repo, env_name));
            if target.is_none() {
                return Err(diags);
            }
        }
        todo.push((container, file));
    }
    // The containers read from the target: `parallelism` hosts at once.
    let reads = crate::support::pool::bounded(&todo, req.parallelism, |(container, file)| match (file, &target) {
        (Some(f), _) => read_local(Path::new(f), instance),
        (None, Some(t)) => read_target(&repo.root, t, instance, container),
        (None, None) => Err(Diagnostic::error(None, "no target settings")),
    });
    for ((container, _), read) in todo.into_iter().zip(reads) {
        match read {
            Ok((shown, text)) => match xml::parse(&text) {
                Ok(tree) if tree.name.eq_ignore_ascii_case("serverconf") => {
                    inputs.push(Input { container, shown, text, tree })
                }
                Ok(tree) => {
                    let (line, col) = tree.line_col(&text);
                    diags.push(Diagnostic::at(
                        Location::new(&shown, line, col),
                        format!("the root element is <{}>, expected <serverconf>: not an ACC instance file", tree.name),
                    ))
                }
                Err(e) => diags.push(Diagnostic::at(
                    Location::new(&shown, e.line, e.col),
                    format!("{container}: not well-formed XML: {}", e.message),
                )),
            },
            Err(d) => diags.push(d),
        }
    }
    if diags.has_errors() { Err(diags) } else { Ok(inputs) }
}

/// Largest local file `import` reads (16 MB): a config-<instance>.xml is a few hundred KB.
pub const MAX_IMPORT_BYTES: u64 = 16 * 1024 * 1024;

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
    let bytes = crate::support::fs::read_input(path, MAX_IMPORT_BYTES, None).map_err(|e| match e {
        InputError::NotFound => Diagnostic::in_file(path, "cannot read: No such file or directory"),
        e => Diagnostic::in_file(path, e.reason()),
    })?;
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
