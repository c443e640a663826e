//! The common case of `parse`, fast: the documents nlconf writes and ACC keeps, read byte by byte
//! without the general parser's machinery. It gives exactly the tree `parse` would, or `None` for
//! anything outside the plain subset it knows, which `parse` then reads the general way (and
//! reports any error from there): a review reads every deployed file of a fleet, and most of them
//! are nlconf's own output.
//!
//! The subset: no byte order mark, no carriage return; at most the XML declarations
//! `<?xml version='1.0'?>` (either quotes, with `encoding='UTF-8'` or `standalone` after), at the
//! very start; comments without `--`; elements and attributes with ASCII names; attribute values
//! without literal tabs or line breaks; references to the five predefined entities and to
//! characters. No DOCTYPE, CDATA section or processing instruction. Within it, every
//! well-formedness check of `parse` is made, so whatever it accepts `parse` accepts, with the same
//! tree (a test compares them).

use super::{AttrSpan, MAX_DEPTH, XmlElement, first_forbidden_char, is_space, resolve_ref};

/// The tree of `text`, or `None` when it is not in the subset (or not well-formed).
pub(super) fn parse(text: &str) -> Option<XmlElement> {
    let b = text.as_bytes();
    if text.starts_with('\u{feff}') || memchr::memchr(b'\r', b).is_some() || first_forbidden_char(text).is_some() {
        return None;
    }
    let mut i = declaration(b)?;
    let mut stack: Vec<Open> = Vec::new();
    let mut closed: Vec<XmlElement> = Vec::new();
    let mut root: Option<XmlElement> = None;
    loop {
        // Text up to the next markup.
        let next = memchr::memchr(b'<', &b[i..]).map_or(b.len(), |p| i + p);
        if next > i {
            let run = &text[i..next];
            // Character data may not hold `]]>` (looking for `>` first skips most runs faster).
            if memchr::memchr(b'>', run.as_bytes()).is_some() && run.contains("]]>") {
                return None;
            }
            match stack.last_mut() {
                Some(open) => open.text(text, i..next, closed.len())?,
                None if run.bytes().all(is_space) => {}
                None => return None,
            }
        }
        if next == b.len() {
            break;
        }
        i = next;
        match b.get(i + 1)? {
            b'!' => {
                // Only comments: `<!--`, no `--` inside, `-->`.
                let body = text.get(i + 4..)?;
                if !text[i..].starts_with("<!--") {
                    return None;
                }
                let end = body.find("--")?;
                if !body[end..].starts_with("-->") {
                    return None;
                }
                i += 4 + end + 3;
            }
            b'/' => {
                let (name, after) = tag_name(text, i + 2)?;
                let after = skip_space(b, after);
                if b.get(after) != Some(&b'>') {
                    return None;
                }
                let open = stack.pop()?;
                if open.el.name != name {
                    return None;
                }
                let el = open.close(text, &mut closed)?;
                close(&stack, &mut closed, &mut root, el);
                i = after + 1;
            }
            _ => {
                if root.is_some() && stack.is_empty() || stack.len() == MAX_DEPTH {
                    return None;
                }
                let (el, after, empty) = start_tag(text, i)?;
                if empty {
                    close(&stack, &mut closed, &mut root, el);
                } else {
                    stack.push(Open { el, first_child: closed.len(), blank: None, blanks: 0 });
                }
                i = after;
            }
        }
    }
    if !stack.is_empty() {
        return None;
    }
    root
}

/// An element being read.
struct Open {
    el: XmlElement,
    /// Where its children start in `closed`: the elements closed and not yet given to their parent,
    /// which takes them in one allocation of the right size.
    first_child: usize,
    /// The first run of white space read before any other text, not copied (most are the
    /// indentation around child elements, which `XmlElement::text` leaves out), and how many runs.
    blank: Option<std::ops::Range<usize>>,
    blanks: u32,
}

