//! Rendering: one `config-<instance>.xml` per container, from Tera templates (DESIGN §5).
//!
//! Templates see the validated element tree with secrets as placeholders; the plaintext of a secret
//! never enters the template engine. `mask` and `reveal` substitute the placeholders at the end.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;
use tera::{Context, ErrorKind, Tera};

mod builtin;
pub mod carry;
mod placeholder;

use crate::diag::{Diagnostic, Diagnostics, Location, Staged, Warned};
use crate::env::serverconf::Shared;
use crate::env::{AttrValue, Container, Element, Environment, Instance};
use crate::repo::Repository;
use crate::secrets::SecretId;
use crate::support::fs::{InputError, resolve_within};
use crate::support::xml::{self, XmlElement};
pub use placeholder::{MASK, Placeholder, mask, reveal, reveals_as, substitute, substitute_into, substitute_one};

/// The built-in templates, compiled into the binary. `templates/<name>` in a repository overrides one.
pub const BUILTIN_TEMPLATES: &[(&str, &str)] = &[
    ("config-instance.xml", include_str!("../../templates/config-instance.xml")),
    ("partials/prologue.xml", include_str!("../../templates/partials/prologue.xml")),
    ("partials/element.xml", include_str!("../../templates/partials/element.xml")),
];

pub const MAIN_TEMPLATE: &str = "config-instance.xml";

pub struct Templates {
    tera: Tera,
    /// Template name -> path shown in messages.
    shown: BTreeMap<String, String>,
    /// Template name -> SHA-256 of its text, for the plan's digest of inputs.
    pub digests: BTreeMap<String, String>,
    /// Whether every template is the built-in one: then files are written directly, byte for byte
    /// what the built-in templates produce, without going through the template engine (a fleet's
    /// review spends a third of its time there).
    builtin_only: bool,
}

#[derive(Debug, Clone)]
pub struct RenderedFile {
    pub instance: String,
    pub container: String,
    /// `config-<instance>.xml`
    pub file_name: String,
    /// The file's content with secret placeholders.
    pub content: String,
    /// Indexes (into `Environment::secrets`) of the secrets the content holds.
    pub secrets: Vec<SecretId>,
    /// Values kept from the deployed file (`@@nlconf:kept:N@@`): nlserver's encrypted attributes.
    pub kept: Vec<String>,
    /// The content parsed (placeholders are plain text to the parser), so nothing parses it again.
    /// Output of a repository's own templates is parsed at once (it must be checked); the built-in
    /// writer's output is well-formed by construction and parsed only when something needs its tree
    /// (`tree()`): most files of a review are byte-identical to the deployed ones and never are.
    pub tree: Option<XmlElement>,
}

impl RenderedFile {
    /// The content's element tree.
    pub fn tree(&self) -> Result<std::borrow::Cow<'_, XmlElement>, Diagnostic> {
        match &self.tree {
            Some(t) => Ok(std::borrow::Cow::Borrowed(t)),
            None => check_output(&self.content).map(std::borrow::Cow::Owned).map_err(|e| {
                Diagnostic::error(
                    None,
                    format!(
                        "{}/{}: nlconf rendered malformed XML ({e}); please report this",
                        self.container, self.file_name
                    ),
                )
            }),
        }
    }

    /// Parses the content now if it has not been (a no-op for custom templates' output).
    pub fn parse(&mut self) -> Result<(), Diagnostic> {
        if self.tree.is_none() {
            self.tree = Some(self.tree()?.into_owned());
        }
        Ok(())
    }
}

impl RenderedFile {
    /// `<container>/config-<instance>.xml`, the layout of `render --out`.
    pub fn rel_path(&self) -> String {
        format!("{}/{}", self.container, self.file_name)
    }
}

impl Templates {
    /// The built-in templates with the repository's overrides, each compiled once.
    pub fn load(repo: &Repository) -> Result<Templates, Diagnostics> {
        let mut sources: BTreeMap<String, (String, String)> = BUILTIN_TEMPLATES
            .iter()
            .map(|(name, text)| (name.to_string(), (format!("<built-in>/templates/{name}"), text.to_string())))
            .collect();
        let dir = repo.templates_dir();
        let mut diags = Diagnostics::new();
        if dir.is_dir() {
            let real = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
            collect_templates(&dir, &dir, repo, &mut sources, &mut diags, &mut vec![real]);
        }
        if diags.has_errors() {
            return Err(diags);
        }
        let mut tera = Tera::new();
        tera.autoescape_on(vec![".xml"]);
        tera.set_escape_fn(xml::tera_escape);
        let shown: BTreeMap<String, String> = sources.iter().map(|(k, (s, _))| (k.clone(), s.clone())).collect();
        let digests =
            sources.iter().map(|(k, (_, t))| (k.clone(), crate::support::digest::sha256(t.as_bytes()))).collect();
        let builtin_only = sources.len() == BUILTIN_TEMPLATES.len()
            && BUILTIN_TEMPLATES.iter().all(|(name, text)| sources.get(*name).is_some_and(|(_, t)| t == text));
        let raw: Vec<(String, String)> = sources.into_iter().map(|(k, (_, t))| (k, t)).collect();
        if let Err(e) = tera.add_raw_templates(raw) {
            return Err(tera_errors(&e, &shown).into_iter().collect());
        }
        Ok(Templates { tera, shown, digests, builtin_only })
    }

