//! The common case of `parse`, fast: configuration written the usual way, read line by line without
//! the general parser's token machinery. It gives exactly the tree `parse` would, or `None` for
//! anything outside the plain subset it knows, which `parse` then reads the general way (and reports
//! any error from there). Environments are megabytes of YAML on a fleet.
//!
//! The subset: spaces for indentation (no tab anywhere, no carriage return, no byte order mark); block
//! maps and sequences (a sequence may sit at its key's indentation); keys on one line, plain or
//! quoted; plain and quoted scalars on one line (the usual escapes in double quotes); flow maps and
//! lists on one line; literal block scalars (`|`, `|-`); the tags nlconf knows; comments. Not in it:
//! documents markers, directives, anchors and aliases, complex keys, folded or kept block scalars,
//! explicit indentation, multi-line plain, quoted or flow nodes, tagged collections, empty keys, and
//! duplicate keys (whose report the general parser writes). A test compares both readings on every
//! file of the shipped example and thousands of edited ones.

use std::cell::RefCell;

use super::{Build, Kind, MAX_DEPTH, Part, Pos, Style, Tag, Text};

/// The tree of `text`, built by `b`, or `None` when it is not in the subset.
pub(super) fn parse<B: Build>(text: &str, part: Part, b: &B) -> Option<B::Tree> {
    let builder = b;
    let b = text.as_bytes();
    // Tabs, carriage returns and what YAML does not allow as a character: the general parser says.
    // (Checked in blocks without an early exit, which the compiler vectorises.)
    let control = |c: &u8| (*c < b' ' && *c != b'\n') || *c == 0x7f;
    if text.starts_with('\u{feff}') || b.chunks(64).any(|k| k.iter().fold(false, |any, c| any | control(c))) {
        return None;
    }
    if !text.is_ascii()
        && text.chars().any(|c| matches!(c, '\u{80}'..='\u{84}' | '\u{86}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}'))
    {
        return None;
    }
    // Each line's start, end (before its line break) and indentation.
    let mut lines = Vec::with_capacity(b.len() / 32);
    for (start, end, indent) in super::lines(b) {
        let l = &b[start..end];
        // Document markers and directives: the general parser says what they mean.
        if l.starts_with(b"---") || l.starts_with(b"...") || l.starts_with(b"%") {
            return None;
        }
        lines.push(Line { start, end, indent });
    }
    let p = Parser {
        text,
        lines,
        lines_before: part.lines_before,
        depth: part.depth,
        b: builder,
        entries: RefCell::new(Vec::new()),
        items: RefCell::new(Vec::new()),
    };
    let first = p.next_content(0)?;
    // The top is a map.
    if is_item(&p.line(first)[p.indent(first)..]) {
        return None;
    }
    let (root, next) = p.block_node(first, p.indent(first), 0)?;
    if next.is_some() {
        return None;
    }
    Some(root)
}

struct Parser<'a, B: Build> {
    text: &'a str,
    lines: Vec<Line>,
    lines_before: u32,
    /// How deeply the text's top level is nested in its file.
    depth: usize,
    b: &'a B,
    /// The entries of the maps being read, innermost last (and `items`, of the lists): each map
    /// takes its own off the top in one allocation of the right size when it ends. Grown one by
    /// one in a vector of its own, a map's entries left a quarter of it unused on average, and a
    /// fleet's environment is a million of them.
    entries: RefCell<Vec<B::Entry>>,
    items: RefCell<Vec<B::Tree>>,
}

/// A line: where it starts and ends (before its line break), and its indentation.
struct Line {
    start: usize,
    end: usize,
    indent: usize,
}

