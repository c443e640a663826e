//! `serverconf:` checked against the schema and turned into the element tree that is rendered.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use super::value::{Field, Kind, Origin, Value};
use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::schema::{AttrDef, AttrType, ElementDef, Schema, nlserver_owned};
use crate::secrets::SecretId;
use crate::support::yaml::Tag;

/// Starts every placeholder in rendered text: `@@nlconf:secret:N@@` (a secret of the environment)
/// or `@@nlconf:kept:N@@` (a value kept from the deployed file). A placeholder is replaced by a mask
/// for display and, at the very last step, by the real value.
pub const MARK: &str = "@@nlconf:";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrValue {
    /// Shared, not copied: each container's tree copies its instance's checked elements.
    Text(Arc<str>),
    /// Index into `Environment::secrets`.
    Secret(SecretId),
    /// A value nlserver wrote, carried over from the deployed file.
    Kept(String),
}

#[derive(Debug, Clone)]
pub struct Attr {
    /// The schema's name (borrowed), or one from `rawAttributes` or a deployed file.
    pub name: Cow<'static, str>,
    pub value: AttrValue,
    pub origin: Origin,
    /// Sensitive per the schema, or the value came from a secret.
    pub sensitive: bool,
}

#[derive(Debug, Clone)]
pub struct Element {
    /// Its schema definition's name and path (a fleet's review builds millions of elements).
    pub name: &'static str,
    pub path: &'static str,
    pub attrs: Vec<Attr>,
    /// Shared, not copied: each container's tree takes the subtrees of its instance's checked
    /// settings that it does not override as they are (`Arc::make_mut` copies one to change it).
    pub children: Vec<Arc<Element>>,
    pub text: Option<AttrValue>,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name).map(|c| &**c)
    }
}

struct Checker<'a> {
    diags: &'a mut Diagnostics,
    schema: &'static Schema,
    secrets: &'a HashMap<Origin, SecretId>,
    place: &'a Place<'a>,
    /// The `serverconf` being checked, to find a value's YAML path for a help.
    root: &'a Value,
}

/// Whose settings are checked, and the layers they were merged from: what a help needs to give the
/// YAML path a value was written at (`defaults.serverconf...`, `instances.<i>.serverconf...`,
/// `instances.<i>.containerOverrides.<c>.serverconf...`).
pub struct Place<'a> {
    pub env: &'a str,
    pub instance: &'a str,
    pub container: &'a str,
    /// The environment's `defaults:` block.
    pub defaults: Option<&'a Value>,
    /// The container's `containerOverrides` entry.
    pub overrides: Option<&'a Value>,
}

impl Place<'_> {
    /// The YAML path of the key written at `key` in `serverconf` (the container's merged settings),
    /// from the layer that wrote it. Only on the way to a help: it searches the trees.
    fn yaml_path(&self, serverconf: &Value, key: &Origin) -> Option<String> {
        let from = |layer: Option<&Value>| layer.and_then(|l| l.get("serverconf")).and_then(|v| path_to(v, key));
        let instance = super::quote_path_key(self.instance);
        let (prefix, rest) = if let Some(rest) = from(self.overrides) {
            let container = super::quote_path_key(self.container);
            (format!("instances.{instance}.containerOverrides.{container}"), rest)
        } else if let Some(rest) = from(self.defaults) {
            ("defaults".to_string(), rest)
        } else {
            (format!("instances.{instance}"), path_to(serverconf, key)?)
        };
        Some(format!("{prefix}.serverconf{rest}"))
    }
}

/// `.a.b[2].c`: the keys from `v` to the key written at `key`, if it is there.
fn path_to(v: &Value, key: &Origin) -> Option<String> {
    match &v.kind {
        Kind::Map(fields) => fields.iter().find_map(|f| {
            let here = format!(".{}", super::quote_path_key(&f.key));
            if f.key_origin == *key { Some(here) } else { path_to(&f.value, key).map(|rest| here + &rest) }
        }),
        Kind::Seq(items) => {
            items.iter().enumerate().find_map(|(i, item)| path_to(item, key).map(|r| format!("[{i}]{r}")))
        }
        _ => None,
    }
}