    pub fn shown(&self, name: &str) -> String {
        self.shown.get(name).cloned().unwrap_or_else(|| name.to_string())
    }
}

/// Largest template read (1 MB): templates are markup around the configuration, not data.
pub const MAX_TEMPLATE_BYTES: u64 = 1024 * 1024;

/// Reads every template under `dir` (recursively) into `out`, by name relative to `base`. Real
/// folders are recursed, and symlinked folders that stay in the repository (once: a loop is an
/// error); every file is read through `Repository::read`, so nothing outside the repository and no
/// special file becomes a template. `ancestors`: the real paths of the folders being read.
fn collect_templates(
    dir: &Path,
    base: &Path,
    repo: &Repository,
    out: &mut BTreeMap<String, (String, String)>,
    diags: &mut Diagnostics,
    ancestors: &mut Vec<PathBuf>,
) {
    let entries = match repo.read_dir(dir) {
        Ok(entries) => entries,
        Err(d) => return diags.push(d),
    };
    for entry in entries {
        let path = entry.path();
        let shown = repo.display(&path);
        let Ok(rel) = path.strip_prefix(base) else {
            continue;
        };
        let name = rel.to_string_lossy().replace('\\', "/");
        if name.starts_with('.') {
            continue;
        }
        let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
        let folder = if is_link {
            match resolve_within(&path, repo.real_root()) {
                Ok(real) if real.is_dir() => Some(real),
                Ok(_) => None,
                Err(e) => {
                    diags.push(Diagnostic::in_file(&shown, e.reason()));
                    continue;
                }
            }
        } else if entry.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::canonicalize(&path).ok()
        } else {
            None
        };
        if let Some(real) = folder {
            if BUILTIN_TEMPLATES.iter().any(|(builtin, _)| *builtin == name) {
                diags.push(Diagnostic::in_file(&shown, "is a folder, where a template file is expected"));
            } else if ancestors.contains(&real) {
                diags.push(Diagnostic::in_file(&shown, "is a symlink to a folder that contains it: refused (a loop)"));
            } else {
                ancestors.push(real);
                collect_templates(&path, base, repo, out, diags, ancestors);
                ancestors.pop();
            }
            continue;
        }
        let text = repo
            .read(&path, MAX_TEMPLATE_BYTES)
            .map_err(|e| match e {
                InputError::Unreadable(e) => Diagnostic::in_file(
                    &shown,
                    format!("cannot read template: {}", crate::support::yaml::io_reason(&e)),
                ),
                e => Diagnostic::in_file(&shown, e.reason()),
            })
            .and_then(|b| crate::support::yaml::decode_text(b, &shown, "templates"));
        match text {
            Ok(t) => {
                out.insert(name, (shown.to_string_lossy().into_owned(), t));
            }
            Err(d) => diags.push(d),
        }
    }
}

/// A Tera error as diagnostics pointing into the template files, one per problem it reports.
fn tera_errors(e: &tera::Error, shown: &BTreeMap<String, String>) -> Vec<Diagnostic> {
    let file = |name: &str| shown.get(name).cloned().unwrap_or_else(|| name.to_string());
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(te) = err.downcast_ref::<tera::Error>()
            && let ErrorKind::SyntaxError(r) | ErrorKind::RenderingError(r) = te.kind()
        {
            let span = r.span();
            return vec![Diagnostic::at(
                Location::new(file(r.filename()), span.start_line as u32, span.start_col as u32 + 1),
                format!("template: {}", r.message()),
            )];
        }
        cur = err.source();
    }
    let text = e.to_string();
    match e.kind() {
        ErrorKind::CircularInclude { tpl: name, .. }
        | ErrorKind::CircularExtend { tpl: name, .. }
        | ErrorKind::MissingParent { current: name, .. } => {
            return vec![Diagnostic::at(Location::file(file(name)), format!("template: {text}"))];
        }
        _ => {}
    }
    // The checks across templates (an unknown template, filter or function) come as reports joined
    // in one message, each `error: ...` with its ` --> name:line:col` and maybe `note:`s.
    let mut reports: Vec<String> = Vec::new();
    for chunk in text.split("\n\n") {
        match reports.last_mut() {
            Some(report) if !chunk.starts_with("error: ") => {
                report.push_str("\n\n");
                report.push_str(chunk);
            }
            _ => reports.push(chunk.to_string()),
        }
    }
    reports
        .iter()
        .map(|r| {
            let (name, line, col) = report_place(r).unwrap_or((MAIN_TEMPLATE, 0, 0));
            let message = r.strip_prefix("error: ").unwrap_or(r);
            Diagnostic::at(Location::new(file(name), line, col), format!("template: {message}"))
        })
        .collect()
}