impl Open {
    /// The run of character data at `run` in the document; `children` is where `closed` ends.
    /// `None` for what the general parser reads instead (text after two runs of white space that
    /// were not copied, around child elements).
    fn text(&mut self, doc: &str, run: std::ops::Range<usize>, children: usize) -> Option<()> {
        let raw = &doc[run.clone()];
        if self.el.text.is_empty() && raw.bytes().all(is_space) {
            if self.blanks > 0 && children == self.first_child {
                // A second run before any child (a comment between): copied, as the element may
                // stay without children, and its text is then all of it.
                self.el.text.push_str(&doc[self.blank.take()?]);
                self.el.text.push_str(raw);
                self.blanks = 0;
                return Some(());
            }
            self.blank.get_or_insert(run);
            self.blanks += 1;
            return Some(());
        }
        if self.el.text.is_empty() && self.blanks > 0 {
            // Text after white space that was not copied: the white space is part of it.
            if self.blanks > 1 {
                return None;
            }
            self.el.text.push_str(&doc[self.blank.clone()?]);
        }
        push_text(&mut self.el.text, raw)
    }

    /// The element, closed: its children taken from `closed`, its text as `XmlElement::text` says.
    fn close(self, doc: &str, closed: &mut Vec<XmlElement>) -> Option<XmlElement> {
        let Open { mut el, first_child, blank, blanks } = self;
        el.children = closed.drain(first_child..).collect();
        if el.children.is_empty() && el.text.is_empty() && blanks > 0 {
            el.text.push_str(&doc[blank?]);
        }
        super::without_indentation(&mut el);
        Some(el)
    }
}

/// The length of the XML declaration at the start (0 without one), in the forms the subset knows;
/// `None` for any other.
fn declaration(b: &[u8]) -> Option<usize> {
    if !b.starts_with(b"<?") {
        return Some(0);
    }
    for q in ["'", "\""] {
        let version = format!("<?xml version={q}1.0{q}");
        let Some(mut rest) = b.strip_prefix(version.as_bytes()) else { continue };
        let mut n = version.len();
        for extra in
            [format!(" encoding={q}UTF-8{q}"), format!(" standalone={q}yes{q}"), format!(" standalone={q}no{q}")]
        {
            if let Some(r) = rest.strip_prefix(extra.as_bytes()) {
                n += extra.len();
                rest = r;
            }
        }
        return rest.starts_with(b"?>").then_some(n + 2);
    }
    None
}

/// An ASCII XML name starting at byte `at`, and where it ends.
fn name(text: &str, at: usize) -> Option<(&str, usize)> {
    let b = text.as_bytes();
    let first = *b.get(at)?;
    if !(first.is_ascii_alphabetic() || first == b'_' || first == b':') {
        return None;
    }
    let len = b[at..].iter().position(|&c| !NAME_CHAR[usize::from(c)])?;
    // ASCII: the slice is on character boundaries.
    Some((text.get(at..at + len)?, at + len))
}

/// An element's name: what follows it must end it (`parse` says what is wrong otherwise).
fn tag_name(text: &str, at: usize) -> Option<(&str, usize)> {
    let (n, end) = name(text, at)?;
    matches!(text.as_bytes().get(end), Some(b' ' | b'\t' | b'\n' | b'/' | b'>')).then_some((n, end))
}

fn skip_space(b: &[u8], mut at: usize) -> usize {
    while b.get(at).is_some_and(|&c| matches!(c, b' ' | b'\t' | b'\n')) {
        at += 1;
    }
    at
}

