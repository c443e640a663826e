//! The canonical form of a config file: what ACC reads, without formatting. Attribute order, quote
//! style, whitespace between elements, `<a/>` versus `<a></a>`, character references, the order of
//! differently named siblings, the case of the root element's name, and `1`/`0` versus `true`/`false`
//! in Boolean attributes do not matter; the order of repeated elements and every value do.

use super::mask::Markers;
use crate::schema::{AttrType, ElementDef, Schema};
use crate::support::xml::{XmlElement, escape_into};

pub fn canonical(root: &XmlElement) -> String {
    canonical_masked(root, &Markers::new())
}

/// The canonical form of the tree whose attribute values starting at the bytes `markers` names are
/// those markers (`mask::Masked`): the masked text's, without parsing it again.
pub fn canonical_masked(root: &XmlElement, markers: &Markers) -> String {
    let mut out = String::with_capacity(8 * 1024);
    let schema = Schema::get();
    let def =
        if root.name.eq_ignore_ascii_case("serverconf") { Some(schema.root()) } else { schema.element(&root.name) };
    write(schema, def, root, 0, true, markers, &mut out);
    out
}

fn write(
    schema: &'static Schema,
    def: Option<&'static ElementDef>,
    el: &XmlElement,
    depth: usize,
    is_root: bool,
    markers: &Markers,
    out: &mut String,
) {
    // (Written straight into `out`: a file has hundreds of elements and attributes.)
    let indent = |out: &mut String| (0..depth).for_each(|_| out.push_str("  "));
    let lower = is_root.then(|| el.name.to_ascii_lowercase());
    let name = lower.as_deref().unwrap_or(&el.name);
    indent(out);
    out.push('<');
    out.push_str(name);
    let mut attrs: Vec<(&str, &str)> = el
        .attrs()
        .zip(el.value_ranges())
        .map(|((k, v), raw)| (k, markers.get(&raw.start).map_or(v, String::as_str)))
        .map(|(k, v)| {
            let boolean = def.and_then(|d| d.attr(k)).is_some_and(|a| a.ty == AttrType::Boolean);
            let v = match (boolean, v) {
                (true, "1") => "true",
                (true, "0") => "false",
                _ => v,
            };
            (k, v)
        })
        .collect();
    attrs.sort();
    for (k, v) in attrs {
        out.push(' ');
        out.push_str(k);
        out.push_str("=\"");
        escape_into(v, out);
        out.push('"');
    }
    let text = el.text.trim();
    if el.children.is_empty() && text.is_empty() {
        out.push_str("/>\n");
        return;
    }
    out.push_str(">\n");
    if !text.is_empty() {
        indent(out);
        out.push_str("  ");
        escape_into(text, out);
        out.push('\n');
    }
    // ACC looks elements up by name: the order of differently named siblings does not matter, the
    // order of repeated ones (relay urls, ...) does. A stable sort by name keeps exactly that.
    let mut children: Vec<&XmlElement> = el.children.iter().collect();
    children.sort_by(|a, b| a.name.cmp(&b.name));
    for c in children {
        let cdef = def.and_then(|d| schema.child(d, &c.name));
        write(schema, cdef, c, depth + 1, false, markers, out);
    }
    indent(out);
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

#[cfg(test)]
mod tests;
