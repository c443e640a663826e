//! The built-in templates, written directly: byte for byte what `templates/config-instance.xml`
//! and its partials render, without the template engine (a fleet's review spent a third of its
//! time there). A test renders both ways and compares the bytes.

use super::Sensitive;
use crate::env::Element;
use crate::support::xml;

/// Exactly what the built-in templates render (`templates/config-instance.xml` and its partials);
/// a test renders both ways and compares the bytes.
pub(super) fn write_builtin(
    environment: &str,
    instance: &str,
    container: &str,
    root: &str,
    tree: &Element,
    sensitive: &mut Sensitive,
) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<?xml version='1.0'?>\n<!-- Managed by nlconf (environment ");
    xml::escape_into(environment, &mut out);
    out.push_str(", instance ");
    xml::escape_into(instance, &mut out);
    out.push_str(", container ");
    xml::escape_into(container, &mut out);
    out.push_str(").\n     Do not edit here: change the configuration repository and apply. -->\n<");
    xml::escape_into(root, &mut out);
    out.push_str(">\n");
    for child in &tree.children {
        write_element(child, 1, &mut out, sensitive);
    }
    out.push_str("</");
    xml::escape_into(root, &mut out);
    out.push_str(">\n");
    out
}

/// One element and its children as `templates/partials/element.xml` writes them (see `flatten`).
fn write_element(el: &Element, depth: usize, out: &mut String, sensitive: &mut Sensitive) {
    let indent = |out: &mut String| (0..depth).for_each(|_| out.push_str("  "));
    indent(out);
    out.push('<');
    push_name(el.name, out);
    for a in &el.attrs {
        out.push(' ');
        push_name(&a.name, out);
        out.push_str("=\"");
        sensitive.write(&a.value, out);
        out.push('"');
    }
    match &el.text {
        Some(t) => {
            out.push('>');
            sensitive.write(t, out);
            out.push_str("</");
            push_name(el.name, out);
            out.push_str(">\n");
        }
        None if el.children.is_empty() => out.push_str("/>\n"),
        None => {
            out.push_str(">\n");
            for c in &el.children {
                write_element(c, depth + 1, out, sensitive);
            }
            indent(out);
            out.push_str("</");
            push_name(el.name, out);
            out.push_str(">\n");
        }
    }
}

/// An element or attribute name, as it is: the schema's, one a parser read, or a `rawAttributes` key
/// checked to be an XML name, none of which holds a character to escape (a file has hundreds of
/// names, and escaping was a call and a scan for each).
fn push_name(name: &str, out: &mut String) {
    debug_assert_eq!(xml::escape(name), name, "a name needs no escaping");
    out.push_str(name);
}