/// The place a Tera report points at: its first ` --> name:line:col`.
fn report_place(report: &str) -> Option<(&str, u32, u32)> {
    report.lines().find_map(|l| {
        let mut parts = l.trim_start().strip_prefix("--> ")?.rsplitn(3, ':');
        let col = parts.next()?.parse().ok()?;
        let line = parts.next()?.parse().ok()?;
        Some((parts.next()?, line, col))
    })
}

#[derive(Serialize)]
struct Line {
    indent: String,
    /// open, close, empty or text
    kind: &'static str,
    name: String,
    attrs: Vec<AttrOut>,
    text: String,
}

#[derive(Serialize)]
struct AttrOut {
    name: String,
    value: String,
}

/// Placeholders for the values templates must not see.
#[derive(Default)]
struct Sensitive {
    secrets: Vec<SecretId>,
    kept: Vec<String>,
}

impl Sensitive {
    /// Writes a value, escaped, or the placeholder that stands for it.
    fn write(&mut self, v: &AttrValue, out: &mut String) {
        match v {
            AttrValue::Text(s) => xml::escape_into(s, out),
            AttrValue::Secret(i) => {
                self.secrets.push(*i);
                out.push_str(&Placeholder::Secret(*i).text());
            }
            AttrValue::Kept(s) => {
                self.kept.push(s.clone());
                out.push_str(&Placeholder::Kept(self.kept.len() - 1).text());
            }
        }
    }

    fn placeholder(&mut self, v: &AttrValue) -> String {
        match v {
            AttrValue::Text(s) => s.to_string(),
            AttrValue::Secret(i) => {
                self.secrets.push(*i);
                Placeholder::Secret(*i).text()
            }
            AttrValue::Kept(s) => {
                self.kept.push(s.clone());
                Placeholder::Kept(self.kept.len() - 1).text()
            }
        }
    }
}

fn flatten(el: &Element, depth: usize, lines: &mut Vec<Line>, sensitive: &mut Sensitive) {
    let attrs =
        el.attrs.iter().map(|a| AttrOut { name: a.name.to_string(), value: sensitive.placeholder(&a.value) }).collect();
    let indent = "  ".repeat(depth);
    let (kind, text) = match (&el.text, el.children.is_empty()) {
        (Some(t), _) => ("text", sensitive.placeholder(t)),
        (None, true) => ("empty", String::new()),
        (None, false) => ("open", String::new()),
    };
    lines.push(Line { indent: indent.clone(), kind, name: el.name.to_string(), attrs, text });
    if kind == "open" {
        for c in &el.children {
            flatten(c, depth + 1, lines, sensitive);
        }
        lines.push(Line { indent, kind: "close", name: el.name.to_string(), attrs: vec![], text: String::new() });
    }
}

impl Templates {
    /// Renders one container's file, with what the schema check of its `serverconf` finds (an
    /// environment from `env::load_for_rendering` has not been checked): no file when it finds
    /// errors. With the deployed file, nlserver's attributes are carried over and the root element
    /// keeps the deployed file's spelling (`serverconf` or `serverConf`).
    pub fn render_checked(
        &self,
        env: &Environment,
        inst: &Instance,
        c: &Container,
        deployed: Option<&XmlElement>,
    ) -> Staged<RenderedFile> {
        self.render_checked_with(env, inst, c, None, deployed)
    }

    /// `render_checked`, reusing the instance's own settings checked once (`shared`,
    /// `Environment::checked_serverconf_with`).
    fn render_checked_with(
        &self,
        env: &Environment,
        inst: &Instance,
        c: &Container,
        shared: Option<&Shared>,
        deployed: Option<&XmlElement>,
    ) -> Staged<RenderedFile> {
        let Warned { value: tree, warnings: mut diags } = env.checked_serverconf_with(inst, c, shared)?;
        match self.render_tree(env, inst, c, tree, deployed) {
            Ok(f) => diags.finish(f),
            Err(d) => {
                diags.push(d);
                Err(diags)
            }
        }
    }

