//! YAML source files as a tree of positioned nodes.
//!
//! We build our own tree from saphyr-parser's events instead of deserialising with serde, because
//! nlconf needs the position of every key and value (provenance, `explain`, precise errors), must
//! refuse duplicate keys, must bound alias expansion and nesting, and must see the `!age` and
//! `!empty` tags.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag as YamlTag};

use crate::diag::{Diagnostic, Location};
use crate::support::fs::{FileKind, InputError, read_input};

/// A key or scalar's text: inline up to 24 bytes (see Cargo.toml), a `str` to read.
pub type Text = compact_str::CompactString;

/// Largest YAML file nlconf reads (32 MB): configuration, not data. A whole environment of a
/// thousand instances in one file is about 13 MB.
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;
/// Deepest nesting accepted; real configurations stay below 15.
pub const MAX_DEPTH: usize = 64;
/// Most nodes that aliases may copy in one file (a guard against "billion laughs").
pub const MAX_ALIAS_NODES: usize = 100_000;

/// 1-based line and column (in characters) of a node in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl Pos {
    /// `lines_before`: the lines of the file before the text parsed (a part of a file, see `split`).
    fn from_marker(m: &saphyr_parser::Marker, lines_before: u32) -> Pos {
        Pos { line: m.line() as u32 + lines_before, col: m.col() as u32 + 1 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    None,
    /// `!age`: an age-encrypted secret.
    Age,
    /// `!empty ""`: an attribute deliberately written empty.
    Empty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Quoted,
    Block,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Scalar(Text, Style),
    Map(Vec<Entry>),
    Seq(Vec<Node>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: Text,
    pub key_pos: Pos,
    pub value: Node,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub tag: Tag,
    pub pos: Pos,
}

impl Node {
    pub fn new(kind: Kind, pos: Pos) -> Node {
        Node { kind, tag: Tag::None, pos }
    }

    pub fn empty_map(pos: Pos) -> Node {
        Node::new(Kind::Map(Vec::new()), pos)
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.kind {
            Kind::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[Entry] {
        match &self.kind {
            Kind::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }

    pub fn kind_name(&self) -> &'static str {
        match (&self.kind, self.tag) {
            (Kind::Map(_), _) => "a map",
            (Kind::Seq(_), _) => "a list",
            (_, Tag::Age) => "an !age secret",
            (Kind::Null, _) => "null",
            (Kind::Scalar(..), _) => "a scalar",
        }
    }

    /// How many lines the node's entries or items start over: how large it is, roughly.
    pub fn span_lines(&self) -> u32 {
        let last = match &self.kind {
            Kind::Map(entries) => entries.last().map(|e| e.key_pos),
            Kind::Seq(items) => items.last().map(|n| n.pos),
            _ => None,
        };
        last.map_or(0, |p| p.line.saturating_sub(self.pos.line))
    }

    fn count(&self) -> usize {
        1 + match &self.kind {
            Kind::Map(entries) => entries.iter().map(|e| e.value.count()).sum(),
            Kind::Seq(items) => items.iter().map(Node::count).sum(),
            _ => 0,
        }
    }
}

/// One YAML file, read and parsed. The text is kept for byte-preserving edits.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as shown to the user (relative to the repository).
    pub display: PathBuf,
    pub text: String,
    pub root: Node,
}

/// Reads and parses one YAML file (`within`: the canonical repository root it must stay in, see
/// `support::fs::read_input`). Non-fatal problems (duplicate keys) are returned beside the tree; a
/// fatal problem returns no tree.
pub fn read_file(
    path: &Path,
    display: &Path,
    within: Option<&Path>,
) -> Result<(SourceFile, Vec<Diagnostic>), Diagnostic> {
    let text = read_text(path, display, within)?;
    let (root, diags) = parse(&text, display)?;
    Ok((SourceFile { display: display.to_path_buf(), text, root }, diags))
}

/// Reads one YAML file's text (`read_file` without parsing it).
pub fn read_text(path: &Path, display: &Path, within: Option<&Path>) -> Result<String, Diagnostic> {
    let bytes = read_input(path, MAX_FILE_BYTES, within).map_err(|e| match e {
        InputError::TooLarge { size, limit } => Diagnostic::at(
            Location::new(display, 1, 1),
            format!(
                "file is {:.1} MB; nlconf reads YAML files up to {}",
                size as f64 / 1_048_576.0,
                crate::support::fs::size_text(limit)
            ),
        )
        .with_help("split the configuration into several files in the environment folder"),
        InputError::NotAFile(FileKind::Folder) => Diagnostic::in_file(display, "is a directory, expected a YAML file"),
        e => Diagnostic::in_file(display, e.reason()),
    })?;
    decode_utf8(bytes, display)
}

pub fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    // "Permission denied (os error 13)" reads better without the errno.
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// UTF-8 or an error pointing at the first bad byte.
pub fn decode_utf8(bytes: Vec<u8>, display: &Path) -> Result<String, Diagnostic> {
    decode_text(bytes, display, "YAML files")
}

/// UTF-8 or an error pointing at the first bad byte; `what` names the kind of file in the message.
pub fn decode_text(bytes: Vec<u8>, display: &Path, what: &str) -> Result<String, Diagnostic> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let prefix = String::from_utf8_lossy(&e.as_bytes()[..valid]);
        let line = prefix.matches('\n').count() as u32 + 1;
        let col = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
        let byte = e.as_bytes()[valid];
        Diagnostic::at(
            Location::new(display, line, col),
            format!("invalid UTF-8 (byte 0x{byte:02x}); {what} must be UTF-8 text"),
        )
    })
}

