//! Byte-preserving edits of a YAML file: set one scalar to an `!age` block, keeping every other byte
//! (comments, order, quoting, blank lines) as it was. Used by `secret set` and `secret rekey`.

use saphyr_parser::{Event, Parser, ScalarStyle};

/// A YAMLPATH (DESIGN §4): dotted keys from the file's root; a key holding a dot is quoted:
/// `instances."a.b".x`.
pub fn parse_path(path: &str) -> Result<Vec<String>, String> {
    let mut keys = Vec::new();
    let mut chars = path.chars().peekable();
    loop {
        let mut key = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(format!("`{path}`: unterminated quote")),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c) => key.push(c),
                        None => return Err(format!("`{path}`: dangling backslash")),
                    },
                    Some(c) => key.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == '.' {
                    break;
                }
                if matches!(c, '"' | '[' | ']') {
                    return Err(format!("`{path}`: unexpected `{c}` (quote a key that holds it: \"...\")"));
                }
                key.push(c);
                chars.next();
            }
        }
        if key.is_empty() {
            return Err(format!(
                "`{path}`: empty key (expected keys separated by dots, e.g. instances.mkt_prod.ims.clientSecret)"
            ));
        }
        keys.push(key);
        match chars.next() {
            None => return Ok(keys),
            Some('.') => continue,
            Some(c) => return Err(format!("`{path}`: unexpected `{c}` after a quoted key")),
        }
    }
}

enum Frame {
    /// `path` is `None` inside a list: nothing there is addressable by a YAMLPATH.
    Map {
        path: Option<Vec<String>>,
        pending: Option<String>,
        flow: bool,
        key_col: Option<usize>,
    },
    Seq,
}

/// What an event is in the document being read.
enum At {
    /// A key of a map (its text is kept until its value comes).
    Key,
    /// A value, or anything that is not the start of a node: the YAMLPATH of a value (`None` in a
    /// list, or for an event that starts no node) and the column of its key.
    Node(Option<Vec<String>>, usize),
}

/// Where `event` (at column `col`) stands, given the maps and lists open around it; `None` for a
/// key that is not a scalar (a complex key, which no YAMLPATH can name).
fn at(stack: &mut [Frame], event: &Event, col: usize) -> Option<At> {
    let is_node_start =
        matches!(event, Event::Scalar(..) | Event::MappingStart(..) | Event::SequenceStart(..) | Event::Alias(_));
    if !is_node_start {
        return Some(At::Node(None, 0));
    }
    match stack.last_mut() {
        None => Some(At::Node(Some(Vec::new()), 0)),
        Some(Frame::Seq) => Some(At::Node(None, 0)),
        Some(Frame::Map { path: p, pending, key_col: kc, .. }) => match pending.take() {
            Some(k) => {
                let path = p.clone().map(|mut vp| {
                    vp.push(k);
                    vp
                });
                Some(At::Node(path, kc.unwrap_or(0)))
            }
            None => {
                let Event::Scalar(k, ..) = event else { return None };
                *pending = Some(k.to_string());
                if kc.is_none() {
                    *kc = Some(col);
                }
                Some(At::Key)
            }
        },
    }
}

struct Found {
    start: usize,
    end: usize,
    block: bool,
    key_col: usize,
}

/// Where a missing key can be added: the deepest existing block map on the path.
struct InsertPoint {
    depth: usize,
    /// Byte offset of the line after the map's last value.
    at: usize,
    indent: usize,
}

/// Why an edit cannot be made, and where in the file (1-based line and column) when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditError {
    pub at: Option<(u32, u32)>,
    pub message: String,
}

impl EditError {
    fn at(marker: &saphyr_parser::Marker, message: String) -> EditError {
        EditError { at: Some((marker.line() as u32, marker.col() as u32 + 1)), message }
    }
}

