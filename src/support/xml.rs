//! XML: escaping for attribute values, and parsing `config-<instance>.xml` into a small tree with
//! positions (used to check rendered output and to read deployed files).

use quick_xml::XmlVersion;
use quick_xml::events::attributes::{AttrError, Attribute};
use quick_xml::events::{BytesDecl, BytesStart, Event};
use quick_xml::reader::Reader;

/// Escapes text for a double- or single-quoted XML attribute (and element text) so that an XML
/// parser gives back exactly the original: `& < > " '`, and tab, newline and carriage return as
/// character references (a literal newline in an attribute would be read back as a space).
pub fn escape_into(s: &str, out: &mut String) {
    // Most values need nothing escaped: checked without an early exit, which the compiler vectorises.
    let special = |b: &u8| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'' | b'\n' | b'\t' | b'\r');
    if !s.as_bytes().iter().fold(false, |any, b| any | special(b)) {
        out.push_str(s);
        return;
    }
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

/// A parsed element, with where its start tag is in the document (`line_col` gives the line and
/// column from it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlElement {
    /// Inline up to 24 bytes (every name ACC knows): no allocation for it.
    pub name: crate::support::yaml::Text,
    /// The attributes' names and (unescaped) values back to back, read through `attrs()`: one
    /// allocation per element rather than two per attribute (a fleet's review parses millions).
    attr_text: String,
    attr_spans: Vec<AttrSpan>,
    pub children: Vec<XmlElement>,
    /// Its character data, exactly, except that an element with child elements and nothing but
    /// white space between them (their indentation) has none: what reads the text trims it, and
    /// on a fleet keeping the indentation was an allocation per element.
    pub text: String,
    /// The byte offset of its `<` in the document: a fleet's review reads a hundred thousand
    /// elements, and the line and column of one are only wanted for a message.
    pub offset: usize,
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

    /// The 1-based line and column (in characters) of its start tag in `document`, the text it was
    /// parsed from.
    pub fn line_col(&self, document: &str) -> (u32, u32) {
        line_col(document, self.offset)
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

/// How deeply elements may nest. ACC configuration files are fewer than 10 levels deep, and deployed
/// files are hostile input: a tree thousands of levels deep would overflow the stack in the recursive
/// walks over it (drop, clone, comparison, canonical form), so `parse` refuses it before building it.
pub const MAX_DEPTH: usize = 256;

/// Parses a whole document into its root element. Comments, processing instructions and the XML
/// declaration are checked and skipped. The document must be well-formed XML 1.0 without a DOCTYPE
/// (so the only entities are the five predefined ones) and nest at most `MAX_DEPTH` elements deep;
/// anything else is an error with the line and column of the problem.
pub fn parse(text: &str) -> Result<XmlElement, XmlError> {
    match fast::parse(text) {
        Some(root) => Ok(root),
        None => parse_general(text),
    }
}

/// `parse`, for any document (`fast` reads the common ones).
fn parse_general(text: &str) -> Result<XmlElement, XmlError> {
    let err = |offset: usize, message: String| {
        let (line, col) = line_col(text, offset);
        XmlError { line, col, message }
    };
    // Checked in one pass up front: quick-xml lets them through everywhere (text, names, values,
    // comments).
    if let Some((at, c)) = first_forbidden_char(text) {
        return Err(err(at, forbidden_char_message(c)));
    }
    // quick-xml skips one byte order mark and counts positions from after it: `base` turns its
    // positions back into offsets in `text`. (A second one is text before the root.)
    let base = if text.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.enable_all_checks(true);
    // The defaults, set because the checks below rely on them: a lone `&` and an end tag without a
    // start tag are errors.
    config.allow_dangling_amp = false;
    config.allow_unmatched_ends = false;
    let mut stack: Vec<XmlElement> = Vec::new();
    let mut root: Option<XmlElement> = None;
    loop {
        let start = base + reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| err(base + reader.error_position() as usize, e.to_string()))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if root.is_some() && stack.is_empty() {
                    return Err(err(start, "a second root element; a document has exactly one".into()));
                }
                if stack.len() == MAX_DEPTH {
                    return Err(err(
                        start,
                        format!(
                            "elements nested deeper than {MAX_DEPTH} levels (ACC configuration files have fewer than 10)"
                        ),
                    ));
                }
                let el = element(e, start).map_err(|(at, m)| err(at, m))?;
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
            Event::Text(t) => match stack.last_mut() {
                Some(el) => {
                    let raw: &str = &t;
                    // Most texts are white space between tags: looking for `>` skips them faster.
                    if let Some(i) = raw.contains('>').then(|| raw.find("]]>")).flatten() {
                        return Err(err(start + i, "`]]>` in text (write it as `]]&gt;`)".into()));
                    }
                    el.text.push_str(&t.xml10_content());
                }
                None => {
                    let raw: &str = &t;
                    if let Some(i) = raw.bytes().position(|b| !is_space(b)) {
                        return Err(err(start + i, "text outside the root element".into()));
                    }
                }
            },
            Event::GeneralRef(r) => {
                let c = resolve_ref(&r).map_err(|m| err(start, m))?;
                match stack.last_mut() {
                    Some(el) => el.text.push(c),
                    None => return Err(err(start, "text outside the root element".into())),
                }
            }
            Event::CData(c) => match stack.last_mut() {
                Some(el) => el.text.push_str(&c.xml10_content()),
                None => return Err(err(start, "CDATA outside the root element".into())),
            },
            Event::Decl(d) => check_decl(&d, start, start == base).map_err(|(at, m)| err(at, m))?,
            Event::PI(p) => check_pi_target(p.target()).map_err(|(i, m)| err(start + 2 + i, m))?,
            Event::DocType(_) => {
                return Err(err(
                    start,
                    "a DOCTYPE is refused: ACC configuration files never have one, and the entities it \
                     could declare are not read"
                        .into(),
                ));
            }
            Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(err(open.offset, format!("element <{}> is never closed", open.name)));
    }
    root.ok_or_else(|| err(text.len(), "no root element (the file is empty)".into()))
}