enum Frame {
    Map { start: Pos, entries: Vec<Entry>, pending_key: Option<(Text, Pos)>, anchor: usize, tag: Tag },
    Seq { start: Pos, items: Vec<Node>, anchor: usize, tag: Tag },
}

/// Each line of `text`: where it starts, where it ends (before its line break) and how many spaces
/// indent it. A text that does not end with a line break has a last line up to its end; an empty
/// text has no line. (The line parser and the cutting of a large file into parts both read lines.)
fn lines(text: &[u8]) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
    let last = (text.last().is_some_and(|&c| c != b'\n')).then_some(text.len());
    let mut start = 0;
    memchr::memchr_iter(b'\n', text).chain(last).map(move |end| {
        let line = (start, end, text[start..end].iter().take_while(|&&c| c == b' ').count());
        start = end + 1;
        line
    })
}

/// Parses YAML text into a node tree. An empty document is an empty map. A large file is parsed in
/// parts, in parallel, when it can be cut where the parts parse to exactly the same tree (`split`).
pub fn parse(text: &str, display: &Path) -> Result<(Node, Vec<Diagnostic>), Diagnostic> {
    parse_with(text, display, &Nodes)
}

/// `parse`, building the tree `b` builds.
pub fn parse_with<B: Build>(text: &str, display: &Path, b: &B) -> Result<(B::Tree, Vec<Diagnostic>), Diagnostic> {
    if let Some(root) = split::parse_in_parts(text, display, b) {
        return Ok((root, Vec::new()));
    }
    parse_text(text, display, Part::WHOLE, b).map(|(root, diags, _)| (root, diags))
}

/// A text parsed by `fast` when it can, else by the general parser: the tree, what the parse found,
/// and whether it had anchors or aliases.
fn parse_text<B: Build>(
    text: &str,
    display: &Path,
    part: Part,
    b: &B,
) -> Result<(B::Tree, Vec<Diagnostic>, bool), Diagnostic> {
    match fast::parse(text, part, b) {
        Some(root) => Ok((root, Vec::new(), false)),
        None => parse_part(text, display, part).map(|p| (b.convert(p.root), p.diags, p.anchors)),
    }
}

/// What a parse builds from the nodes it reads: nlconf's `Node`s (the file as written, for edits), or
/// another tree (an environment's settings, built without `Node`s in between: a fleet's YAML is
/// megabytes).
pub trait Build: Sync {
    type Tree: Send;
    type Entry: Send;
    /// A scalar (`Kind::Scalar`) or a null (`Kind::Null`).
    fn scalar(&self, kind: Kind, tag: Tag, pos: Pos) -> Self::Tree;
    /// An untagged list.
    fn seq(&self, items: Vec<Self::Tree>, pos: Pos) -> Self::Tree;
    /// An untagged map.
    fn map(&self, entries: Vec<Self::Entry>, pos: Pos) -> Self::Tree;
    fn entry(&self, key: Text, key_pos: Pos, value: Self::Tree) -> Self::Entry;
    fn key(e: &Self::Entry) -> &str;
    /// The general parser's tree, as this builder's.
    fn convert(&self, node: Node) -> Self::Tree;
    /// The entries and position of an untagged map; `None` for anything else.
    fn map_parts(&self, t: Self::Tree) -> Option<(Vec<Self::Entry>, Pos)>;
    /// The entries of the last entry's value, when it is an untagged map.
    fn last_map<'e>(&self, entries: &'e mut [Self::Entry]) -> Option<&'e mut Vec<Self::Entry>>;
}