/// Sets the scalar at `path` to `!age |` followed by `content` (lines without indentation),
/// creating missing keys. Returns the new text; every byte outside the edited value is kept.
pub fn set_age_block(text: &str, path: &[String], content: &str) -> Result<String, EditError> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let byte_at = |ci: usize| chars.get(ci).map_or(text.len(), |(b, _)| *b);
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut found: Option<Found> = None;
    let mut insert: Option<InsertPoint> = None;
    let mut root_seen = false;
    // End of the last value seen, and whether it was a block scalar (whose span runs on to the next token).
    let mut last_end: (usize, bool) = (0, false);
    while let Some(ev) = parser.next_event() {
        let (event, span) = ev.map_err(|e| EditError::at(e.marker(), format!("invalid YAML: {}", e.info())))?;
        let start = span.start.index();
        let end = span.end.index();
        let col = span.start.col();
        // Is this event a value (not a key) and what is its path?
        let (value_path, key_col) = match at(&mut stack, &event, col) {
            Some(At::Key) => continue,
            Some(At::Node(path, key_col)) => (path, key_col),
            None => return Err(EditError::at(&span.start, "unsupported complex key".to_string())),
        };
        // (Only the root's path is empty.)
        root_seen |= value_path.as_ref().is_some_and(Vec::is_empty);
        match event {
            Event::Scalar(value, style, _, _) => {
                let empty_plain = value.is_empty() && style == ScalarStyle::Plain;
                last_end = (end, matches!(style, ScalarStyle::Literal | ScalarStyle::Folded));
                if value_path.as_deref() == Some(path) {
                    // A block scalar cannot stand inside `{...}`.
                    if let Some(Frame::Map { flow: true, .. }) = stack.last() {
                        return Err(EditError::at(
                            &span.start,
                            format!(
                                "`{}` is in a flow map (`{{...}}`); write that map as a block map to set it",
                                path.join(".")
                            ),
                        ));
                    }
                    found = Some(Found {
                        start,
                        end,
                        block: matches!(style, ScalarStyle::Literal | ScalarStyle::Folded),
                        key_col,
                    });
                } else if let Some(vp) = &value_path
                    && path.starts_with(vp)
                    && !vp.is_empty()
                {
                    if empty_plain {
                        // `ims:` with no value: the missing keys go on the lines below it.
                        let b = byte_at(end);
                        let at = text[b..].find('\n').map_or(text.len(), |i| b + i + 1);
                        insert = Some(InsertPoint { depth: vp.len(), at, indent: key_col + 2 });
                        continue;
                    }
                    return Err(EditError::at(
                        &span.start,
                        format!(
                            "`{}` is a scalar, so it cannot hold `{}`: remove its value or choose another path",
                            vp.join("."),
                            path[vp.len()]
                        ),
                    ));
                }
            }
            Event::MappingStart(..) => {
                let flow = end > start;
                stack.push(Frame::Map { path: value_path, pending: None, flow, key_col: None });
            }
            Event::SequenceStart(..) => stack.push(Frame::Seq),
            Event::SequenceEnd => {
                stack.pop();
                if end > start {
                    last_end = (end, false);
                }
            }
            Event::MappingEnd => {
                let frame = stack.pop();
                let value_end = last_end;
                if end > start {
                    last_end = (end, false);
                }
                if let Some(Frame::Map { path: Some(p), flow, key_col, .. }) = frame
                    && found.is_none()
                    && path.starts_with(&p)
                    && p.len() < path.len()
                    && insert.as_ref().is_none_or(|i| i.depth < p.len())
                {
                    if flow {
                        return Err(EditError::at(
                            &span.start,
                            format!(
                                "`{}` is a flow map (`{{...}}`); write it as a block map to add `{}`",
                                if p.is_empty() { "the file".to_string() } else { p.join(".") },
                                path[p.len()]
                            ),
                        ));
                    }
                    let at = match value_end {
                        (e, true) => trim_blank_lines_back(text, 0, line_start(text, byte_at(e))),
                        (e, false) => {
                            let b = byte_at(e);
                            text[b..].find('\n').map_or(text.len(), |i| b + i + 1)
                        }
                    };
                    insert = Some(InsertPoint { depth: p.len(), at, indent: key_col.unwrap_or(p.len() * 2) });
                }
            }
            _ => {}
        }
    }
    // Keep the file's line endings.
    let nl = line_ending(text);
    let mut out = String::with_capacity(text.len() + content.len() + 64);
    if let Some(f) = found {
        let (range, replacement) = replacement(text, &byte_at, &f, content, nl);
        out.push_str(&text[..range.start]);
        out.push_str(&replacement);
        out.push_str(&text[range.end..]);
        return Ok(out);
    }
    let (depth, at, indent) = match insert {
        Some(i) => (i.depth, i.at, i.indent),
        None if !root_seen || text.trim().is_empty() => (0, text.len(), 0),
        None => return Err(EditError { at: Some((1, 1)), message: "the file's top level is not a map".to_string() }),
    };
    out.push_str(&text[..at]);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(nl);
    }
    for (i, key) in path[depth..].iter().enumerate() {
        out.push_str(&" ".repeat(indent + 2 * i));
        out.push_str(&yaml_key(key));
        if depth + i + 1 == path.len() {
            out.push_str(": !age |");
            out.push_str(nl);
            push_indented(&mut out, content, &" ".repeat(indent + 2 * (i + 1)), nl);
        } else {
            out.push(':');
            out.push_str(nl);
        }
    }
    out.push_str(&text[at..]);
    Ok(out)
}

