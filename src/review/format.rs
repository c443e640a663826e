//! Review output: text (unified diff), JSON (versioned schema) and markdown (a pull-request comment).

use serde::Serialize;

use super::credentials::CredentialReview;
use super::{FileReview, FileStatus};

/// Largest markdown comment GitHub accepts is 65,536 characters; stay clearly below it.
pub const MARKDOWN_LIMIT: usize = 65_000;

/// How a review is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A unified diff, coloured when asked.
    Text,
    /// `nlconf.review/v1`.
    Json,
    /// A pull-request comment.
    Markdown,
}

/// The review in a format. `quiet` (`-q`) keeps, of the text review, its last line: the totals
/// (JSON and markdown are asked for by name, and print whole).
pub fn print(review: &Review, format: Format, color: bool, quiet: bool) -> String {
    match format {
        Format::Text if quiet => {
            let all = text(review, false);
            let last = all.trim_end().rsplit('\n').next().unwrap_or("");
            format!("{last}\n")
        }
        Format::Text => text(review, color),
        Format::Json => json(review),
        Format::Markdown => markdown(review, MARKDOWN_LIMIT),
    }
}
/// The JSON schema's name and version; bump the version on any incompatible change.
pub const JSON_SCHEMA: &str = "nlconf.review/v1";

#[derive(Debug, Clone, Serialize)]
pub struct Review {
    pub environment: String,
    /// `deployed` (against the target or --deployed DIR) or `base` (against a git revision).
    pub against: String,
    pub base: Option<String>,
    pub files: Vec<FileReview>,
    /// Credential steps that change (against a revision) or run (against deployed files).
    pub credentials: Vec<CredentialReview>,
    /// Sentences about the change as a whole (e.g. a switched Adobe I/O project).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Totals {
    pub files: usize,
    pub changed: usize,
    pub added_files: usize,
    pub removed_files: usize,
    pub added_lines: usize,
    pub removed_lines: usize,
    /// Credential steps that would run, counted per container (apart from files).
    pub credential_steps: usize,
}

impl Review {
    pub fn totals(&self) -> Totals {
        let mut t = Totals { files: self.files.len(), ..Totals::default() };
        for f in &self.files {
            t.changed += usize::from(f.changed());
            t.added_files += usize::from(f.status == FileStatus::Added);
            t.removed_files += usize::from(f.status == FileStatus::Removed);
            t.added_lines += f.added;
            t.removed_lines += f.removed;
        }
        t.credential_steps = self.credentials.iter().filter(|c| c.runs()).map(|c| c.containers.len()).sum();
        t
    }

    /// Any file, step or credential change; a credential-only change is a change.
    pub fn has_changes(&self) -> bool {
        self.files.iter().any(|f| f.changed() || !f.actions.is_empty()) || self.credentials.iter().any(|c| c.runs())
    }
}

fn status_word(f: &FileReview) -> &'static str {
    match f.status {
        FileStatus::Added => "new file",
        FileStatus::Removed => "removed",
        FileStatus::Unchanged => "unchanged",
        FileStatus::Modified if f.cosmetic_only => "modified (cosmetic only: formatting, no change ACC would see)",
        FileStatus::Modified => "modified",
    }
}

/// The steps in a few words each, for the summary table (the diff sections show them whole).
fn actions(f: &FileReview) -> Vec<String> {
    let mut a = Vec::new();
    match f.status {
        FileStatus::Added => a.push("create file".to_string()),
        FileStatus::Modified => a.push("write file".to_string()),
        _ => {}
    }
    for step in &f.actions {
        a.push(if step.contains(" -setims") {
            "set IMS credentials".to_string()
        } else if step.contains(" -setdblogin") {
            "set database login".to_string()
        } else if step.contains(" config -reload") {
            "reload".to_string()
        } else if let Some(i) = step.find(" restart ") {
            // `restart web (web/relay changed)`
            match step[i + 9..].split_once("  # ") {
                Some((module, why)) => format!("restart {module} ({why})"),
                None => format!("restart {}", &step[i + 9..]),
            }
        } else {
            step.clone()
        });
    }
    a
}

fn diff_lines(f: &FileReview, old_label: &str, new_label: &str) -> Vec<String> {
    let mut out = vec![format!("--- {old_label}"), format!("+++ {new_label}")];
    for h in &f.hunks {
        out.push(format!("@@ -{},{} +{},{} @@", h.old_start, h.old_lines, h.new_start, h.new_lines));
        for l in &h.lines {
            out.push(format!("{}{}", l.op, l.text));
        }
    }
    out
}