/// The start tag at `start` (its `<`): the element, where the tag ends, and whether it is empty.
fn start_tag(text: &str, start: usize) -> Option<(XmlElement, usize, bool)> {
    let b = text.as_bytes();
    let (name, mut i) = tag_name(text, start + 1)?;
    // The text sized from the tag (up to its first `>`, which may be in a value): one allocation.
    // The spans grow (most elements have at most four attributes, which the first allocation holds):
    // counting them first was a call to memchr per tag.
    let tag = memchr::memchr(b'>', &b[i..]).map_or(&b[i..], |e| &b[i..i + e]);
    let mut attr_text = String::with_capacity(tag.len());
    let mut attr_spans: Vec<AttrSpan> = Vec::new();
    loop {
        let after = skip_space(b, i);
        match b.get(after)? {
            b'>' => {
                let el = element(name, attr_text, attr_spans, start);
                return Some((el, after + 1, false));
            }
            b'/' => {
                if b.get(after + 1) != Some(&b'>') {
                    return None;
                }
                let el = element(name, attr_text, attr_spans, start);
                return Some((el, after + 2, true));
            }
            _ if after == i => return None, // no white space before the attribute
            _ => {}
        }
        let (key, eq) = self::name(text, after)?;
        // Names are ASCII here: checked as `parse` checks them.
        if b.get(eq) != Some(&b'=') {
            return None;
        }
        let quote = *b.get(eq + 1)?;
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        let value_at = eq + 2;
        // The closing quote, then whether the value holds a reference to resolve (`&`) or a byte
        // outside the subset (`<` is an error; the general parser normalises tab and line feed to
        // spaces; carriage returns are not in the document at all): one pass without an early exit,
        // which the compiler vectorises (most values hold neither).
        let len = memchr::memchr(quote, b.get(value_at..)?)?;
        let value = &b[value_at..value_at + len];
        let plain = !value.iter().fold(false, |any, &c| any | matches!(c, b'&' | b'<' | b'\t' | b'\n'));
        if !plain && value.iter().any(|&c| matches!(c, b'<' | b'\t' | b'\n')) {
            return None;
        }
        let raw = &text[value_at..value_at + len];
        // Names are compared as `parse` stores them: one attribute of a name per element.
        let mut from = 0;
        for s in &attr_spans {
            if &attr_text[from..s.name_end as usize] == key {
                return None;
            }
            from = s.value_end as usize;
        }
        attr_text.push_str(key);
        let name_end = u32::try_from(attr_text.len()).ok()?;
        if plain {
            attr_text.push_str(raw);
        } else {
            push_text(&mut attr_text, raw)?;
        }
        let value_end = u32::try_from(attr_text.len()).ok()?;
        attr_spans.push(AttrSpan { name_end, value_end, raw: value_at..value_at + len });
        i = value_at + len + 1;
        // The next attribute must be separated by white space (checked at the top).
        if !matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'/' | b'>')) {
            return None;
        }
    }
}

/// The bytes of an ASCII name after its first: letters, digits, `_`, `:`, `-` and `.`.
static NAME_CHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'-' | b'.');
        c += 1;
    }
    t
};

fn element(name: &str, attr_text: String, attr_spans: Vec<AttrSpan>, offset: usize) -> XmlElement {
    XmlElement { name: name.into(), attr_text, attr_spans, children: Vec::new(), text: String::new(), offset }
}

/// Appends text or an attribute value with its references resolved; `None` for a reference that is
/// not one.
fn push_text(out: &mut String, raw: &str) -> Option<()> {
    if memchr::memchr(b'&', raw.as_bytes()).is_none() {
        out.push_str(raw);
        return Some(());
    }
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after.find(';')?;
        let name = &after[..semi];
        if name.contains(['&', '<']) {
            return None;
        }
        out.push(resolve_ref(name).ok()?);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Some(())
}

