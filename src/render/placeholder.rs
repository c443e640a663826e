//! Placeholders: how rendered content names the values templates must not see (the YAML's secrets,
//! and nlserver's encrypted values kept from the deployed file), and the last step that replaces
//! them, masked for every output or revealed for the bytes written to the target.

use crate::env::serverconf::MARK;
use crate::secrets::{SecretId, SecretValue};
use crate::support::xml;

use super::RenderedFile;

/// Shown in place of a secret in every output but the deployed file.
pub const MASK: &str = "(sensitive)";

/// What a placeholder in rendered content stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    Secret(SecretId),
    Kept(usize),
}

impl Placeholder {
    pub fn text(self) -> String {
        match self {
            Placeholder::Secret(i) => format!("{MARK}secret:{i}@@"),
            Placeholder::Kept(i) => format!("{MARK}kept:{i}@@"),
        }
    }

    fn parse(s: &str) -> Option<Placeholder> {
        if let Some(n) = s.strip_prefix("secret:") {
            return n.parse().ok().map(|i: usize| Placeholder::Secret(SecretId::new(i)));
        }
        s.strip_prefix("kept:").and_then(|n| n.parse().ok()).map(Placeholder::Kept)
    }
}

/// The content with every secret shown as `(sensitive)`.
pub fn mask(content: &str) -> String {
    substitute(content, |_| MASK.to_string())
}

/// Replaces every placeholder with `f(placeholder)`; `f` returns text already escaped for XML.
pub fn substitute(content: &str, mut f: impl FnMut(Placeholder) -> String) -> String {
    let mut out = String::with_capacity(content.len());
    substitute_into(content, &mut out, |p, out| out.push_str(&f(p)));
    out
}

/// `substitute` appending to `out`, where `f` writes each value itself: a plaintext written
/// straight into a buffer that wipes itself leaves no copy behind.
pub fn substitute_into(content: &str, out: &mut String, mut f: impl FnMut(Placeholder, &mut String)) {
    for piece in pieces(content) {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Value(p) => f(p, out),
        }
    }
}

/// A part of rendered content: text as it stands, or a placeholder.
enum Piece<'a> {
    Text(&'a str),
    Value(Placeholder),
}

/// Rendered content in order: its text, and its placeholders (a `MARK` that starts none is text).
fn pieces(content: &str) -> impl Iterator<Item = Piece<'_>> {
    let finder = memchr::memmem::Finder::new(MARK);
    let mut rest = Some(content);
    let mut next: Option<Piece> = None;
    std::iter::from_fn(move || {
        if let Some(p) = next.take() {
            return Some(p);
        }
        let text = rest?;
        let Some(start) = finder.find(text.as_bytes()) else {
            rest = None;
            return Some(Piece::Text(text));
        };
        let after = &text[start + MARK.len()..];
        match after.find("@@").and_then(|end| Placeholder::parse(&after[..end]).map(|p| (p, end))) {
            Some((p, end)) => {
                next = Some(Piece::Value(p));
                rest = Some(&after[end + 2..]);
            }
            None => {
                next = Some(Piece::Text(MARK));
                rest = Some(after);
            }
        }
        Some(Piece::Text(&text[..start]))
    })
}

/// Writes the value placeholder `p` of `f` stands for, escaped (`missing` for a secret without one).
fn write_value<'a>(
    f: &RenderedFile,
    secret: &impl Fn(SecretId) -> Option<&'a SecretValue>,
    missing: &str,
    p: Placeholder,
    out: &mut String,
) {
    match p {
        Placeholder::Secret(i) => match secret(i) {
            Some(v) => xml::escape_into(v.expose(), out),
            None => out.push_str(missing),
        },
        Placeholder::Kept(k) => f.kept.get(k).iter().for_each(|v| xml::escape_into(v, out)),
    }
}

/// The file as it is deployed: each placeholder replaced by its value, escaped, written straight
/// into a buffer sized for the worst case up front (so that growing leaves no copy behind) that wipes
/// itself when dropped. A secret without a value is written as `missing`.
pub fn reveal<'a>(
    f: &RenderedFile,
    secret: impl Fn(SecretId) -> Option<&'a SecretValue>,
    missing: &str,
) -> zeroize::Zeroizing<String> {
    // Escaping makes a character at most 6 bytes long (`&quot;`).
    let values: usize = f.secrets.iter().filter_map(|&i| secret(i)).map(|v| v.expose().len()).sum::<usize>()
        + f.kept.iter().map(String::len).sum::<usize>();
    let mut out = zeroize::Zeroizing::new(String::with_capacity(f.content.len() + 6 * values + 64 * f.secrets.len()));
    substitute_into(&f.content, &mut out, |p, out| write_value(f, &secret, missing, p, out));
    out
}

/// Whether `deployed` is exactly what `reveal` would write (`missing` for a secret without a value):
/// compared piece by piece, without writing the file (a review compares every file of a fleet, and
/// most are unchanged). Each value is escaped into a small buffer that wipes itself.
pub fn reveals_as<'a>(
    f: &RenderedFile,
    secret: impl Fn(SecretId) -> Option<&'a SecretValue>,
    missing: &str,
    deployed: &str,
) -> bool {
    // Sized for the longest value escaped (at most 6 bytes a character), so that it never grows: a
    // buffer that grew would leave a copy of a secret behind.
    let longest =
        f.secrets.iter().filter_map(|&i| secret(i)).map(|v| v.expose().len()).chain(f.kept.iter().map(String::len));
    let mut value = zeroize::Zeroizing::new(String::with_capacity(6 * longest.max().unwrap_or(0) + missing.len()));
    let mut old = deployed;
    for piece in pieces(&f.content) {
        let piece = match piece {
            Piece::Text(t) => t,
            Piece::Value(p) => {
                value.clear();
                write_value(f, &secret, missing, p, &mut value);
                value.as_str()
            }
        };
        match old.strip_prefix(piece) {
            Some(r) => old = r,
            None => return false,
        }
    }
    old.is_empty()
}

/// The placeholder `s` consists of, if it is exactly one.
pub fn substitute_one(s: &str) -> Option<Placeholder> {
    s.strip_prefix(MARK)?.strip_suffix("@@").and_then(Placeholder::parse)
}