fn line_ending(text: &str) -> &'static str {
    if text.contains("\r\n") { "\r\n" } else { "\n" }
}

/// What replaces the value `f` (a scalar's text, or a block scalar's header and body) to make it
/// `!age |` and `content`: the bytes replaced, and the new ones. A comment on the value's line stays.
fn replacement(
    text: &str,
    byte_at: &dyn Fn(usize) -> usize,
    f: &Found,
    content: &str,
    nl: &str,
) -> (std::ops::Range<usize>, String) {
    let indent = " ".repeat(f.key_col + 2);
    let start_b = byte_at(f.start);
    let (header_end, body_end) = if f.block {
        // Keep a comment on the `|` line; replace the body up to its last non-blank line.
        let nl = text[start_b..].find('\n').map_or(text.len(), |i| start_b + i);
        let body_end = line_start(text, byte_at(f.end));
        (nl, trim_blank_lines_back(text, nl, body_end))
    } else {
        let end_b = flow_scalar_end(text, start_b).unwrap_or_else(|| byte_at(f.end));
        let nl = text[end_b..].find('\n').map_or(text.len(), |i| end_b + i);
        (end_b, nl)
    };
    let header_rest = text[if f.block { start_b } else { header_end }..header_end].trim_end_matches('\r');
    let comment = match header_rest.find('#') {
        Some(i) => &header_rest[header_rest[..i].trim_end().len()..],
        None => "",
    };
    let mut out = String::with_capacity(content.len() + 64);
    out.push_str("!age |");
    out.push_str(if f.block { comment } else { text[header_end..body_end].trim_end_matches('\r') });
    out.push_str(nl);
    push_indented(&mut out, content, &indent, nl);
    // A single-line value's own line break is replaced too (the block ends with one).
    let rest = &text[body_end..];
    let end = if f.block {
        body_end
    } else if rest.starts_with("\r\n") {
        body_end + 2
    } else if rest.starts_with('\n') {
        body_end + 1
    } else {
        body_end
    };
    (start_b..end, out)
}