    /// Renders a container's checked `serverconf` tree (`Environment::checked_serverconf`).
    pub fn render_tree(
        &self,
        env: &Environment,
        inst: &Instance,
        c: &Container,
        mut tree: Element,
        deployed: Option<&XmlElement>,
    ) -> Result<RenderedFile, Diagnostic> {
        let mut sensitive = Sensitive::default();
        if let Some(d) = deployed {
            carry::carry_over(&mut tree, d, &c.origin);
        }
        let root =
            deployed.map(|d| d.name.as_str()).filter(|n| n.eq_ignore_ascii_case("serverconf")).unwrap_or("serverconf");
        let file_name = format!("config-{}.xml", inst.name);
        let (content, tree) = if self.builtin_only {
            (builtin::write_builtin(&env.name, &inst.name, &c.name, root, &tree, &mut sensitive), None)
        } else {
            let (content, parsed) = self.render_template(env, inst, c, root, &tree, &mut sensitive)?;
            (content, Some(parsed))
        };
        let Sensitive { mut secrets, kept } = sensitive;
        secrets.sort_unstable();
        secrets.dedup();
        Ok(RenderedFile {
            instance: inst.name.clone(),
            container: c.name.clone(),
            file_name,
            content,
            secrets,
            kept,
            tree,
        })
    }

    /// A repository's own templates through Tera; the output is parsed, as nothing guarantees it.
    fn render_template(
        &self,
        env: &Environment,
        inst: &Instance,
        c: &Container,
        root: &str,
        tree: &Element,
        sensitive: &mut Sensitive,
    ) -> Result<(String, XmlElement), Diagnostic> {
        let mut lines = Vec::new();
        for child in &tree.children {
            flatten(child, 1, &mut lines, sensitive);
        }
        let content = {
            let mut ctx = Context::new();
            ctx.insert("environment", &env.name);
            ctx.insert("instance", &inst.name);
            ctx.insert("container", &c.name);
            ctx.insert("host", &c.host.clone().unwrap_or_default());
            ctx.insert("build", &env.build);
            ctx.insert("root", root);
            ctx.insert("lines", &lines);
            // Rendering stops at its first error: there is one.
            self.tera.render(MAIN_TEMPLATE, &ctx).map_err(|e| tera_errors(&e, &self.shown).swap_remove(0))?
        };
        let tree = check_output(&content).map_err(|e| {
            Diagnostic::in_file(
                Path::new(&self.shown(MAIN_TEMPLATE)),
                format!("rendered malformed XML for {}/config-{}.xml ({e})", c.name, inst.name),
            )
            .with_help("fix the template; the output must be one well-formed <serverconf> document")
        })?;
        Ok((content, tree))
    }

    /// What rendering every container finds (its settings checked, the templates' output checked),
    /// the files themselves dropped as they are made: `validate`, which on a fleet would otherwise
    /// hold every rendered text at once.
    pub fn check_environment(&self, env: &Environment) -> Staged<()> {
        let found = env.each_container(|inst, c, shared| match self.render_checked_with(env, inst, c, shared, None) {
            Ok(file) => file.warnings,
            Err(all) => all,
        });
        let mut diags = Diagnostics::new();
        found.into_iter().for_each(|d| diags.extend(d));
        diags.finish(())
    }

    /// Every container of every instance (optionally filtered), rendered in parallel, in a stable order.
    pub fn render_environment(
        &self,
        env: &Environment,
        instance: Option<&str>,
        container: Option<&str>,
    ) -> Staged<Vec<RenderedFile>> {
        let jobs: Vec<(&Instance, &Container)> = env
            .containers()
            .filter(|(i, c)| instance.is_none_or(|n| i.name == n) && container.is_none_or(|n| c.name == n))
            .collect();
        // Checked as rendered: the environment may come from `env::load_for_rendering` (findings that
        // loading already made come out twice here, and are reported once).
        let results: Vec<_> = jobs.par_iter().map(|(i, c)| self.render_checked(env, i, c, None)).collect();
        let mut files = Vec::new();
        let mut diags = Diagnostics::new();
        for r in results {
            files.extend(diags.take(r));
        }
        diags.finish(files)
    }
}

/// The rendered output must be one well-formed document with a `serverconf` root.
fn check_output(content: &str) -> Result<XmlElement, String> {
    let root = xml::parse(content).map_err(|e| format!("output {e}"))?;
    if !root.name.eq_ignore_ascii_case("serverconf") {
        return Err(format!("the root element is <{}>, expected <serverconf>", root.name));
    }
    Ok(root)
}

#[cfg(test)]
mod tests;
