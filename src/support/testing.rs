//! What the unit tests of `support` share.

use super::yaml::{Kind, Node};

/// A small deterministic generator (xorshift64) for tests that walk over edits of documents.
pub fn edits(seed: u64) -> impl FnMut(usize) -> usize {
    let mut seed = seed;
    move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    }
}

/// One random edit of `doc`: `noise` inserted, or a span of up to `span` bytes replaced by it or
/// deleted, at a place `next` picks (on a character boundary).
pub fn edit(doc: &mut String, noise: &[&str], span: usize, next: &mut impl FnMut(usize) -> usize) {
    let boundary = |d: &String, mut at: usize| {
        while !d.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    let at = boundary(doc, next(doc.len() + 1));
    let piece = noise[next(noise.len())];
    let end = boundary(doc, (at + next(span + 1)).min(doc.len()));
    match next(3) {
        0 => doc.insert_str(at, piece),
        1 => doc.replace_range(at..end, piece),
        _ => doc.replace_range(at..end, ""),
    }
}

/// Every node of a YAML tree with its path, tag, position and text, in order: two trees compared
/// line by line show where they first differ.
pub fn flat(n: &Node, path: &str, out: &mut Vec<String>) {
    out.push(format!("{path} {:?} {:?}", n.tag, n.pos));
    match &n.kind {
        Kind::Map(entries) => {
            for e in entries {
                out.push(format!("{path}.{} key at {:?}", e.key, e.key_pos));
                flat(&e.value, &format!("{path}.{}", e.key), out);
            }
        }
        Kind::Seq(items) => items.iter().enumerate().for_each(|(i, c)| flat(c, &format!("{path}[{i}]"), out)),
        Kind::Scalar(s, style) => out.push(format!("{path} = {s:?} {style:?}")),
        Kind::Null => out.push(format!("{path} = null")),
    }
}