/// An instance's own `serverconf` checked once (`shared`), for its containers' checks to reuse:
/// the part of a container's settings that it does not override is the instance's, the very same
/// values (`Field::value` is shared, not copied), and checks into the very same elements. Only a
/// check that found nothing is shared; the rules that look at the whole tree (pipelined) run on
/// each container's.
pub struct Shared<'a> {
    value: &'a Value,
    tree: Element,
}

/// Checks an instance's own settings for `Shared`: `None` when the check finds anything (each
/// container's check then says it, at its place).
pub fn shared<'a>(v: Option<&'a Value>, secrets: &HashMap<Origin, SecretId>, place: &Place) -> Option<Shared<'a>> {
    let v = v?;
    if !matches!(v.kind, Kind::Map(_)) {
        return None;
    }
    let mut diags = Diagnostics::new();
    let schema = Schema::get();
    let tree = Checker { diags: &mut diags, schema, secrets, place, root: v }.element(schema.root(), v, None, None);
    diags.is_empty().then_some(Shared { value: v, tree })
}

/// Validates `serverconf` and builds the tree. Problems go to `diags`; the tree holds what was valid.
/// With `shared` (the instance's own settings, checked), what `v` shares with them is not checked
/// again but copied from their tree.
pub fn build(
    diags: &mut Diagnostics,
    v: Option<&Value>,
    fallback: &Origin,
    has_ims: bool,
    secrets: &HashMap<Origin, SecretId>,
    place: &Place,
    shared: Option<&Shared>,
) -> Element {
    let schema = Schema::get();
    let empty = Value::empty_map(fallback.clone());
    let v = v.unwrap_or(&empty);
    let mut c = Checker { diags, schema, secrets, place, root: v };
    let mut root = match v.kind {
        Kind::Map(_) => c.element(schema.root(), v, None, shared.map(|s| (s.value, &s.tree))),
        _ => {
            c.diags
                .error(v.origin.location(), format!("serverconf: expected a map of elements, found {}", v.kind_name()));
            Element { name: "serverconf", path: "", attrs: vec![], children: vec![], text: None }
        }
    };
    c.check_pipelined(&mut root, v, has_ims);
    root
}

/// The checked counterpart, in `base`'s settings and tree, of the element `def` that `field` of
/// `v` holds: the element when `base` holds the very same value (nothing to check again), or the
/// settings and element to go on comparing with below.
enum Base<'b> {
    None,
    Same(&'b Arc<Element>),
    Below(&'b Value, &'b Element),
}