/// A closed element goes to its parent's children (in `closed` until the parent closes), or is the
/// root.
fn close(stack: &[Open], closed: &mut Vec<XmlElement>, root: &mut Option<XmlElement>, el: XmlElement) {
    if stack.is_empty() {
        *root = Some(el);
    } else {
        closed.push(el);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{escape, parse_general};
    use super::*;

    /// Documents of the subset and around it: what nlconf writes, ACC files, and the corners.
    fn corpus() -> Vec<String> {
        let mut docs: Vec<String> = [
            "<serverconf/>",
            "<?xml version='1.0'?>\n<!-- Managed by nlconf (environment prod, instance mkt, container web1).\n     Do not edit here. -->\n<serverconf>\n  <shared>\n    <dataStore hosts=\"a*,b*\" lang=\"en_US\">\n      <dataSource name=\"default\">\n        <dbcnx encrypted=\"1\" login=\"campaign:mkt\" password=\"@abc+/=\" provider=\"PostgreSQL\"/>\n      </dataSource>\n    </dataStore>\n  </shared>\n  <web>\n    <jsp>\n      <classpath>a:b &amp; c</classpath>\n    </jsp>\n  </web>\n</serverconf>\n",
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><serverconf/>",
            "<?xml version='1.0' encoding='UTF-8'?>\n<serverconf a='&lt;&gt;&amp;&apos;&quot;&#10;&#x9;&#xD;' b=\"x > y\" e=\"\"/>",
            "<serverconf>&#65;&#x1F600; a > b ]] c</serverconf>",
            "<serverconf>\n<!-- a - b -->\n<!---->\n</serverconf >\n<!-- after -->\n\t\n",
            "<ns:serverconf xmlns:ns='urn:x' ns:a-b.c_d='1'><x é='ü'>données</x></ns:serverconf>",
            "<serverconf>\u{85}\u{7f}\u{fffd}\u{10ffff}</serverconf>",
            "<a\tb='1'\nc=\"2\"  />",
            include_str!("../../../tests/integration/fixtures/import/adobe-enterprise.xml"),
            include_str!("../../../tests/integration/fixtures/import/multi/app2.xml"),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        docs.push(format!("<a v=\"{}\"/>", escape("a&b<c>d\"e'f\ng\th\r$(X)")));
        docs
    }

    /// Bytes and snippets that make a document leave the subset or stop being well-formed.
    const NOISE: &[&str] = &[
        "<",
        ">",
        "/",
        "&",
        ";",
        "\"",
        "'",
        "=",
        " ",
        "\n",
        "\r",
        "\t",
        "-",
        "--",
        "]]>",
        "<!--",
        "-->",
        "<?xml version='1.0'?>",
        "<![CDATA[x]]>",
        "<!DOCTYPE a>",
        "<?pi x?>",
        "&amp;",
        "&#0;",
        "&#x41;",
        "&bogus;",
        "\u{1}",
        "\u{feff}",
        "é",
        "<b/>",
        "</b>",
        "<b>",
        " x='1'",
        " x=\"1\"",
        "x",
        "1",
    ];

    /// The fast reading is the general one's tree, or no answer; never another tree, never a
    /// document the general reading refuses.
    #[track_caller]
    fn agrees(doc: &str) {
        if let Some(fast) = parse(doc) {
            match parse_general(doc) {
                Ok(general) => assert!(fast == general, "different trees for {doc:?}"),
                Err(e) => panic!("the fast reading accepts what the general one refuses ({e}): {doc:?}"),
            }
        }
    }

    #[test]
    fn the_subset_reads_as_the_general_parser_does() {
        for doc in corpus() {
            agrees(&doc);
            if !doc.contains('\r') && !doc.starts_with('\u{feff}') {
                assert!(parse(&doc).is_some() || !doc.contains("<serverconf"), "not in the subset: {doc:?}");
            }
        }
    }

    #[test]
    fn every_small_change_is_read_the_same_or_left_to_the_general_parser() {
        // A deterministic walk over edits: insert, replace or delete at every few bytes.
        let mut next = crate::support::testing::edits(0x9E37_79B9_7F4A_7C15);
        for doc in corpus() {
            for _ in 0..400 {
                let mut d = doc.clone();
                for _ in 0..1 + next(3) {
                    crate::support::testing::edit(&mut d, NOISE, 8, &mut next);
                }
                agrees(&d);
            }
        }
    }
}