fn labels(review: &Review, f: &FileReview) -> (String, String) {
    let old = match (f.status, &review.base) {
        (FileStatus::Added, _) => "/dev/null".to_string(),
        (_, Some(rev)) => format!("{rev}:{}", f.path),
        _ => format!("deployed/{} ({})", f.path, f.old_source),
    };
    let new = if f.status == FileStatus::Removed { "/dev/null".to_string() } else { format!("rendered/{}", f.path) };
    (old, new)
}

/// The unified diff of every changed file, then one summary line per container and a total.
pub fn text(review: &Review, color: bool) -> String {
    let paint = |code: &str, s: &str| if color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() };
    let mut out = String::new();
    for f in review.files.iter().filter(|f| f.changed()) {
        let (old, new) = labels(review, f);
        for line in diff_lines(f, &old, &new) {
            let painted = match line.as_bytes().first() {
                _ if line.starts_with("---") || line.starts_with("+++") => paint("1", &line),
                Some(b'@') => paint("36", &line),
                Some(b'-') => paint("31", &line),
                Some(b'+') => paint("32", &line),
                _ => line,
            };
            out.push_str(&painted);
            out.push('\n');
        }
        for n in &f.notes {
            out.push_str(&format!("# {}: {n}\n", f.container));
        }
        out.push('\n');
    }
    for f in review.files.iter().filter(|f| !f.actions.is_empty()) {
        out.push_str(&paint("1", &format!("then on {} ({}):", f.container, f.instance)));
        out.push('\n');
        for a in &f.actions {
            out.push_str(&format!("  {a}\n"));
        }
    }
    if review.files.iter().any(|f| !f.actions.is_empty()) {
        out.push('\n');
    }
    for f in &review.files {
        let counts = if f.changed() { format!(" (+{} -{})", f.added, f.removed) } else { String::new() };
        out.push_str(&format!(
            "{}: {}: {}{counts}\n",
            f.container,
            f.path.rsplit('/').next().unwrap_or(&f.path),
            status_word(f)
        ));
    }
    // Against deployed files the steps are listed above, with where and why.
    for c in review.credentials.iter().filter(|_| review.base.is_some()) {
        out.push_str(&credential_line(c));
        out.push('\n');
    }
    for n in &review.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    let t = review.totals();
    out.push_str(&format!(
        "{}: {} of {} files change (+{} -{}){}{}{}\n",
        review.environment,
        t.changed,
        t.files,
        t.added_lines,
        t.removed_lines,
        if t.added_files > 0 { format!(", {} new", t.added_files) } else { String::new() },
        if t.removed_files > 0 { format!(", {} removed", t.removed_files) } else { String::new() },
        steps_total(&t),
    ));
    out
}

/// `; 2 credential steps` when any runs.
fn steps_total(t: &Totals) -> String {
    match t.credential_steps {
        0 => String::new(),
        n => format!("; {}", crate::support::count(n, "credential step")),
    }
}

fn step_name(step: &str) -> &str {
    match step {
        "ims" => "IMS credentials",
        "dblogin" => "database login",
        other => other,
    }
}

/// One line for a credential change: what changes, secrets as markers, and where it runs.
fn credential_line(c: &CredentialReview) -> String {
    let parts: Vec<String> = c.shown_fields().into_iter().chain(c.shown_secrets()).collect();
    let on = if c.runs() { format!(" (on {})", c.containers.join(", ")) } else { " (nothing runs)".to_string() };
    let mut line = format!("{}: {} {}: {}{on}", c.instance, step_name(&c.step), c.change, parts.join("; "));
    for r in &c.reasons {
        line.push_str(&format!("\n  {r}"));
    }
    line
}

#[derive(Serialize)]
struct JsonOut<'a> {
    schema: &'static str,
    nlconf_version: &'static str,
    environment: &'a str,
    against: &'a str,
    base: Option<&'a str>,
    files: &'a [FileReview],
    credentials: &'a [CredentialReview],
    notes: &'a [String],
    totals: Totals,
}