impl<'a, B: Build> Parser<'a, B> {
    /// Line `i` without its line break.
    fn line(&self, i: usize) -> &'a str {
        let l = &self.lines[i];
        &self.text[l.start..l.end]
    }

    fn indent(&self, i: usize) -> usize {
        self.lines[i].indent
    }

    /// Blank or a comment.
    fn is_filler(&self, i: usize) -> bool {
        let l = &self.lines[i];
        l.start + l.indent == l.end || self.text.as_bytes()[l.start + l.indent] == b'#'
    }

    /// Whether line `i` holds nothing but spaces.
    fn is_blank(&self, i: usize) -> bool {
        let l = &self.lines[i];
        l.start + l.indent == l.end
    }

    /// The first line from `i` on that is not blank or a comment.
    fn next_content(&self, mut i: usize) -> Option<usize> {
        while i < self.lines.len() {
            if !self.is_filler(i) {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    /// The position of byte `at` of line `i`.
    fn pos(&self, i: usize, at: usize) -> Pos {
        let before = &self.line(i)[..at];
        let col = if before.is_ascii() { before.len() } else { before.chars().count() };
        Pos { line: self.lines_before + i as u32 + 1, col: col as u32 + 1 }
    }

    /// The entries of the map that ends, pushed from `base` on.
    fn take_entries(&self, base: usize) -> Vec<B::Entry> {
        self.entries.borrow_mut().drain(base..).collect()
    }

    /// The items of the list that ends, pushed from `base` on.
    fn take_items(&self, base: usize) -> Vec<B::Tree> {
        self.items.borrow_mut().drain(base..).collect()
    }

    fn deep(&self, depth: usize) -> Option<()> {
        (self.depth + depth + 2 < MAX_DEPTH).then_some(())
    }

    /// The block node starting on content line `i` at indentation `n`: a map or a sequence. Returns
    /// it and the next content line after it.
    fn block_node(&self, i: usize, n: usize, depth: usize) -> Option<(B::Tree, Option<usize>)> {
        self.deep(depth)?;
        let t = &self.line(i)[n..];
        if t == "-" || t.starts_with("- ") {
            self.block_seq(i, n, depth, self.pos(i, n))
        } else {
            self.block_map(i, n, n, depth)
        }
    }

    /// A block map whose first key is at byte `at` of line `i` and whose keys are at indentation `n`
    /// (`at` > `n` for the first key of a map in a sequence item, `- key: value`).
    fn block_map(&self, mut i: usize, n: usize, mut at: usize, depth: usize) -> Option<(B::Tree, Option<usize>)> {
        let pos = self.pos(i, at);
        // (When anything is outside the subset, the whole parse ends with `None`: what is left on
        // the stacks then is dropped with the parser.)
        let base = self.entries.borrow().len();
        loop {
            let line = self.line(i);
            let (key, key_pos, after) = self.key(i, at)?;
            if self.entries.borrow()[base..].iter().any(|e| B::key(e) == key) {
                return None;
            }
            let rest = &line[after..];
            let value_at = after + (rest.len() - rest.trim_start_matches(' ').len());
            let (value, next) = if value_at == line.len() || line[value_at..].starts_with('#') {
                // The value is on the lines below: more indented, or a sequence at this indentation.
                let next = self.next_content(i + 1);
                match next {
                    Some(j) if self.indent(j) > n => self.block_node(j, self.indent(j), depth + 1)?,
                    Some(j) if self.indent(j) == n && is_item(&self.line(j)[n..]) => {
                        // A sequence at its key's indentation starts where its first item does.
                        let first = &self.line(j)[n..];
                        if first == "-" {
                            return None;
                        }
                        let pos = self.pos(j, n + 2 + first[2..].bytes().take_while(|&c| c == b' ').count());
                        self.block_seq(j, n, depth + 1, pos)?
                    }
                    _ => (self.b.scalar(Kind::Null, Tag::None, self.pos(i, after - 1)), next),
                }
            } else {
                self.inline(i, value_at, n, depth + 1)?
            };
            let entry = self.b.entry(key, key_pos, value);
            self.entries.borrow_mut().push(entry);
            match next {
                Some(j) if self.indent(j) == n && !is_item(&self.line(j)[n..]) => {
                    i = j;
                    at = n;
                }
                Some(j) if self.indent(j) >= n => return None,
                _ => return Some((self.b.map(self.take_entries(base), pos), next)),
            }
        }
    }

    /// A block sequence whose dashes are at indentation `n`, from line `i`, at `pos`.
    fn block_seq(&self, mut i: usize, n: usize, depth: usize, pos: Pos) -> Option<(B::Tree, Option<usize>)> {
        self.deep(depth)?;
        let base = self.items.borrow().len();
        loop {
            let line = self.line(i);
            let (item, next) = if &line[n..] == "-" {
                match self.next_content(i + 1) {
                    Some(j) if self.indent(j) > n => self.block_node(j, self.indent(j), depth + 1)?,
                    next => (self.b.scalar(Kind::Null, Tag::None, self.pos(i, n + 1)), next),
                }
            } else {
                let at = n + 2 + line[n + 2..].bytes().take_while(|&c| c == b' ').count();
                let rest = &line[at..];
                if rest.is_empty() || rest.starts_with('#') || is_item(rest) {
                    return None;
                }
                if self.key(i, at).is_some() {
                    // `- key: value`: a map whose keys are at the first key's indentation.
                    self.block_map(i, at, at, depth + 1)?
                } else {
                    self.inline(i, at, n, depth + 1)?
                }
            };
            self.items.borrow_mut().push(item);
            match next {
                Some(j) if self.indent(j) == n && is_item(&self.line(j)[n..]) => i = j,
                Some(j) if self.indent(j) > n => return None,
                _ => return Some((self.b.seq(self.take_items(base), pos), next)),
            }
        }
    }

    /// A key at byte `at` of line `i`: its text, position, and the byte after its `:`.
    fn key(&self, i: usize, at: usize) -> Option<(Text, Pos, usize)> {
        let line = self.line(i);
        let rest = &line[at..];
        let (node, end) = match rest.as_bytes().first()? {
            b'"' | b'\'' => {
                let (text, len) = quoted(rest)?;
                (Kind::Scalar(text, Style::Quoted), at + len)
            }
            _ => {
                if !plain_start(rest, false) {
                    return None;
                }
                let colon = find_pair(rest, b':', b' ').or_else(|| rest.ends_with(':').then(|| rest.len() - 1))?;
                let key = &rest[..colon];
                if find_pair(key, b' ', b'#').is_some()
                    || key.ends_with(' ')
                    || key.bytes().any(|c| matches!(c, b'{' | b'}' | b'[' | b']' | b','))
                {
                    return None;
                }
                (plain_kind(key, Tag::None), at + colon)
            }
        };
        if line.as_bytes().get(end) != Some(&b':') || !matches!(line.as_bytes().get(end + 1), None | Some(b' ')) {
            return None;
        }
        let key = match node {
            Kind::Scalar(s, _) => s,
            _ => return None, // an empty key
        };
        if key.is_empty() {
            return None;
        }
        Some((key, self.pos(i, at), end + 1))
    }

    /// A value written on its key's (or dash's) line from byte `at`, in a block node at indentation
    /// `n`. Returns it and the next content line.
    fn inline(&self, i: usize, at: usize, n: usize, depth: usize) -> Option<(B::Tree, Option<usize>)> {
        self.deep(depth)?;
        let line = self.line(i);
        let mut at = at;
        let mut tag = Tag::None;
        let mut tag_pos = None;
        if line[at..].starts_with('!') {
            let len = line[at..].find(' ').unwrap_or(line.len() - at);
            tag = match &line[at..at + len] {
                "!age" => Tag::Age,
                "!empty" => Tag::Empty,
                "!!str" => Tag::None,
                _ => return None,
            };
            tag_pos = Some(self.pos(i, at));
            at += len;
            at += line[at..].bytes().take_while(|&c| c == b' ').count();
            if at == line.len() || line[at..].starts_with('#') {
                // A tag on nothing: an empty plain scalar, tagged.
                let node = self.b.scalar(plain_kind("", tag), tag, tag_pos?);
                return self.after_scalar(i, n, node);
            }
        }
        let rest = &line[at..];
        let pos = tag_pos.unwrap_or_else(|| self.pos(i, at));
        match rest.as_bytes()[0] {
            b'|' => self.literal(i, at, n, tag, tag_pos),
            b'"' | b'\'' => {
                let (text, len) = quoted(rest)?;
                let node = self.b.scalar(Kind::Scalar(text, Style::Quoted), tag, pos);
                end_of_line(&rest[len..])?;
                self.after_value(i, n, node)
            }
            b'{' | b'[' if tag == Tag::None => {
                let mut flow = Flow { p: self, i, text: line, at, depth };
                let node = flow.node()?;
                end_of_line(&line[flow.at..])?;
                self.after_value(i, n, node)
            }
            _ => {
                if !plain_start(rest, false) {
                    return None;
                }
                let end = find_pair(rest, b' ', b'#').unwrap_or(rest.len());
                let value = rest[..end].trim_end_matches(' ');
                if find_pair(value, b':', b' ').is_some() || value.ends_with(':') {
                    return None;
                }
                let node = self.b.scalar(plain_kind(value, tag), tag, pos);
                self.after_scalar(i, n, node)
            }
        }
    }

    /// After a one-line value: the next content line, which must not be more indented than its node.
    fn after_value(&self, i: usize, n: usize, node: B::Tree) -> Option<(B::Tree, Option<usize>)> {
        let next = self.next_content(i + 1);
        if next.is_some_and(|j| self.indent(j) > n) {
            return None;
        }
        Some((node, next))
    }

    /// `after_value` for a plain scalar: no more indented line at all, not even a comment, which
    /// could be the scalar going on.
    fn after_scalar(&self, i: usize, n: usize, node: B::Tree) -> Option<(B::Tree, Option<usize>)> {
        let mut j = i + 1;
        while j < self.lines.len() && self.is_blank(j) {
            j += 1;
        }
        if j < self.lines.len() && self.indent(j) > n {
            return None;
        }
        self.after_value(i, n, node)
    }

    /// A literal block scalar (`|` or `|-`) at byte `at` of line `i`, in a node at indentation `n`.
    fn literal(
        &self,
        i: usize,
        at: usize,
        n: usize,
        tag: Tag,
        tag_pos: Option<Pos>,
    ) -> Option<(B::Tree, Option<usize>)> {
        let header = &self.line(i)[at + 1..];
        let (strip, rest) = match header.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, header),
        };
        end_of_line(rest)?;
        // The content: the lines below, indented as the first one that is not blank.
        let mut j = i + 1;
        let first = loop {
            if j >= self.lines.len() {
                return None;
            }
            if !self.is_blank(j) {
                break j;
            }
            j += 1;
        };
        let k = self.indent(first);
        if k <= n {
            return None;
        }
        // Blank lines before the first: none may hold more spaces than the indentation.
        if (i + 1..first).any(|b| self.line(b).len() > k) {
            return None;
        }
        let mut text = Text::default();
        let mut blank_run = first - (i + 1);
        let mut j = first;
        let mut end = first;
        while j < self.lines.len() {
            let l = self.line(j);
            let blank = self.is_blank(j);
            if blank && l.len() <= k {
                blank_run += 1;
            } else if blank {
                return None; // spaces beyond the indentation: content or not, the general parser says
            } else if self.indent(j) >= k {
                for _ in 0..blank_run {
                    text.push('\n');
                }
                blank_run = 0;
                text.push_str(&l[k..]);
                text.push('\n');
                end = j + 1;
            } else if self.indent(j) <= n {
                break;
            } else {
                return None;
            }
            j += 1;
        }
        // At the end of the text without a last line break, the general parser counts lines its own way.
        if j == self.lines.len() && !self.text.ends_with('\n') {
            return None;
        }
        if strip {
            text.pop();
        }
        let pos = tag_pos.unwrap_or_else(|| self.pos(first, k));
        let node = self.b.scalar(Kind::Scalar(text, Style::Block), tag, pos);
        let next = self.next_content(end);
        if next.is_some_and(|nx| self.indent(nx) > n) {
            return None;
        }
        Some((node, next))
    }
}

