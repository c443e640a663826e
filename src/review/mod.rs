//! Review: what would change, file by file, as a unified diff with every secret masked (DESIGN §6).
//!
//! - [`compare`]: one file's old and new side, compared, masked.
//! - [`base`]: the pull-request review, the working tree against another git revision.
//! - [`mask`], [`canonical`]: sensitive values and the `--semantic` form.
//! - [`format`]: the review as text, JSON or markdown.
//!
//! The review against deployed files is `plan::compute`, which also plans the steps.

pub mod base;
pub mod canonical;
pub mod credentials;
pub mod format;
pub mod mask;

use serde::Serialize;
use similar::{ChangeTag, TextDiff};

use crate::secrets::FingerprintKey;
use crate::support::xml::XmlElement;
use mask::{MaskedValue, Resolve};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    Added,
    Modified,
    Removed,
    Unchanged,
}

#[derive(Debug, Clone, Serialize)]
pub struct HunkLine {
    /// `" "`, `"-"` or `"+"`
    pub op: &'static str,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hunk {
    pub old_start: usize,
    pub old_lines: usize,
    pub new_start: usize,
    pub new_lines: usize,
    pub lines: Vec<HunkLine>,
}

/// The review of one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileReview {
    pub instance: String,
    pub container: String,
    /// `<container>/config-<instance>.xml`
    pub path: String,
    /// Where the old side came from (the deployed file's location, or `REV:...`).
    pub old_source: String,
    pub status: FileStatus,
    /// The text differs, but only in formatting (attribute order, quoting, whitespace...).
    pub cosmetic_only: bool,
    pub added: usize,
    pub removed: usize,
    pub hunks: Vec<Hunk>,
    pub masked: Vec<MaskedValue>,
    /// Steps that apply would run for this container and file (filled by later stages).
    pub actions: Vec<String>,
    /// Findings about the old side worth a reviewer's attention (e.g. attributes ACC ignores).
    pub notes: Vec<String>,
}

impl FileReview {
    pub fn changed(&self) -> bool {
        self.status != FileStatus::Unchanged
    }

    /// A change ACC would not see: formatting only, with every sensitive value compared (one that
    /// could not be, without a key, counts as a change).
    pub fn invisible_to_acc(&self) -> bool {
        self.cosmetic_only && self.masked.iter().all(|m| m.status != mask::Change::Unknown)
    }
}

/// One side to compare: its text (placeholders allowed), its parsed tree, and how its placeholders
/// are fingerprinted.
pub struct Input<'a> {
    pub text: &'a str,
    pub tree: &'a XmlElement,
    pub resolve: &'a Resolve<'a>,
    /// Attributes known to hold a secret whatever they look like (a deployed file: what apply last
    /// wrote from `!age` values, `StateRecord::secret_attributes`), masked like any sensitive value.
    pub secret_attributes: &'a [String],
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub semantic: bool,
    pub context: usize,
}

pub struct Names {
    pub instance: String,
    pub container: String,
    pub path: String,
    pub old_source: String,
}

/// The review of a file known to be byte-identical to what is deployed.
pub fn unchanged(names: Names) -> FileReview {
    FileReview {
        instance: names.instance,
        container: names.container,
        path: names.path,
        old_source: names.old_source,
        status: FileStatus::Unchanged,
        cosmetic_only: false,
        added: 0,
        removed: 0,
        hunks: Vec::new(),
        masked: Vec::new(),
        actions: Vec::new(),
        notes: Vec::new(),
    }
}