/// Builds `Node`s.
pub struct Nodes;

impl Build for Nodes {
    type Tree = Node;
    type Entry = Entry;

    fn scalar(&self, kind: Kind, tag: Tag, pos: Pos) -> Node {
        Node { kind, tag, pos }
    }

    fn seq(&self, items: Vec<Node>, pos: Pos) -> Node {
        Node::new(Kind::Seq(items), pos)
    }

    fn map(&self, entries: Vec<Entry>, pos: Pos) -> Node {
        Node::new(Kind::Map(entries), pos)
    }

    fn entry(&self, key: Text, key_pos: Pos, value: Node) -> Entry {
        Entry { key, key_pos, value }
    }

    fn key(e: &Entry) -> &str {
        &e.key
    }

    fn convert(&self, node: Node) -> Node {
        node
    }

    fn map_parts(&self, t: Node) -> Option<(Vec<Entry>, Pos)> {
        match t {
            Node { kind: Kind::Map(entries), tag: Tag::None, pos } => Some((entries, pos)),
            _ => None,
        }
    }

    fn last_map<'e>(&self, entries: &'e mut [Entry]) -> Option<&'e mut Vec<Entry>> {
        match &mut entries.last_mut()?.value {
            Node { kind: Kind::Map(inner), tag: Tag::None, .. } => Some(inner),
            _ => None,
        }
    }
}

/// Where a text parsed is in its file: the lines before it, and how deeply its top level is nested.
#[derive(Debug, Clone, Copy)]
struct Part {
    lines_before: u32,
    depth: usize,
}

impl Part {
    const WHOLE: Part = Part { lines_before: 0, depth: 0 };
}

/// A text parsed, and whether it had anchors or aliases (which may refer across parts).
struct Parsed {
    root: Node,
    diags: Vec<Diagnostic>,
    anchors: bool,
}