/// Where the first `a` followed by `b` is in `s`.
fn find_pair(s: &str, a: u8, b: u8) -> Option<usize> {
    let bytes = s.as_bytes();
    memchr::memchr_iter(a, bytes).find(|&i| bytes.get(i + 1) == Some(&b))
}

/// Whether a line's text (from its indentation on) is a sequence item.
fn is_item(t: &str) -> bool {
    t == "-" || t.starts_with("- ")
}

/// Nothing but spaces and maybe a comment.
fn end_of_line(rest: &str) -> Option<()> {
    let t = rest.trim_start_matches(' ');
    (t.is_empty() || (t.starts_with('#') && t.len() < rest.len())).then_some(())
}

/// Whether a plain scalar may start here (`flow`: inside a flow collection).
fn plain_start(rest: &str, flow: bool) -> bool {
    let b = rest.as_bytes();
    match b.first() {
        None => false,
        Some(b'-' | b'?' | b':') => b.get(1).is_some_and(|&c| c != b' ' && !(flow && b",[]{}".contains(&c))),
        Some(c) => !b",[]{}#&*!|>'\"%@`".contains(c),
    }
}

/// The kind of a plain scalar: null for the null words (untagged), else the text.
fn plain_kind(text: &str, tag: Tag) -> Kind {
    if tag == Tag::None && matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        Kind::Null
    } else {
        Kind::Scalar(Text::new(text), Style::Plain)
    }
}