impl Checker<'_> {
    /// `base`: the instance's settings at this element and their checked element (`Shared`).
    fn element(
        &mut self,
        def: &'static ElementDef,
        v: &Value,
        key: Option<(&str, &Field)>,
        base: Option<(&Value, &Element)>,
    ) -> Element {
        let mut el = Element { name: &def.name, path: &def.path, attrs: Vec::new(), children: Vec::new(), text: None };
        if let Some((key_value, field)) = key
            && let Some(key_attr) = &def.key
        {
            el.attrs.push(Attr {
                name: Cow::Borrowed(key_attr),
                value: AttrValue::Text(Arc::from(key_value)),
                origin: field.key_origin.clone(),
                sensitive: false,
            });
        }
        for f in v.fields() {
            if f.key == "rawAttributes" {
                self.raw_attributes(def, f, &mut el);
            } else if let Some(attr) = def.attr(&f.key) {
                if def.key.as_deref() == Some(f.key.as_str()) && key.is_some() {
                    self.key_repeated(def, f, key.map(|k| k.0).unwrap_or_default());
                    continue;
                }
                if let Some(a) = self.attribute(def, attr, f) {
                    el.attrs.push(a);
                }
            } else if let Some(child) = self.schema.child(def, &f.key) {
                let base = base.and_then(|(bv, be)| bv.field(&f.key).map(|bf| (bf, be)));
                match base {
                    // The instance's very value: its elements, checked once.
                    Some((bf, be)) if Arc::ptr_eq(&bf.value, &f.value) => {
                        el.children.extend(be.children.iter().filter(|c| c.path == child.path).cloned());
                    }
                    _ => self.child(child, f, &mut el, base.map(|(bf, be)| (&*bf.value, be))),
                }
            } else {
                self.unknown(def, f);
            }
        }
        sort_attrs(&mut el.attrs);
        // Children in schema order; repeated elements keep their YAML order (stable sort).
        el.children.sort_by_cached_key(|c| self.schema.element(c.path).map_or(usize::MAX, |d| d.order));
        el
    }

    fn key_repeated(&mut self, def: &ElementDef, f: &Field, key: &str) {
        if f.value.as_str() != Some(key) {
            self.diags.push(Diagnostic::at(
                f.key_origin.location(),
                format!("`{}` of <{}> is given by its map key `{key}`; remove this line", f.key, def.name),
            ));
        }
    }

    /// `base`: the instance's value of the same field, and the element that holds its checked
    /// elements (`Shared`).
    fn child(&mut self, def: &'static ElementDef, f: &Field, parent: &mut Element, base: Option<(&Value, &Element)>) {
        let v = &f.value;
        if def.text_content {
            match v.as_str() {
                Some(s) if v.tag != Tag::Age => {
                    parent.children.push(Arc::new(Element {
                        name: &def.name,
                        path: &def.path,
                        attrs: vec![],
                        children: vec![],
                        text: Some(AttrValue::Text(Arc::from(s))),
                    }));
                }
                _ => self.diags.error(
                    v.origin.location(),
                    format!("<{}> holds text: expected a scalar, found {}", def.name, v.kind_name()),
                ),
            }
            return;
        }
        match (&v.kind, def.repeatable, &def.key) {
            (Kind::Map(_), false, _) if v.tag == Tag::None => {
                let below =
                    base.and_then(|(bv, bp)| bp.children.iter().find(|c| c.path == def.path).map(|be| (bv, &**be)));
                parent.children.push(Arc::new(self.element(def, v, None, below)))
            }
            (Kind::Map(_), true, Some(key)) if v.tag == Tag::None => {
                for entry in v.fields() {
                    if entry.key.is_empty() {
                        self.diags.error(
                            entry.key_origin.location(),
                            format!("<{}>: the `{key}` (map key) must not be empty", def.name),
                        );
                        continue;
                    }
                    match &entry.value.kind {
                        Kind::Map(_) => {
                            let el = match keyed_base(base, def, key, entry) {
                                Base::Same(be) => Arc::clone(be),
                                Base::Below(bv, be) => {
                                    Arc::new(self.element(def, &entry.value, Some((&entry.key, entry)), Some((bv, be))))
                                }
                                Base::None => {
                                    Arc::new(self.element(def, &entry.value, Some((&entry.key, entry)), None))
                                }
                            };
                            parent.children.push(el);
                        }
                        _ => self.diags.push(
                            Diagnostic::at(
                                entry.value.origin.location(),
                                format!(
                                    "<{} {key}=\"{}\">: expected a map of attributes, found {}",
                                    def.name,
                                    entry.key,
                                    entry.value.kind_name()
                                ),
                            )
                            .with_help("write `{}` for an element without attributes"),
                        ),
                    }
                }
            }
            (Kind::Seq(items), true, None) => {
                for item in items {
                    match &item.kind {
                        Kind::Map(_) => parent.children.push(Arc::new(self.element(def, item, None, None))),
                        _ => self.diags.error(
                            item.origin.location(),
                            format!(
                                "<{}> list item: expected a map of attributes, found {}",
                                def.name,
                                item.kind_name()
                            ),
                        ),
                    }
                }
            }
            _ => {
                let expected = match (def.repeatable, &def.key) {
                    (false, _) => "a map of attributes and child elements".to_string(),
                    (true, Some(k)) => {
                        format!("a map keyed by `{k}` (one entry per <{}>)", def.name)
                    }
                    (true, None) => format!("a list (one item per <{}>, in order)", def.name),
                };
                self.diags.error(
                    v.origin.location(),
                    format!("<{}>: expected {expected}, found {}", def.name, v.kind_name()),
                );
            }
        }
    }

    fn unknown(&mut self, def: &ElementDef, f: &Field) {
        let names: Vec<&str> = def
            .attributes
            .iter()
            .map(|a| a.name.as_str())
            .chain(self.schema.child_names(def))
            .chain(["rawAttributes"])
            .collect();
        let place = if def.path.is_empty() { "serverconf".to_string() } else { format!("<{}>", def.name) };
        let what = if f.value.is_map() || matches!(f.value.kind, Kind::Seq(_)) { "element" } else { "attribute" };
        let mut d = Diagnostic::at(f.key_origin.location(), format!("unknown {what} `{}` in {place}", f.key));
        d = match did_you_mean(&f.key, names.iter().copied()) {
            Some(s) => d.with_help(format!("did you mean `{s}`? (ACC silently ignores names it does not know)")),
            None => {
                d.with_help("not in Adobe's serverconf reference; for an undocumented attribute use `rawAttributes:`")
            }
        };
        self.diags.push(d);
    }

    fn raw_attributes(&mut self, def: &ElementDef, f: &Field, el: &mut Element) {
        let Some(map) = super::expect_map(self.diags, &f.value, "rawAttributes") else {
            return;
        };
        for raw in map.fields() {
            if !is_xml_name(&raw.key) {
                self.diags.error(
                    raw.key_origin.location(),
                    format!("rawAttributes: `{}` is not a valid XML attribute name", raw.key),
                );
                continue;
            }
            if def.attr(&raw.key).is_some() {
                self.diags.push(
                    Diagnostic::warning(
                        Some(raw.key_origin.location()),
                        format!("rawAttributes: `{}` is a documented attribute of <{}>", raw.key, def.name),
                    )
                    .with_help("set it directly so that it is type-checked"),
                );
            }
            if el.attrs.iter().any(|a| a.name == raw.key) {
                self.diags
                    .error(raw.key_origin.location(), format!("rawAttributes: `{}` is also set directly", raw.key));
                continue;
            }
            if let Some(value) = self.scalar(&raw.value, &|| format!("rawAttributes.{}", raw.key)) {
                let sensitive = matches!(value, AttrValue::Secret(_));
                let name = Cow::Owned(raw.key.to_string());
                el.attrs.push(Attr { name, value, origin: raw.value.origin.clone(), sensitive });
            }
        }
    }

    fn attribute(&mut self, def: &ElementDef, attr: &'static AttrDef, f: &Field) -> Option<Attr> {
        let v = &f.value;
        let at = || v.origin.location();
        if let Some(why) = nlserver_owned(&def.path, &attr.name) {
            let help = if def.path == "shared/ims" {
                "describe the technical account in the instance's `ims:` block; nlconf runs the nlserver command and keeps what it writes"
            } else {
                "leave it out: nlconf keeps the value nlserver wrote in the deployed file"
            };
            self.diags.push(
                Diagnostic::at(
                    f.key_origin.location(),
                    format!("`{}` of <{}> is {why}, not set from YAML", attr.name, def.name),
                )
                .with_help(help),
            );
            return None;
        }
        if def.path == "pipelined" && attr.is_legacy() {
            self.diags.push(
                Diagnostic::at(
                    f.key_origin.location(),
                    format!("`{}` belongs to the legacy Omniture OAuth of pipelined, retired on 2021-10-20", attr.name),
                )
                .with_help("authenticate Triggers with an Adobe IMS technical account: an `ims:` block on the instance and `authType: imsJwtToken`"),
            );
            return None;
        }
        let mut value = self.scalar(v, &|| format!("`{}` of <{}>", attr.name, def.name))?;
        if attr.sensitive && matches!(&value, AttrValue::Text(t) if !t.is_empty()) {
            self.diags.push(
                Diagnostic::at(
                    at(),
                    format!("`{}` of <{}> is sensitive: it must not be stored in plain text", attr.name, def.name),
                )
                .with_help(match self.place.yaml_path(self.root, &f.key_origin) {
                    Some(path) => format!("store it encrypted: {}", super::set_again(self.place.env, &path)),
                    None => format!("store it encrypted with nlconf secret set -e {}", self.place.env),
                }),
            );
            return None;
        }
        if let AttrValue::Text(text) = &value {
            if v.tag == Tag::None && !self.typed(attr, text, v) {
                return None;
            }
            // Booleans render as true/false (DESIGN §3), also when written 1/0 as Adobe's examples do.
            if attr.ty == AttrType::Boolean && (&**text == "1" || &**text == "0") {
                value = AttrValue::Text(if &**text == "1" { "true" } else { "false" }.into());
            }
        } else if !matches!(attr.ty, AttrType::String | AttrType::Any) {
            self.diags.error(
                at(),
                format!(
                    "`{}` of <{}> is a {}; only String attributes can hold an `!age` secret",
                    attr.name,
                    def.name,
                    attr.ty.name()
                ),
            );
            return None;
        }
        let sensitive = attr.sensitive || matches!(value, AttrValue::Secret(_));
        Some(Attr { name: Cow::Borrowed(&attr.name), value, origin: v.origin.clone(), sensitive })
    }

    /// A scalar attribute value: text, `!empty ""`, or a secret.
    /// `what` names the value in messages; it is only formatted when there is something to say.
    fn scalar(&mut self, v: &Value, what: &dyn Fn() -> String) -> Option<AttrValue> {
        let at = || v.origin.location();
        let text = match &v.kind {
            Kind::Scalar(s, _) => s,
            _ => {
                self.diags.error(at(), format!("{}: expected a scalar value, found {}", what(), v.kind_name()));
                return None;
            }
        };
        match v.tag {
            Tag::Age => return self.secrets.get(&v.origin).map(|&i| AttrValue::Secret(i)),
            Tag::Empty if !text.is_empty() => {
                self.diags.error(at(), format!("{}: `!empty` tags only the empty string; write `!empty \"\"`", what()));
                return None;
            }
            Tag::Empty => return Some(AttrValue::Text("".into())),
            Tag::None => {}
        }
        if text.is_empty() {
            self.diags.push(
                Diagnostic::at(at(), format!("{}: empty value", what()))
                    .with_help("an empty attribute overrides serverConf.xml with nothing; remove the key to leave it unset, or write `!empty \"\"` if that is really meant"),
            );
            return None;
        }
        // (Only a byte below 0x20 or 0xEF, the first of U+FFFE and U+FFFF, can start one: most values
        // have neither, and bytes are checked much faster than characters.)
        if text.bytes().any(|b| b < b' ' || b == 0xEF)
            && let Some(c) = text
                .chars()
                .find(|&c| (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}')
        {
            self.diags.error(
                at(),
                format!("{}: contains the control character U+{:04X}, which XML 1.0 cannot hold", what(), c as u32),
            );
            return None;
        }
        // (Most values hold no `@` at all: that is checked first, it is much cheaper.)
        if text.as_bytes().contains(&b'@') && text.contains(MARK) {
            self.diags
                .error(at(), format!("{}: contains `{MARK}`, which nlconf reserves for secret placeholders", what()));
            return None;
        }
        Some(AttrValue::Text(Arc::from(text.as_str())))
    }

    /// Checks a value against the attribute's type and allowed values.
    fn typed(&mut self, attr: &AttrDef, text: &str, v: &Value) -> bool {
        let at = || v.origin.location();
        let ok = match attr.ty {
            AttrType::Boolean => {
                let good = matches!(text, "true" | "false" | "0" | "1");
                if !good {
                    self.diags
                        .error(at(), format!("`{}` is a Boolean: expected true or false, found `{text}`", attr.name));
                }
                good
            }
            ty @ (AttrType::Long | AttrType::Short | AttrType::Byte) => {
                let (lo, hi) = ty.range().unwrap_or((i64::MIN, i64::MAX));
                match text.trim().parse::<i64>() {
                    Ok(n) if (lo..=hi).contains(&n) => true,
                    Ok(_) => {
                        self.diags.error(
                            at(),
                            format!("`{}` is a {}: {text} is out of range ({lo} to {hi})", attr.name, ty.name()),
                        );
                        false
                    }
                    Err(_) => {
                        self.diags.error(
                            at(),
                            format!("`{}` is a {} (a whole number), found `{text}`", attr.name, ty.name()),
                        );
                        false
                    }
                }
            }
            AttrType::String | AttrType::Any => true,
        };
        if !ok || attr.values.is_empty() || attr.values.iter().any(|a| a == text) {
            return ok;
        }
        match attr.values.iter().find(|a| a.eq_ignore_ascii_case(text)) {
            Some(adobe) => {
                self.diags.push(
                    Diagnostic::warning(
                        Some(at()),
                        format!("`{}`: `{text}` is accepted as Adobe's `{adobe}` (rendered as written)", attr.name),
                    )
                    .with_help(format!("write `{adobe}` to match Adobe's reference")),
                );
                true
            }
            None => {
                self.diags.error(
                    at(),
                    format!(
                        "`{}`: `{text}` is not an allowed value; expected one of: {}",
                        attr.name,
                        attr.values.join(", ")
                    ),
                );
                false
            }
        }
    }

    /// Pipelined authentication rules (DESIGN §3): an enabled pipelined authenticates with the IMS
    /// technical account; `authType` needs an `ims:` block.
    fn check_pipelined(&mut self, root: &mut Element, v: &Value, has_ims: bool) {
        let Some(pv) = v.get("pipelined") else { return };
        let Some(slot) = root.children.iter_mut().find(|c| c.name == "pipelined") else {
            return;
        };
        let p = &**slot;
        let enabled = p
            .attr("autoStart")
            .is_some_and(|a| matches!(&a.value, AttrValue::Text(t) if &**t == "true" || &**t == "1"));
        match (p.attr("authType").map(|a| a.origin.clone()), has_ims) {
            (Some(origin), false) => self.diags.push(
                Diagnostic::at(origin.location(), "pipelined `authType: imsJwtToken` needs the instance's `ims:` block (the technical account it authenticates with)")
                    .with_help("add `ims:` with auth, orgId, clientId, technicalAccountId and clientSecret"),
            ),
            (None, true) if enabled => {
                // The technical account is the only supported authentication: imply it. (The
                // element may be the instance's, shared: it is copied to be changed.)
                let p = Arc::make_mut(slot);
                p.attrs.push(Attr {
                    name: Cow::Borrowed("authType"),
                    value: AttrValue::Text("imsJwtToken".into()),
                    origin: pv.origin.clone(),
                    sensitive: false,
                });
                sort_attrs(&mut p.attrs);
            }
            (None, false) if enabled => self.diags.push(
                Diagnostic::at(pv.origin.location(), "pipelined is enabled without authentication: legacy Omniture OAuth was retired on 2021-10-20")
                    .with_help("add an `ims:` block to the instance (nlconf then renders authType=\"imsJwtToken\")"),
            ),
            _ => {}
        }
    }
}