/// Compares the old side (deployed, or rendered at the base revision) with the new one.
pub fn compare(
    names: Names,
    old: Option<Input>,
    new: Option<Input>,
    opts: &Options,
    key: &FingerprintKey,
) -> FileReview {
    if let (Some(o), Some(n)) = (&old, &new)
        && o.text == n.text
        && !n.text.contains(crate::env::serverconf::MARK)
    {
        // Identical bytes (the common case on a large fleet): nothing to mask or diff.
        return unchanged(names);
    }
    let masked = mask::mask_pair(old.as_ref(), new.as_ref(), key);
    let values_changed = masked
        .values
        .iter()
        .any(|v| matches!(v.status, mask::Change::Changed | mask::Change::Added | mask::Change::Removed));
    let status = match (&old, &new) {
        (None, Some(_)) => FileStatus::Added,
        (Some(_), None) => FileStatus::Removed,
        _ if masked.old == masked.new && !values_changed => FileStatus::Unchanged,
        _ => FileStatus::Modified,
    };
    let mut review = FileReview {
        status,
        masked: masked.values,
        notes: old.as_ref().map(|o| ignored_attributes(o.tree, new.as_ref().map(|n| n.tree))).unwrap_or_default(),
        ..unchanged(names)
    };
    if status == FileStatus::Unchanged {
        return review;
    }
    // The canonical form of a side's masked text: from the side's tree when masking replaced
    // attribute values only, else from the masked text parsed again.
    let canon = |side: Option<&Input>, markers: Option<&mask::Markers>, masked: &str| {
        let parsed = || crate::support::xml::parse(masked).ok().map(|tree| canonical::canonical(&tree));
        match (side, markers) {
            (Some(s), Some(m)) => {
                let c = canonical::canonical_masked(s.tree, m);
                debug_assert_eq!(Some(&c), parsed().as_ref(), "the canonical form of a masked tree");
                Some(c)
            }
            _ => parsed(),
        }
    };
    let (old_text, new_text) = if status == FileStatus::Modified {
        let co = canon(old.as_ref(), masked.old_markers.as_ref(), &masked.old);
        let cn = canon(new.as_ref(), masked.new_markers.as_ref(), &masked.new);
        let same = co.is_some() && co == cn;
        if same && !values_changed {
            review.cosmetic_only = true;
        }
        match (opts.semantic, co, cn) {
            (true, Some(o), Some(n)) => {
                if same && !values_changed {
                    review.status = FileStatus::Unchanged;
                    return review;
                }
                (o, n)
            }
            _ => (masked.old, masked.new),
        }
    } else {
        (masked.old, masked.new)
    };
    let diff = TextDiff::configure().algorithm(similar::Algorithm::Myers).diff_lines(&old_text, &new_text);
    for group in diff.grouped_ops(opts.context) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else { continue };
        let old_range = first.old_range().start..last.old_range().end;
        let new_range = first.new_range().start..last.new_range().end;
        let mut lines = Vec::new();
        for op in &group {
            for change in diff.iter_changes(op) {
                let text = change.value().trim_end_matches(['\n', '\r']).to_string();
                let op = match change.tag() {
                    ChangeTag::Equal => " ",
                    ChangeTag::Delete => {
                        review.removed += 1;
                        "-"
                    }
                    ChangeTag::Insert => {
                        review.added += 1;
                        "+"
                    }
                };
                lines.push(HunkLine { op, text });
            }
        }
        review.hunks.push(Hunk {
            old_start: if old_range.is_empty() { old_range.start } else { old_range.start + 1 },
            old_lines: old_range.len(),
            new_start: if new_range.is_empty() { new_range.start } else { new_range.start + 1 },
            new_lines: new_range.len(),
            lines,
        });
    }
    review
}

/// Attributes of the old file that ACC does not know and silently ignores (often a typo), and that
/// the new file drops.
pub fn ignored_attributes(root: &XmlElement, new: Option<&XmlElement>) -> Vec<String> {
    let schema = crate::schema::Schema::get();
    let mut out = Vec::new();
    fn walk(
        schema: &'static crate::schema::Schema,
        def: &'static crate::schema::ElementDef,
        el: &XmlElement,
        new: Option<&XmlElement>,
        out: &mut Vec<String>,
    ) {
        for (name, _) in el.attrs() {
            let kept = new.is_some_and(|n| n.attr(name).is_some());
            if def.attr(name).is_none() && !def.path.is_empty() && !kept {
                let hint = crate::diag::did_you_mean(name, def.attributes.iter().map(|a| a.name.as_str()))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                out.push(format!(
                    "the deployed file has `{name}` on <{}>, which ACC does not know and ignores{hint}",
                    el.name
                ));
            }
        }
        for c in &el.children {
            if let Some(cd) = schema.child(def, &c.name) {
                walk(schema, cd, c, new.and_then(|n| n.child(&c.name)), out);
            }
        }
    }
    walk(schema, schema.root(), root, new, &mut out);
    out
}