/// Sets each of the scalars at `edits`' paths, which must all be there (as `secret rekey` finds
/// them), to `!age |` and its content, finding them all in one reading of the file: editing a
/// large file one secret at a time read it once per secret. `None` when one of the paths is not
/// a scalar of a block map: `set_age_block`, one at a time, then says why.
pub fn replace_age_blocks(text: &str, edits: &[(&[String], &str)]) -> Result<Option<String>, EditError> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let byte_at = |ci: usize| chars.get(ci).map_or(text.len(), |(b, _)| *b);
    let wanted: std::collections::HashMap<&[String], usize> =
        edits.iter().enumerate().map(|(i, (path, _))| (*path, i)).collect();
    let mut found: Vec<Option<Found>> = edits.iter().map(|_| None).collect();
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    while let Some(ev) = parser.next_event() {
        let (event, span) = ev.map_err(|e| EditError::at(e.marker(), format!("invalid YAML: {}", e.info())))?;
        let (value_path, key_col) = match at(&mut stack, &event, span.start.col()) {
            Some(At::Key) => continue,
            Some(At::Node(path, key_col)) => (path, key_col),
            None => return Ok(None),
        };
        match event {
            Event::Scalar(_, style, _, _) => {
                if let Some(&i) = value_path.as_deref().and_then(|p| wanted.get(p)) {
                    if let Some(Frame::Map { flow: true, .. }) = stack.last() {
                        return Ok(None);
                    }
                    let block = matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
                    found[i] = Some(Found { start: span.start.index(), end: span.end.index(), block, key_col });
                }
            }
            Event::MappingStart(..) => {
                let flow = span.end.index() > span.start.index();
                stack.push(Frame::Map { path: value_path, pending: None, flow, key_col: None });
            }
            Event::SequenceStart(..) => stack.push(Frame::Seq),
            Event::SequenceEnd | Event::MappingEnd => {
                stack.pop();
            }
            _ => {}
        }
    }
    let Some(found) = found.into_iter().collect::<Option<Vec<Found>>>() else { return Ok(None) };
    let nl = line_ending(text);
    let mut pieces: Vec<(std::ops::Range<usize>, String)> =
        found.iter().zip(edits).map(|(f, (_, content))| replacement(text, &byte_at, f, content, nl)).collect();
    pieces.sort_by_key(|(range, _)| range.start);
    let mut out = String::with_capacity(text.len() + pieces.iter().map(|(_, r)| r.len()).sum::<usize>());
    let mut at = 0;
    for (range, new) in pieces {
        if range.start < at {
            return Ok(None);
        }
        out.push_str(&text[at..range.start]);
        out.push_str(&new);
        at = range.end;
    }
    out.push_str(&text[at..]);
    Ok(Some(out))
}

fn push_indented(out: &mut String, content: &str, indent: &str, nl: &str) {
    for line in content.lines() {
        out.push_str(indent);
        out.push_str(line);
        out.push_str(nl);
    }
}

/// Where a single-line or quoted scalar starting at `start` (its tag included) ends, by reading the
/// text itself: the parser's span may run on over a trailing comment.
fn flow_scalar_end(text: &str, start: usize) -> Option<usize> {
    let mut at = start;
    let bytes = text.as_bytes();
    if bytes.get(at) == Some(&b'!') {
        while at < bytes.len() && !matches!(bytes[at], b' ' | b'\t' | b'\n' | b'\r') {
            at += 1;
        }
        while at < bytes.len() && matches!(bytes[at], b' ' | b'\t') {
            at += 1;
        }
    }
    match bytes.get(at)? {
        b'"' => {
            let mut i = at + 1;
            while i < bytes.len() {
                match bytes[i] {
                    b'\\' => i += 2,
                    b'"' => return Some(i + 1),
                    _ => i += 1,
                }
            }
            None
        }
        b'\'' => {
            let mut i = at + 1;
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    return Some(i + 1);
                }
                i += 1;
            }
            None
        }
        _ => {
            let line_end = text[at..].find(['\n', '\r']).map_or(text.len(), |i| at + i);
            let line = &text[at..line_end];
            let cut = line.find(" #").unwrap_or(line.len());
            Some(at + line[..cut].trim_end().len())
        }
    }
}

fn line_start(text: &str, byte: usize) -> usize {
    text[..byte].rfind('\n').map_or(0, |i| i + 1)
}

/// Moves `at` (a line start) back over blank lines, but not before `floor`.
fn trim_blank_lines_back(text: &str, floor: usize, mut at: usize) -> usize {
    while at > floor {
        let prev = line_start(text, at - 1);
        if prev < floor || !text[prev..at].trim().is_empty() {
            break;
        }
        at = prev;
    }
    at
}

fn yaml_key(key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-')) {
        key.to_string()
    } else {
        format!("\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

#[cfg(test)]
mod tests;