/// The checked counterpart of `entry`, an element of repeatable `def` keyed by attribute `key`, in
/// the instance's settings of the same field (`base`: its value and the element holding its
/// elements).
fn keyed_base<'b>(base: Option<(&'b Value, &'b Element)>, def: &ElementDef, key: &str, entry: &Field) -> Base<'b> {
    let Some((bv, bp)) = base else { return Base::None };
    let Some(bf) = bv.field(&entry.key) else { return Base::None };
    let Some(be) = bp.children.iter().find(|c| {
        c.path == def.path && c.attr(key).is_some_and(|a| matches!(&a.value, AttrValue::Text(t) if **t == *entry.key))
    }) else {
        return Base::None;
    };
    if Arc::ptr_eq(&bf.value, &entry.value) { Base::Same(be) } else { Base::Below(&bf.value, be) }
}

/// Attributes in case-insensitive name order, as in Adobe's own files.
pub(crate) fn sort_attrs(attrs: &mut [Attr]) {
    attrs.sort_by(|a, b| attr_order(&a.name, &b.name));
}

/// Case-insensitive (ASCII) name order, then exact order for names that differ only in case.
pub(crate) fn attr_order(a: &str, b: &str) -> std::cmp::Ordering {
    let (fa, fb) = (a.bytes().map(|c| c.to_ascii_lowercase()), b.bytes().map(|c| c.to_ascii_lowercase()));
    fa.cmp(fb).then_with(|| a.cmp(b))
}

pub fn is_xml_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests;
