//! A large YAML file parsed in parts, in parallel: a whole environment in one file (a fleet of
//! hundreds of instances is megabytes) must not be parsed on one thread while the others wait.
//!
//! The file is cut before lines that can only be the keys of its top-level map, and, in a large
//! top-level entry whose value is a block map (`instances:`), before the keys of that map. Each
//! part is parsed on its own with its line numbers and depth in the file, and the parts' maps are
//! joined. The result is exactly the tree the whole file parses to, or the file is parsed whole:
//! - only lines that look like simple keys at the map's indentation are cut before, and only when
//!   every other line at that indentation or less is blank or a comment: a block scalar or a nested
//!   node cannot cross such a line; a quoted scalar or a flow collection that does leaves its part
//!   unterminated, and that part fails to parse;
//! - any part that fails, reports anything (a duplicate key), uses anchors or aliases (which may
//!   refer across parts), or is not the map expected; a key found in two parts; a document marker
//!   or directive; a tab before a line's text: the file is parsed whole, and that parse's tree or
//!   error is the answer.

use std::collections::HashSet;
use std::path::Path;

use rayon::prelude::*;

use super::{Build, Part, parse_text};

/// Below this size a file is parsed whole: the parts would cost more than they save.
const MIN_BYTES: usize = 256 * 1024;
/// About how large a part is.
const PART_BYTES: usize = 64 * 1024;

/// The tree of `text`, parsed in parts; `None` when it is to be parsed whole.
pub(super) fn parse_in_parts<B: Build>(text: &str, display: &Path, b: &B) -> Option<B::Tree> {
    if text.len() < MIN_BYTES || rayon::current_num_threads() < 2 {
        return None;
    }
    parse_with(text, display, PART_BYTES, b)
}

/// A part of the file: `text[start..end]`, starting after `lines_before` lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Piece {
    start: usize,
    end: usize,
    lines_before: u32,
    /// Whether it holds keys of the map that the last top-level key of the part before opens
    /// (`instances:`), rather than top-level keys.
    inner: bool,
}

/// One line: where it starts and ends (without its line break), and how it is indented.
#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    end: usize,
    indent: usize,
}

impl Line {
    fn text<'a>(&self, text: &'a str) -> &'a str {
        &text[self.start + self.indent..self.end]
    }

    /// Blank or a comment: nothing that can belong to a node.
    fn is_filler(&self, text: &str) -> bool {
        let t = self.text(text).trim_end_matches('\r');
        t.is_empty() || t.starts_with('#')
    }
}

fn parse_with<B: Build>(text: &str, display: &Path, part_bytes: usize, b: &B) -> Option<B::Tree> {
    let pieces = plan(text, part_bytes)?;
    if pieces.len() < 2 {
        return None;
    }
    let parsed: Vec<Option<B::Tree>> = pieces
        .par_iter()
        .map(|p| {
            let part = Part { lines_before: p.lines_before, depth: usize::from(p.inner) };
            let (root, diags, anchors) = parse_text(&text[p.start..p.end], display, part, b).ok()?;
            (diags.is_empty() && !anchors).then_some(root)
        })
        .collect();
    join(&pieces, parsed, b)
}

/// Where to cut: the parts in order, or `None` when the file is not to be cut.
fn plan(text: &str, part_bytes: usize) -> Option<Vec<Piece>> {
    if text.starts_with('\u{feff}') {
        return None;
    }
    let mut lines = Vec::with_capacity(text.len() / 32);
    for (start, end, indent) in super::lines(text.as_bytes()) {
        let rest = &text[start + indent..end];
        // Tabs, document markers and directives: the whole parse says what they mean.
        if rest.starts_with('\t') || (indent == 0 && ["---", "...", "%"].iter().any(|m| rest.starts_with(m))) {
            return None;
        }
        lines.push(Line { start, end, indent });
    }
    // The top-level keys: every line at column 0 that is not blank or a comment must be one.
    let mut tops = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.indent == 0 && !l.is_filler(text) {
            simple_key(l.text(text))?;
            tops.push(i);
        }
    }
    tops.first()?;
    let mut pieces: Vec<Piece> = Vec::new();
    let mut open = Piece { start: 0, end: 0, lines_before: 0, inner: false };
    let line_start = |i: usize| lines.get(i).map_or(text.len(), |l| l.start);
    for (k, &top) in tops.iter().enumerate() {
        let next = tops.get(k + 1).copied().unwrap_or(lines.len());
        let seg_start = if k == 0 { 0 } else { line_start(top) };
        let seg_end = line_start(next);
        let cuts =
            if seg_end - seg_start > 2 * part_bytes { inner_cuts(text, &lines, top, next, part_bytes) } else { None };
        match cuts {
            None => {
                // A top-level entry: it joins the open part, which is closed once large enough.
                open.end = seg_end;
                if open.end - open.start >= part_bytes {
                    pieces.push(open);
                    open = Piece { start: seg_end, end: seg_end, lines_before: next as u32, inner: false };
                }
            }
            Some(cuts) => {
                // The open part takes the entry's key and its first keys; the others make parts of
                // their own, inside the entry's map.
                open.end = line_start(cuts[0]);
                pieces.push(open);
                for (j, &c) in cuts.iter().enumerate() {
                    let end = cuts.get(j + 1).map_or(seg_end, |&n| line_start(n));
                    pieces.push(Piece { start: line_start(c), end, lines_before: c as u32, inner: true });
                }
                open = Piece { start: seg_end, end: seg_end, lines_before: next as u32, inner: false };
            }
        }
    }
    if open.end > open.start {
        pieces.push(open);
    }
    Some(pieces)
}