/// The first character XML 1.0 does not allow (`Char`), and its offset.
fn first_forbidden_char(text: &str) -> Option<(usize, char)> {
    // Only a C0 control or 0xEF (the first byte of U+FFFE and U+FFFF) can start one: characters are
    // decoded only from the first such byte on, which most files never have. Every file is read
    // through here, so blocks are checked without an early exit, which the compiler vectorises.
    const BLOCK: usize = 64;
    let suspect = |b: &u8| (*b < 0x20 && !is_space(*b)) || *b == 0xEF;
    let block = text.as_bytes().chunks(BLOCK).position(|c| c.iter().fold(false, |any, b| any | suspect(b)))?;
    let block = text.get(block * BLOCK..)?;
    let from = text.len() - block.len() + block.bytes().position(|b| suspect(&b))?;
    let rest = text.get(from..)?;
    rest.char_indices().find(|&(_, c)| !is_xml_char(c)).map(|(i, c)| (from + i, c))
}

fn forbidden_char_message(c: char) -> String {
    if c < ' ' {
        format!(
            "control character U+{:04X} is not allowed in XML (tab, line feed and carriage return are the only ones)",
            c as u32
        )
    } else {
        format!("U+{:04X} is not a character XML allows", c as u32)
    }
}

/// XML 1.0 `Char`. (A `str` cannot hold the surrogates it also leaves out.)
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// XML white space (`S`): Unicode has more, which XML does not accept between markup.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// XML 1.0 (fifth edition) `NameStartChar`.
fn is_name_start(c: char) -> bool {
    matches!(c,
        ':' | 'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}'
        | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

/// XML 1.0 (fifth edition) `NameChar`.
fn is_name_char(c: char) -> bool {
    is_name_start(c) || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// Checks that `name` is an XML `Name`; the error is at the offset in it of the first character that
/// cannot be there. quick-xml takes whatever comes before white space as a name (`<a<b>`).
fn check_name(name: &str, what: &str) -> Result<(), (usize, String)> {
    // Names are ASCII in practice: bytes are checked much faster than characters.
    let ascii = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'-' | b'.');
    if let [first, rest @ ..] = name.as_bytes()
        && (first.is_ascii_alphabetic() || *first == b'_' || *first == b':')
        && rest.iter().all(ascii)
    {
        return Ok(());
    }
    let mut chars = name.char_indices();
    let Some((_, first)) = chars.next() else {
        return Err((0, format!("{what} expected here")));
    };
    if !is_name_start(first) {
        return Err((0, format!("{what} `{}`: it cannot start with {first:?}", clip(name))));
    }
    match chars.find(|&(_, c)| !is_name_char(c)) {
        Some((i, c)) => Err((i, format!("{what} `{}`: {c:?} cannot be in a name", clip(name)))),
        None => Ok(()),
    }
}

/// Shortens what a hostile file put in a name or reference before it goes into a message.
fn clip(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// The character a reference `&name;` stands for: one of the five entities XML predefines (each is
/// one character), or a character reference to a character XML allows. Any other entity would need
/// a DOCTYPE to declare it, which `parse` refuses.
fn resolve_ref(name: &str) -> Result<char, String> {
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => {
            let Some(number) = name.strip_prefix('#') else {
                return Err(format!(
                    "unknown entity `&{};`: only &lt; &gt; &amp; &apos; &quot; and character references such as \
                     &#10; are defined",
                    clip(name)
                ));
            };
            let (digits, radix) = match number.strip_prefix('x') {
                Some(hex) => (hex, 16),
                None => (number, 10),
            };
            // Digits only: `from_str_radix` also takes a sign, which XML does not.
            let code = (!digits.is_empty() && digits.chars().all(|c| c.is_digit(radix)))
                .then(|| u32::from_str_radix(digits, radix).ok())
                .flatten();
            match code.and_then(char::from_u32) {
                Some(c) if is_xml_char(c) => c,
                _ => {
                    return Err(format!("character reference `&{};` is not to a character XML allows", clip(name)));
                }
            }
        }
    };
    Ok(c)
}

/// Checks an attribute value as written: quick-xml lets `<` through, and resolves any character
/// reference other than `&#0;`. The error is at the offset in `raw` of the offending `<` or `&`.
fn check_value(raw: &str) -> Result<(), (usize, String)> {
    // Most values have neither: `contains` of one character skips them a word at a time.
    if !raw.contains('<') && !raw.contains('&') {
        return Ok(());
    }
    for (at, b) in raw.bytes().enumerate() {
        if b == b'<' {
            return Err((at, "`<` inside an attribute value (write it as `&lt;`)".into()));
        }
        if b != b'&' {
            continue;
        }
        // A reference ends at the first `;`; any `&` or `<` before it makes it invalid, so checking
        // each `&` from left to right never passes over an unchecked one.
        let name = raw.get(at + 1..).and_then(|rest| rest.split_once(';')).map(|(name, _)| name);
        let Some(name) = name else {
            return Err((at, "`&` without a `;` in an attribute value (write a lone `&` as `&amp;`)".into()));
        };
        resolve_ref(name).map_err(|m| (at, m))?;
    }
    Ok(())
}

/// Checks the attributes of a start tag or XML declaration whose content (after `<` or `<?`) is at
/// offset `at` in the document, then gives each to `f` with the offsets of its name and raw value.
/// quick-xml checks quotes, `=` and duplicates; the rest it leaves to us.
fn attributes(
    tag: &BytesStart<'_>,
    at: usize,
    mut f: impl FnMut(Attribute<'_>, usize, usize) -> Result<(), (usize, String)>,
) -> Result<(), (usize, String)> {
    let content: &str = tag;
    // The offset in `content` where the previous attribute (or the name) ends.
    let mut end = tag.name().as_ref().len();
    for a in tag.attributes().with_checks(true) {
        let a = a.map_err(|e| attr_error(content, at, e))?;
        let key: &str = a.key.as_ref();
        let key_at = offset_in(content, key);
        if key_at == end {
            return Err((
                at + key_at,
                format!("attribute `{}` must be separated from what precedes it by white space", clip(key)),
            ));
        }
        check_name(key, "attribute name").map_err(|(i, m)| (at + key_at + i, m))?;
        let value_at = offset_in(content, &a.value);
        check_value(&a.value).map_err(|(i, m)| (at + value_at + i, m))?;
        // Past the closing quote.
        end = value_at + a.value.len() + 1;
        f(a, at + key_at, at + value_at)?;
    }
    Ok(())
}

/// Where `part`, a slice of `whole`, starts in it. (The reader and the attribute iterator hand out
/// slices of their input, never copies.)
fn offset_in(whole: &str, part: &str) -> usize {
    (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize).min(whole.len())
}

/// quick-xml's attribute errors count from the tag's content, which is at offset `at`.
fn attr_error(content: &str, at: usize, e: AttrError) -> (usize, String) {
    match e {
        AttrError::ExpectedEq(i) => {
            // `i` is past what quick-xml took for a name and the white space after it: point at
            // that name instead, and say what is wrong with it.
            let before = content.get(..i).unwrap_or_default().trim_end_matches(|c: char| c.is_ascii_whitespace());
            let key_at = before.rfind(|c: char| c.is_ascii_whitespace() || "'\"=".contains(c)).map_or(0, |s| s + 1);
            let key = before.get(key_at..).unwrap_or_default();
            match check_name(key, "attribute name") {
                Err((j, m)) => (at + key_at + j, m),
                Ok(()) => {
                    (at + key_at, format!("attribute `{}` must be followed by `=` and a quoted value", clip(key)))
                }
            }
        }
        AttrError::ExpectedValue(i) => (at + i, "`=` must be followed by a quoted value".into()),
        AttrError::UnquotedValue(i) => (at + i, "an attribute value must be in quotes".into()),
        AttrError::ExpectedQuote(i, quote) => {
            (at + i, format!("attribute value not closed: `{}` not found", char::from(quote)))
        }
        AttrError::Duplicated(i, _) => {
            let rest = content.get(i..).unwrap_or_default();
            let name = rest.split(|c: char| c == '=' || c.is_ascii_whitespace()).next().unwrap_or_default();
            (at + i, format!("attribute `{}` appears twice in the same element", clip(name)))
        }
    }
}

/// The XML declaration (`<?xml version="1.0"?>`): only at the very start of the document, with
/// `version`, then optionally `encoding` and `standalone`, in that order.
fn check_decl(decl: &BytesDecl<'_>, start: usize, first: bool) -> Result<(), (usize, String)> {
    if !first {
        return Err((start, "the XML declaration `<?xml ...?>` is only allowed at the very start of the file".into()));
    }
    let order = ["version", "encoding", "standalone"];
    let mut next = 0;
    attributes(&BytesStart::from_content(&**decl, 3), start + 2, |a, key_at, value_at| {
        let key: &str = a.key.as_ref();
        let value = &*a.value;
        let Some(i) = order.iter().position(|k| *k == key).filter(|&i| i >= next && (next > 0 || i == 0)) else {
            return Err((
                key_at,
                format!(
                    "`{}` in the XML declaration: it has `version`, then optionally `encoding` and `standalone`, in that order",
                    clip(key)
                ),
            ));
        };
        next = i + 1;
        let valid = match key {
            "version" => {
                value.strip_prefix("1.").is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            }
            "encoding" => value.split_at_checked(1).is_some_and(|(first, rest)| {
                first.bytes().all(|b| b.is_ascii_alphabetic())
                    && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            }),
            _ => value == "yes" || value == "no",
        };
        if valid {
            Ok(())
        } else {
            Err((value_at, format!("`{key}=\"{}\"` in the XML declaration is not valid", clip(value))))
        }
    })?;
    if next == 0 {
        return Err((start + 2, "the XML declaration must have a `version`, as in `<?xml version=\"1.0\"?>`".into()));
    }
    Ok(())
}

/// A processing instruction's target: a name, and not `xml` in any case (reserved by XML).
fn check_pi_target(target: &str) -> Result<(), (usize, String)> {
    check_name(target, "processing instruction target")?;
    if target.eq_ignore_ascii_case("xml") {
        return Err((
            0,
            format!(
                "`<?{target}` is reserved: the XML declaration is `<?xml` in lower case, at the very start of the file"
            ),
        ));
    }
    Ok(())
}

/// Leaves out the text of an element with children when it is nothing but white space
/// (`XmlElement::text`).
fn without_indentation(el: &mut XmlElement) {
    if !el.children.is_empty() && el.text.bytes().all(is_space) {
        el.text = String::new();
    }
}

fn close(stack: &mut [XmlElement], root: &mut Option<XmlElement>, mut el: XmlElement) {
    without_indentation(&mut el);
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

/// The element of a start tag at offset `start` (its `<`) in the document.
fn element(e: &BytesStart<'_>, start: usize) -> Result<XmlElement, (usize, String)> {
    let name = e.name();
    let name: &str = name.as_ref();
    check_name(name, "element name").map_err(|(i, m)| (start + 1 + i, m))?;
    let mut attr_text = String::new();
    let mut attr_spans = Vec::new();
    attributes(e, start + 1, |a, _, value_at| {
        attr_text.push_str(a.key.as_ref());
        let name_end = attr_text.len() as u32;
        let value = a.normalized_value(XmlVersion::Implicit1_0).map_err(|e| (value_at, e.to_string()))?;
        attr_text.push_str(&value);
        attr_spans.push(AttrSpan {
            name_end,
            value_end: attr_text.len() as u32,
            raw: value_at..value_at + a.value.len(),
        });
        Ok(())
    })?;
    Ok(XmlElement {
        name: name.into(),
        attr_text,
        attr_spans,
        children: Vec::new(),
        text: String::new(),
        offset: start,
    })
}

mod fast;

#[cfg(test)]
mod tests;
