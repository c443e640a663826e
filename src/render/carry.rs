//! Attributes owned by nlserver are carried over from the deployed file into the rendered one, so
//! that applying a rendered file never erases credentials (DESIGN §5).
//!
//! Carried: every attribute in `schema::NLSERVER_OWNED` (the `shared/ims` credentials written by
//! `nlserver config -setims*`, `pipelined/@authPrivateKey`, `web/redirection/@trackingPassword`) and
//! every schema-sensitive attribute the YAML does not set (e.g. `dbcnx/@password` written by
//! `-setdblogin`, kept together with its `encrypted` flag), and any value that looks encrypted by
//! nlserver (`@` + base64). Missing elements are created on the way to a carried attribute (placed
//! where the deployed file has them), so that nothing is erased.

use std::borrow::Cow;
use std::sync::Arc;

use crate::env::{Attr, AttrValue, Element, Origin};
use crate::schema::{ElementDef, Schema, nlserver_owned};
use crate::support::xml::XmlElement;

pub fn carry_over(rendered: &mut Element, deployed: &XmlElement, origin: &Origin) {
    let schema = Schema::get();
    walk(schema, schema.root(), rendered, deployed, origin);
}

/// Whether a deployed attribute is carried over, and whether it is sensitive. A value that looks
/// encrypted by nlserver is carried (and masked) even on an attribute the schema does not know.
fn carried(def: &ElementDef, name: &str, value: &str) -> Option<bool> {
    let encrypted = crate::schema::looks_encrypted(value);
    // Most elements have no attribute to keep: only a value that looks encrypted is, with no lookup.
    if !encrypted && !def.keeps_attributes {
        return None;
    }
    let sensitive = def.attr(name).is_some_and(|a| a.sensitive) || encrypted;
    (nlserver_owned(&def.path, name).is_some() || sensitive).then_some(sensitive)
}

/// The element whose encrypted `password` only works with its `encrypted` flag beside it.
const DBCNX: &str = "shared/dataStore/dataSource/dbcnx";

/// Whether attribute `name` of deployed element `el` is kept from the deployed file rather than
/// written from YAML (what `import` leaves out of the YAML it writes): a carried value, or the
/// `encrypted` flag beside a carried dbcnx password.
pub(crate) fn kept_from_deployed(def: &ElementDef, el: &XmlElement, name: &str, value: &str) -> bool {
    carried(def, name, value).is_some()
        || (name == "encrypted"
            && def.path == DBCNX
            && el.attr("password").is_some_and(|p| carried(def, "password", p).is_some()))
}

fn walk(
    schema: &'static Schema,
    def: &'static ElementDef,
    rendered: &mut Element,
    deployed: &XmlElement,
    origin: &Origin,
) {
    let mut added = false;
    for (name, value) in deployed.attrs() {
        if rendered.attr(name).is_some() {
            continue;
        }
        if let Some(sensitive) = carried(def, name, value) {
            let value = if sensitive { AttrValue::Kept(value.to_string()) } else { AttrValue::Text(value.into()) };
            // The schema's spelling when it knows the attribute (no copy), else the deployed file's.
            let name = match def.attr(name) {
                Some(a) => Cow::Borrowed(a.name.as_str()),
                None => Cow::Owned(name.to_string()),
            };
            rendered.attrs.push(Attr { name, value, origin: origin.clone(), sensitive });
            added = true;
        }
    }
    // An encrypted DB password only works with its flag: keep `encrypted` with a kept `password`.
    if def.path == DBCNX
        && rendered.attrs.iter().any(|a| a.name == "password" && matches!(a.value, AttrValue::Kept(_)))
        && rendered.attr("encrypted").is_none()
        && let Some(flag) = deployed.attr("encrypted")
    {
        rendered.attrs.push(Attr {
            name: Cow::Borrowed("encrypted"),
            value: AttrValue::Text(flag.into()),
            origin: origin.clone(),
            sensitive: false,
        });
    }
    if added {
        crate::env::serverconf::sort_attrs(&mut rendered.attrs);
    }
    // A created element goes right after the rendered sibling that precedes it in the deployed file,
    // so that what nlserver wrote stays where it wrote it (and re-rendering changes no byte).
    // A deployed child with nothing to carry in it needs no walking, and its place among the
    // rendered children (a search, quadratic over long lists) only when an element is created after
    // it: `skipped` holds those since the last place known, latest last.
    let mut after: Option<usize> = None;
    let mut skipped: Vec<(&XmlElement, &'static ElementDef, usize)> = Vec::new();
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for dc in &deployed.children {
        let Some(cdef) = schema.child(def, &dc.name) else { continue };
        let nth = {
            let entry = seen.iter_mut().find(|(n, _)| *n == dc.name);
            match entry {
                Some((_, k)) => {
                    *k += 1;
                    *k
                }
                None => {
                    seen.push((&dc.name, 0));
                    0
                }
            }
        };
        if !has_carried(schema, cdef, dc) {
            skipped.push((dc, cdef, nth));
            continue;
        }
        match position(rendered, dc, cdef, nth) {
            Some(i) => {
                // The element may be the instance's, shared by its containers: copied to change it.
                walk(schema, cdef, Arc::make_mut(&mut rendered.children[i]), dc, origin);
                after = Some(i);
                skipped.clear();
            }
            None => {
                if let Some(i) = skipped.iter().rev().find_map(|(s, sdef, snth)| position(rendered, s, sdef, *snth)) {
                    after = Some(i);
                }
                skipped.clear();
                let mut el =
                    Element { name: &cdef.name, path: &cdef.path, attrs: vec![], children: vec![], text: None };
                if let (Some(key), Some(v)) = (&cdef.key, cdef.key.as_ref().and_then(|k| dc.attr(k))) {
                    el.attrs.push(Attr {
                        name: Cow::Borrowed(key.as_str()),
                        value: AttrValue::Text(v.into()),
                        origin: origin.clone(),
                        sensitive: false,
                    });
                }
                walk(schema, cdef, &mut el, dc, origin);
                let at = after.map_or(0, |i| i + 1);
                rendered.children.insert(at, Arc::new(el));
                after = Some(at);
            }
        }
    }
}

/// Where the rendered counterpart of deployed child `dc` (the `nth` of its name) is, if anywhere.
fn position(rendered: &Element, dc: &XmlElement, cdef: &ElementDef, nth: usize) -> Option<usize> {
    match (&cdef.key, cdef.repeatable) {
        (Some(key), true) => {
            let kv = dc.attr(key);
            rendered.children.iter().position(|c| {
                c.name == dc.name
                    && c.attr(key).is_some_and(|a| matches!(&a.value, AttrValue::Text(t) if Some(&**t) == kv))
            })
        }
        (None, true) => {
            rendered.children.iter().enumerate().filter(|(_, c)| c.name == dc.name).nth(nth).map(|(i, _)| i)
        }
        _ => rendered.children.iter().position(|c| c.name == dc.name),
    }
}

fn has_carried(schema: &'static Schema, def: &ElementDef, deployed: &XmlElement) -> bool {
    deployed.attrs().any(|(n, v)| carried(def, n, v).is_some())
        || deployed.children.iter().any(|c| schema.child(def, &c.name).is_some_and(|cd| has_carried(schema, cd, c)))
}