/// A quoted scalar at the start of `rest`, closed on the same line: its text and length.
fn quoted(rest: &str) -> Option<(Text, usize)> {
    let b = rest.as_bytes();
    let mut out = Text::default();
    if b[0] == b'\'' {
        let mut i = 1;
        loop {
            let close = rest[i..].find('\'')? + i;
            out.push_str(&rest[i..close]);
            if b.get(close + 1) == Some(&b'\'') {
                out.push('\'');
                i = close + 2;
            } else {
                return Some((out, close + 1));
            }
        }
    }
    let mut i = 1;
    loop {
        let stop = rest[i..].find(['"', '\\'])? + i;
        out.push_str(&rest[i..stop]);
        if b[stop] == b'"' {
            return Some((out, stop + 1));
        }
        let (c, len) = match *b.get(stop + 1)? {
            b'\\' => ('\\', 2),
            b'"' => ('"', 2),
            b'/' => ('/', 2),
            b'n' => ('\n', 2),
            b't' => ('\t', 2),
            b'r' => ('\r', 2),
            b'0' => ('\0', 2),
            b'x' => (hex(rest.get(stop + 2..stop + 4)?)?, 4),
            b'u' => (hex(rest.get(stop + 2..stop + 6)?)?, 6),
            b'U' => (hex(rest.get(stop + 2..stop + 10)?)?, 10),
            _ => return None,
        };
        out.push(c);
        i = stop + len;
    }
}