pub fn json(review: &Review) -> String {
    let out = JsonOut {
        schema: JSON_SCHEMA,
        nlconf_version: env!("CARGO_PKG_VERSION"),
        environment: &review.environment,
        against: &review.against,
        base: review.base.as_deref(),
        files: &review.files,
        credentials: &review.credentials,
        notes: &review.notes,
        totals: review.totals(),
    };
    let mut s = serde_json::to_string_pretty(&out).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

fn fence_for(body: &str) -> String {
    let mut n = 3;
    while body.contains(&"`".repeat(n)) {
        n += 1;
    }
    "`".repeat(n)
}

/// A pull-request comment: a summary table and one collapsible section per changed file, kept
/// under `MARKDOWN_LIMIT` characters by leaving out the largest diffs first (and saying so).
pub fn markdown(review: &Review, limit: usize) -> String {
    let t = review.totals();
    let against = match &review.base {
        Some(rev) => format!("against `{rev}`"),
        None => "against what is deployed".to_string(),
    };
    let mut head = format!(
        "### nlconf: `{}` {against}\n\n{} of {} files change (+{} −{}){}.\n\n",
        review.environment,
        t.changed,
        t.files,
        t.added_lines,
        t.removed_lines,
        steps_total(&t)
    );
    for n in &review.notes {
        head.push_str(&format!("> **Note:** {n}\n\n"));
    }
    head.push_str("| Environment | Instance | Container | File | +/− | Actions |\n|---|---|---|---|---|---|\n");
    for f in &review.files {
        let acts = actions(f);
        head.push_str(&format!(
            "| {} | {} | {} | `{}` | {} | {} |\n",
            review.environment,
            f.instance,
            f.container,
            f.path.rsplit('/').next().unwrap_or(&f.path),
            if f.changed() { format!("+{} −{}", f.added, f.removed) } else { "–".into() },
            if acts.is_empty() { "none".to_string() } else { acts.join(", ") },
        ));
    }
    head.push('\n');
    if !review.credentials.is_empty() {
        head.push_str("| Instance | Credential step | Change | Containers |\n|---|---|---|---|\n");
        for c in &review.credentials {
            let parts: Vec<String> = c.shown_fields().into_iter().chain(c.shown_secrets()).collect();
            head.push_str(&format!(
                "| {} | {} | {}: {} | {} |\n",
                c.instance,
                step_name(&c.step),
                c.change,
                parts.join("; ").replace('|', "\\|"),
                if c.runs() { c.containers.join(", ") } else { "nothing runs".to_string() },
            ));
        }
        head.push('\n');
    }
    let sections: Vec<(usize, String, String)> = review
        .files
        .iter()
        .enumerate()
        .filter(|(_, f)| f.changed())
        .map(|(i, f)| {
            let (old, new) = labels(review, f);
            let body = diff_lines(f, &old, &new).join("\n");
            let fence = fence_for(&body);
            let summary = format!("<code>{}</code>: {} (+{} −{})", f.path, status_word(f), f.added, f.removed);
            let notes: String = f.notes.iter().map(|n| format!("- {n}\n")).collect();
            let notes = if notes.is_empty() { notes } else { format!("{notes}\n") };
            let steps: String = f.actions.iter().map(|s| format!("    {s}\n")).collect();
            let steps = if steps.is_empty() { steps } else { format!("Then on {}:\n\n{steps}\n", f.container) };
            let full = format!(
                "<details><summary>{summary}</summary>\n\n{notes}{fence}diff\n{body}\n{fence}\n\n{steps}</details>\n\n"
            );
            let cut = format!(
                "<details><summary>{summary}</summary>\n\nDiff left out to keep this comment under {} characters ({} lines). See it with `nlconf diff -e {}{}`.\n\n</details>\n\n",
                limit,
                f.added + f.removed,
                review.environment,
                review.base.as_ref().map(|b| format!(" --base {b}")).unwrap_or_default()
            );
            (i, full, cut)
        })
        .collect();
    let mut keep: Vec<bool> = vec![true; sections.len()];
    let size = |keep: &[bool]| -> usize {
        head.len()
            + sections
                .iter()
                .zip(keep)
                .map(|((_, full, cut), k)| if *k { full.len() } else { cut.len() })
                .sum::<usize>()
            + 200
    };
    let mut by_size: Vec<usize> = (0..sections.len()).collect();
    by_size.sort_by_key(|&i| std::cmp::Reverse(sections[i].1.len()));
    let mut left_out = 0;
    for i in by_size {
        if size(&keep) <= limit {
            break;
        }
        keep[i] = false;
        left_out += 1;
    }
    let mut out = head;
    for ((_, full, cut), k) in sections.iter().zip(&keep) {
        out.push_str(if *k { full } else { cut });
    }
    if left_out > 0 {
        out.push_str(&format!("_{left_out} diff(s) left out to stay under GitHub's comment size limit; the table above lists every file._\n"));
    }
    if out.len() > limit {
        // Even the table is too long: cut at a line boundary and say so.
        let mut cut_at = limit.saturating_sub(200);
        while !out.is_char_boundary(cut_at) {
            cut_at -= 1;
        }
        let at = out[..cut_at].rfind('\n').unwrap_or(cut_at);
        out.truncate(at);
        out.push_str(&format!(
            "\n\n_Cut to stay under {limit} characters: see `nlconf diff -e {}` for everything._\n",
            review.environment
        ));
    }
    out
}
