//! XML: escaping for attribute values, and parsing `config-<instance>.xml` into a small tree with
//! positions (used to check rendered output and to read deployed files).

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

/// Escapes text for a double- or single-quoted XML attribute (and element text) so that an XML
/// parser gives back exactly the original: `& < > " '`, and tab, newline and carriage return as
/// character references (a literal newline in an attribute would be read back as a space).
pub fn escape_into(s: &str, out: &mut String) {
    // Everything escaped is ASCII, so each byte found is a character of its own: the text between
    // two of them is copied in one piece.
    let mut done = 0;
    for (i, b) in s.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&apos;",
            b'\n' => "&#10;",
            b'\t' => "&#9;",
            b'\r' => "&#13;",
            _ => continue,
        };
        out.push_str(&s[done..i]);
        out.push_str(entity);
        done = i + 1;
    }
    out.push_str(&s[done..]);
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    escape_into(s, &mut out);
    out
}

/// The escape function Tera uses for `.xml` templates.
pub fn tera_escape(s: &str, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    w.write_all(escape(s).as_bytes())
}

/// A parsed element with the 1-based line and column of its start tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlElement {
    pub name: String,
    /// The attributes' names and (unescaped) values back to back, read through `attrs()`: one
    /// allocation per element rather than two per attribute (a fleet's review parses millions).
    attr_text: String,
    attr_spans: Vec<AttrSpan>,
    pub children: Vec<XmlElement>,
    pub text: String,
    pub line: u32,
    pub col: u32,
}

/// Where an attribute is: its name and value in `attr_text`, its raw value in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AttrSpan {
    name_end: u32,
    value_end: u32,
    raw: std::ops::Range<usize>,
}

impl XmlElement {
    /// The attributes, in document order: (name, unescaped value).
    pub fn attrs(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        let mut start = 0;
        self.attr_spans.iter().map(move |s| {
            let (name_end, value_end) = (s.name_end as usize, s.value_end as usize);
            let pair = (&self.attr_text[start..name_end], &self.attr_text[name_end..value_end]);
            start = value_end;
            pair
        })
    }

    /// Byte range in the document of each attribute's raw (escaped) value, in the order of `attrs()`.
    pub fn value_ranges(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        self.attr_spans.iter().map(|s| s.raw.clone())
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    pub fn child(&self, name: &str) -> Option<&XmlElement> {
        self.children.iter().find(|c| c.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError {
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl std::fmt::Display for XmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {}: {}", self.line, self.col, self.message)
    }
}

fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(text.len());
    let mut start = offset;
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let before = &text[..start];
    let line = before.matches('\n').count() as u32 + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
    (line, col)
}

/// Line and column of increasing offsets in one pass over the text (elements come in order).
struct Cursor<'a> {
    text: &'a str,
    offset: usize,
    line: u32,
    line_start: usize,
}

impl Cursor<'_> {
    fn at(&mut self, offset: usize) -> (u32, u32) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        if offset < self.offset {
            return line_col(self.text, offset);
        }
        let skipped = &self.text.as_bytes()[self.offset..offset];
        if let Some(last) = skipped.iter().rposition(|&b| b == b'\n') {
            self.line += skipped.iter().filter(|&&b| b == b'\n').count() as u32;
            self.line_start = self.offset + last + 1;
        }
        self.offset = offset;
        (self.line, self.text[self.line_start..offset].chars().count() as u32 + 1)
    }
}

/// Parses a whole document into its root element. Comments, processing instructions and the
/// prologue are skipped; any well-formedness error is reported with line and column.
pub fn parse(text: &str) -> Result<XmlElement, XmlError> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    reader.config_mut().check_comments = true;
    let mut stack: Vec<XmlElement> = Vec::new();
    let mut root: Option<XmlElement> = None;
    let mut cursor = Cursor { text, offset: 0, line: 1, line_start: 0 };
    let err = |offset: u64, message: String| {
        let (line, col) = line_col(text, offset as usize);
        XmlError { line, col, message }
    };
    loop {
        let start = reader.buffer_position();
        let event = reader.read_event().map_err(|e| err(reader.error_position(), e.to_string()))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if root.is_some() && stack.is_empty() {
                    return Err(err(start, "a second root element; a document has exactly one".into()));
                }
                let el = element(e, text, cursor.at(start as usize)).map_err(|m| err(start, m))?;
                if matches!(event, Event::Empty(_)) {
                    close(&mut stack, &mut root, el);
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => match stack.pop() {
                Some(el) => close(&mut stack, &mut root, el),
                None => return Err(err(start, "closing tag without an opening tag".into())),
            },
            Event::Text(t) => {
                let decoded = t.xml10_content();
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&decoded),
                    None if decoded.trim().is_empty() => {}
                    None => return Err(err(start, "text outside the root element".into())),
                }
            }
            Event::GeneralRef(r) => {
                let name = r.xml10_content();
                let resolved = resolve_ref(&name).ok_or_else(|| err(start, format!("unknown entity `&{name};`")))?;
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&resolved),
                    None => return Err(err(start, "text outside the root element".into())),
                }
            }
            Event::CData(c) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&c.xml10_content());
                }
            }
            Event::Eof => break,
            Event::DocType(_) => {
                return Err(err(start, "a DOCTYPE is not expected in an ACC configuration file".into()));
            }
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(XmlError {
            line: open.line,
            col: open.col,
            message: format!("element <{}> is never closed", open.name),
        });
    }
    root.ok_or_else(|| err(text.len() as u64, "no root element (the file is empty)".into()))
}

fn resolve_ref(name: &str) -> Option<String> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix('x') {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code).map(String::from);
    }
    quick_xml::escape::resolve_predefined_entity(name).map(str::to_string)
}

fn close(stack: &mut [XmlElement], root: &mut Option<XmlElement>, el: XmlElement) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

fn element(e: &BytesStart<'_>, text: &str, (line, col): (u32, u32)) -> Result<XmlElement, String> {
    let name = e.name().as_ref().to_string();
    let mut attr_text = String::new();
    let mut attr_spans = Vec::new();
    for a in e.attributes().with_checks(true) {
        let a = a.map_err(|e| e.to_string())?;
        // The reader borrows from `text`, so a borrowed value's address gives its position.
        let raw: &str = a.value.as_ref();
        let at = (raw.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
        let raw = if at <= text.len() && at + raw.len() <= text.len() { at..at + raw.len() } else { 0..0 };
        attr_text.push_str(a.key.as_ref());
        let name_end = attr_text.len() as u32;
        attr_text.push_str(&a.normalized_value(XmlVersion::Implicit1_0).map_err(|e| e.to_string())?);
        attr_spans.push(AttrSpan { name_end, value_end: attr_text.len() as u32, raw });
    }
    Ok(XmlElement { name, attr_text, attr_spans, children: Vec::new(), text: String::new(), line, col })
}

#[cfg(test)]
mod tests;