fn hex(digits: &str) -> Option<char> {
    if !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    char::from_u32(u32::from_str_radix(digits, 16).ok()?)
}

/// A flow collection on one line: `text` is line `i`, read from byte `at`.
struct Flow<'p, 'a, B: Build> {
    p: &'p Parser<'a, B>,
    i: usize,
    text: &'a str,
    at: usize,
    depth: usize,
}

impl<B: Build> Flow<'_, '_, B> {
    fn spaces(&mut self) {
        self.at += self.text[self.at..].bytes().take_while(|&c| c == b' ').count();
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    /// Past an opening `{` or `[`: whether the collection closes at once (`close` right after it).
    fn open(&mut self, close: u8) -> bool {
        self.at += 1;
        self.depth += 1;
        self.spaces();
        self.after_item(close) == Some(true)
    }

    /// After an item of a collection that ends with `close`: `Some(true)` past `close`, `Some(false)`
    /// past a `,` that another item follows, `None` for anything else (the general parser decides).
    fn separator(&mut self, close: u8) -> Option<bool> {
        self.spaces();
        match self.peek()? {
            b',' => {
                self.at += 1;
                self.spaces();
                (!matches!(self.peek(), Some(c) if c == close || c == b',')).then_some(false)
            }
            c if c == close => self.after_item(close),
            _ => None,
        }
    }

    /// Past `close` if it is next: the collection's end.
    fn after_item(&mut self, close: u8) -> Option<bool> {
        (self.peek() == Some(close)).then(|| {
            self.at += 1;
            self.depth -= 1;
            true
        })
    }

    fn node(&mut self) -> Option<B::Tree> {
        self.p.deep(self.depth)?;
        let pos = self.p.pos(self.i, self.at);
        match self.peek()? {
            b'{' => {
                if self.open(b'}') {
                    return Some(self.p.b.map(Vec::new(), pos));
                }
                let base = self.p.entries.borrow().len();
                loop {
                    let key_pos = self.p.pos(self.i, self.at);
                    let key = match self.scalar(true)? {
                        Kind::Scalar(s, _) if !s.is_empty() => s,
                        _ => return None,
                    };
                    if self.p.entries.borrow()[base..].iter().any(|e| B::key(e) == key) || self.peek() != Some(b':') {
                        return None;
                    }
                    self.at += 1;
                    if self.peek() != Some(b' ') {
                        return None;
                    }
                    self.spaces();
                    let value = self.node()?;
                    let entry = self.p.b.entry(key, key_pos, value);
                    self.p.entries.borrow_mut().push(entry);
                    if self.separator(b'}')? {
                        return Some(self.p.b.map(self.p.take_entries(base), pos));
                    }
                }
            }
            b'[' => {
                if self.open(b']') {
                    return Some(self.p.b.seq(Vec::new(), pos));
                }
                let base = self.p.items.borrow().len();
                loop {
                    let item = self.node()?;
                    self.p.items.borrow_mut().push(item);
                    if self.separator(b']')? {
                        return Some(self.p.b.seq(self.p.take_items(base), pos));
                    }
                }
            }
            _ => {
                let kind = self.scalar(false)?;
                Some(self.p.b.scalar(kind, Tag::None, pos))
            }
        }
    }

    /// A quoted or plain scalar in a flow collection (`key`: a map's key, followed by `:`).
    fn scalar(&mut self, key: bool) -> Option<Kind> {
        let rest = &self.text[self.at..];
        if matches!(rest.as_bytes().first(), Some(b'"' | b'\'')) {
            let (text, len) = quoted(rest)?;
            self.at += len;
            if key {
                return Some(Kind::Scalar(text, Style::Quoted));
            }
            // Only white space, `,` or the end of the collection may follow.
            let after = self.text[self.at..].trim_start_matches(' ');
            return matches!(after.as_bytes().first(), Some(b',' | b'}' | b']'))
                .then_some(Kind::Scalar(text, Style::Quoted));
        }
        if !plain_start(rest, true) {
            return None;
        }
        // Up to `,`, the end of a collection, or `:` followed by a space (or by the end of a value).
        let b = rest.as_bytes();
        let mut end = 0;
        while end < b.len() {
            match b[end] {
                b',' | b']' | b'}' => break,
                b':' if matches!(b.get(end + 1), None | Some(b' ' | b',' | b']' | b'}')) => break,
                b'#' if end > 0 && b[end - 1] == b' ' => return None,
                b'[' | b'{' => return None,
                _ => end += 1,
            }
        }
        let value = rest[..end].trim_end_matches(' ');
        if value.is_empty() {
            return None;
        }
        if !key && b.get(end) == Some(&b':') {
            return None;
        }
        // The general parser reads ` -` (` ?`, ` :`) before the end of a flow scalar as a new one.
        let vb = value.as_bytes();
        if vb.windows(2).enumerate().any(|(k, w)| {
            w[0] == b' '
                && matches!(w[1], b'-' | b'?' | b':')
                && matches!(vb.get(k + 2).or(b.get(end)), None | Some(b' ' | b',' | b'[' | b']' | b'{' | b'}'))
        }) {
            return None;
        }
        self.at += value.len();
        Some(plain_kind(value, Tag::None))
    }
}

#[cfg(test)]
mod tests;