fn parse_part(text: &str, display: &Path, part: Part) -> Result<Parsed, Diagnostic> {
    let at = |pos: Pos| Location::new(display, pos.line, pos.col);
    let mut anchored = false;
    let mut diags = Vec::new();
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: Vec<Option<Node>> = Vec::new();
    let mut alias_nodes = 0usize;
    let mut root: Option<Node> = None;
    let mut documents = 0;

    while let Some(ev) = parser.next_event() {
        let (event, span): (Event, Span) = ev.map_err(|e| {
            let mut pos = Pos::from_marker(e.marker(), part.lines_before);
            if e.info().contains("tab") {
                // Point at the tab itself, not just past it.
                if let Some(col) = text
                    .lines()
                    .nth((pos.line - part.lines_before) as usize - 1)
                    .and_then(|l| l.chars().position(|c| c == '\t'))
                {
                    pos.col = col as u32 + 1;
                }
            }
            Diagnostic::at(at(pos), format!("invalid YAML: {}", e.info()))
        })?;
        let pos = Pos::from_marker(&span.start, part.lines_before);
        let completed: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => None,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(Diagnostic::at(
                        at(pos),
                        "a second YAML document (`---`); an nlconf file holds one document",
                    ));
                }
                None
            }
            Event::Alias(id) => {
                anchored = true;
                let node = anchors
                    .get(id)
                    .and_then(Option::as_ref)
                    .ok_or_else(|| Diagnostic::at(at(pos), "alias refers to an anchor that is not complete yet"))?;
                alias_nodes += node.count();
                if alias_nodes > MAX_ALIAS_NODES {
                    return Err(Diagnostic::at(
                        at(pos),
                        format!("aliases expand to more than {MAX_ALIAS_NODES} nodes; refusing (an alias bomb?)"),
                    ));
                }
                let mut copy = node.clone();
                copy.pos = pos;
                Some((copy, 0))
            }
            Event::Scalar(value, style, anchor, tag) => {
                let tag = convert_tag(tag, pos, display)?;
                let kind = scalar_kind(value, style, tag);
                Some((Node { kind, tag, pos }, anchor))
            }
            Event::SequenceStart(anchor, tag) => {
                let tag = convert_tag(tag, pos, display)?;
                let frame = Frame::Seq { start: pos, items: Vec::new(), anchor, tag };
                push_frame(&mut stack, frame, part.depth, pos, display)?;
                None
            }
            Event::MappingStart(anchor, tag) => {
                let tag = convert_tag(tag, pos, display)?;
                let frame = Frame::Map { start: pos, entries: Vec::new(), pending_key: None, anchor, tag };
                push_frame(&mut stack, frame, part.depth, pos, display)?;
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq { start, items, anchor, tag }) => {
                    Some((Node { kind: Kind::Seq(items), tag, pos: start }, anchor))
                }
                _ => return Err(Diagnostic::at(at(pos), "invalid YAML: unbalanced sequence")),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map { start, entries, anchor, tag, .. }) => {
                    Some((Node { kind: Kind::Map(entries), tag, pos: start }, anchor))
                }
                _ => return Err(Diagnostic::at(at(pos), "invalid YAML: unbalanced mapping")),
            },
        };

        let Some((node, anchor)) = completed else {
            continue;
        };
        if anchor > 0 {
            anchored = true;
            if anchors.len() <= anchor {
                anchors.resize(anchor + 1, None);
            }
            anchors[anchor] = Some(node.clone());
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, pending_key, .. }) => match pending_key.take() {
                None => {
                    let key = match &node.kind {
                        Kind::Scalar(s, _) => s.clone(),
                        Kind::Null => Text::default(),
                        _ => {
                            return Err(Diagnostic::at(
                                at(node.pos),
                                format!("a mapping key must be a plain name, found {}", node.kind_name()),
                            ));
                        }
                    };
                    if let Some(first) = entries.iter().find(|e| e.key == key) {
                        diags.push(Diagnostic::at(at(node.pos), format!("duplicate key `{key}`")).with_help(format!(
                            "first defined at line {}, column {}",
                            first.key_pos.line, first.key_pos.col
                        )));
                    }
                    *pending_key = Some((key, node.pos));
                }
                Some((key, key_pos)) => {
                    // A duplicate key keeps its first value; the error above fails the run anyway.
                    if !entries.iter().any(|e| e.key == key) {
                        entries.push(Entry { key, key_pos, value: node });
                    }
                }
            },
        }
    }
    let root = match root {
        None => Node::empty_map(Pos { line: 1, col: 1 }),
        Some(n) if n.is_null() => Node::empty_map(n.pos),
        Some(n) => n,
    };
    Ok(Parsed { root, diags, anchors: anchored })
}

fn push_frame(stack: &mut Vec<Frame>, frame: Frame, depth: usize, pos: Pos, display: &Path) -> Result<(), Diagnostic> {
    if stack.len() + depth >= MAX_DEPTH {
        return Err(Diagnostic::at(
            Location::new(display, pos.line, pos.col),
            format!("nesting deeper than {MAX_DEPTH} levels; refusing"),
        ));
    }
    stack.push(frame);
    Ok(())
}

fn convert_tag(tag: Option<Cow<'_, YamlTag>>, pos: Pos, display: &Path) -> Result<Tag, Diagnostic> {
    let Some(tag) = tag else { return Ok(Tag::None) };
    if tag.is_yaml_core_schema() && tag.suffix == "str" {
        return Ok(Tag::None);
    }
    match (tag.handle.as_str(), tag.suffix.as_str()) {
        ("!", "age") => Ok(Tag::Age),
        ("!", "empty") => Ok(Tag::Empty),
        _ => Err(Diagnostic::at(
            Location::new(display, pos.line, pos.col),
            format!("unknown YAML tag `{tag}`; nlconf knows `!age` (a secret) and `!empty` (an empty value)"),
        )),
    }
}

fn scalar_kind(value: Cow<'_, str>, style: ScalarStyle, tag: Tag) -> Kind {
    match style {
        ScalarStyle::Plain => {
            if tag == Tag::None && matches!(value.as_ref(), "" | "~" | "null" | "Null" | "NULL") {
                Kind::Null
            } else {
                Kind::Scalar(Text::from(value), Style::Plain)
            }
        }
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => Kind::Scalar(Text::from(value), Style::Quoted),
        _ => Kind::Scalar(Text::from(value), Style::Block),
    }
}

/// A path to show for a file under the repository root.
pub fn display_path(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root).map(Path::to_path_buf).unwrap_or_else(|_| path.to_path_buf())
}

mod fast;
mod split;

#[cfg(test)]
mod tests;
