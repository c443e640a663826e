//! The canonical form of a config file: what ACC reads, without formatting. Attribute order, quote
//! style, whitespace between elements, `<a/>` versus `<a></a>`, character references and the case of
//! the root element's name do not matter; element order and every value do.

use crate::xml::{XmlElement, escape};

pub fn canonical(root: &XmlElement) -> String {
    let mut out = String::new();
    write(root, 0, true, &mut out);
    out
}

fn write(el: &XmlElement, depth: usize, is_root: bool, out: &mut String) {
    let indent = "  ".repeat(depth);
    let name = if is_root { el.name.to_ascii_lowercase() } else { el.name.clone() };
    out.push_str(&indent);
    out.push('<');
    out.push_str(&name);
    let mut attrs: Vec<&(String, String)> = el.attrs.iter().collect();
    attrs.sort();
    for (k, v) in attrs {
        out.push(' ');
        out.push_str(k);
        out.push_str("=\"");
        out.push_str(&escape(v));
        out.push('"');
    }
    let text = el.text.trim();
    if el.children.is_empty() && text.is_empty() {
        out.push_str("/>\n");
        return;
    }
    out.push_str(">\n");
    if !text.is_empty() {
        out.push_str(&indent);
        out.push_str("  ");
        out.push_str(&escape(text));
        out.push('\n');
    }
    // ACC looks elements up by name: the order of differently named siblings does not matter, the
    // order of repeated ones (relay urls, ...) does. A stable sort by name keeps exactly that.
    let mut children: Vec<&XmlElement> = el.children.iter().collect();
    children.sort_by(|a, b| a.name.cmp(&b.name));
    for c in children {
        write(c, depth + 1, false, out);
    }
    out.push_str(&indent);
    out.push_str("</");
    out.push_str(&name);
    out.push_str(">\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse;

    #[test]
    fn formatting_does_not_matter() {
        let a = parse("<?xml version='1.0'?>\n<serverconf>\n  <mta autoStart=\"true\" args='x'/>\n</serverconf>\n")
            .unwrap();
        let b = parse("<serverConf><mta args=\"&#120;\"\n autoStart=\"true\"></mta></serverConf>").unwrap();
        assert_eq!(canonical(&a), canonical(&b));
        let c = parse("<serverconf><mta args=\"y\" autoStart=\"true\"/></serverconf>").unwrap();
        assert_ne!(canonical(&a), canonical(&c));
        let d = parse("<serverconf><wfserver/><mta/><url a='1'/><url a='2'/></serverconf>").unwrap();
        let e = parse("<serverconf><mta/><url a='1'/><wfserver/><url a='2'/></serverconf>").unwrap();
        let f = parse("<serverconf><mta/><url a='2'/><wfserver/><url a='1'/></serverconf>").unwrap();
        assert_eq!(canonical(&d), canonical(&e));
        assert_ne!(canonical(&d), canonical(&f));
    }
}