/// Where to cut the block map that top-level key line `top` opens (its lines up to `next`): before
/// some of its keys, leaving the first in the part of `top`. `None` when it is not to be cut.
fn inner_cuts(text: &str, lines: &[Line], top: usize, next: usize, part_bytes: usize) -> Option<Vec<usize>> {
    // `key:` alone on its line (maybe with a comment): its value is on the lines below.
    let head = lines[top].text(text).trim_end_matches('\r');
    let after = &head[simple_key(head)?..];
    if !(after.trim().is_empty() || after.trim_start().starts_with('#') && after.starts_with(' ')) {
        return None;
    }
    let body = &lines[top + 1..next];
    let indent = body.iter().find(|l| !l.is_filler(text))?.indent;
    if indent == 0 {
        return None;
    }
    let mut keys = Vec::new();
    for (j, l) in body.iter().enumerate() {
        if l.is_filler(text) || l.indent > indent {
            continue;
        }
        if l.indent < indent || simple_key(l.text(text)).is_none() {
            return None;
        }
        keys.push(top + 1 + j);
    }
    // Cut before a key once a part holds about `part_bytes`; never before the first.
    let mut cuts = Vec::new();
    let mut from = lines[top].start;
    for &k in keys.iter().skip(1) {
        if lines[k].start - from >= part_bytes {
            cuts.push(k);
            from = lines[k].start;
        }
    }
    (!cuts.is_empty()).then_some(cuts)
}

/// The length of `key:` when a line (from its indentation on) starts with a plain key followed by
/// `:` and a space or the end of the line; `None` otherwise.
fn simple_key(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    if !b.first().is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_') {
        return None;
    }
    let n = b.iter().position(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'/')))?;
    if b[n] != b':' {
        return None;
    }
    matches!(b.get(n + 1), None | Some(b' ' | b'\r')).then_some(n + 1)
}

/// The parts' trees joined into the file's, or `None` when they do not fit together as planned.
/// Keys are checked against sets of those already joined: `instances:` takes thousands of them, and
/// a search of the entries for each was quadratic.
fn join<B: Build>(pieces: &[Piece], parsed: Vec<Option<B::Tree>>, b: &B) -> Option<B::Tree> {
    let mut root: Option<(Vec<B::Entry>, super::Pos)> = None;
    let mut top_keys: HashSet<String> = HashSet::new();
    // The keys of the map the last top-level entry opens, once an inner part joins it.
    let mut inner_keys: Option<HashSet<String>> = None;
    for (piece, tree) in pieces.iter().zip(parsed) {
        let (entries, pos) = b.map_parts(tree?)?;
        let Some((top, _)) = &mut root else {
            top_keys.extend(entries.iter().map(|e| B::key(e).to_owned()));
            root = Some((entries, pos));
            continue;
        };
        let (target, keys) = if piece.inner {
            let target = b.last_map(top)?;
            let keys = inner_keys.get_or_insert_with(|| target.iter().map(|t| B::key(t).to_owned()).collect());
            (target, keys)
        } else {
            // Top-level entries: the last one, whose map inner parts join, changes.
            inner_keys = None;
            (top, &mut top_keys)
        };
        for e in entries {
            if !keys.insert(B::key(&e).to_owned()) {
                return None;
            }
            target.push(e);
        }
    }
    root.map(|(entries, pos)| b.map(entries, pos))
}

#[cfg(test)]
mod tests;
