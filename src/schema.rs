//! The serverconf schema: every documented element and attribute of `config-<instance>.xml`.
//!
//! Built into the binary from Adobe's reference table (`schema/serverconf-*.tsv`, copied from the
//! reference) plus nlconf's documented amendments (`schema/nlconf-*.tsv`), which add what Adobe
//! documents elsewhere and correct types the table gets visibly wrong. An amendment row for an
//! attribute that the table already has replaces it.
//!
//! Beside it: `keys`, the keys of an environment file at each level (what the loader accepts), and
//! `json`, the JSON Schema of an environment file that `nlconf schema` prints for editors, generated
//! from both.

use std::collections::HashMap;
use std::sync::OnceLock;

pub mod json;
pub mod keys;

const ELEMENTS_TSV: &str = include_str!("../schema/serverconf-elements.tsv");
const ATTRIBUTES_TSV: &str = include_str!("../schema/serverconf-schema.tsv");
const NLCONF_ELEMENTS_TSV: &str = include_str!("../schema/nlconf-elements.tsv");
const NLCONF_ATTRIBUTES_TSV: &str = include_str!("../schema/nlconf-attributes.tsv");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    Boolean,
    Long,
    Short,
    Byte,
    String,
    /// The reference gives no type: any scalar.
    Any,
}

impl AttrType {
    fn parse(s: &str) -> AttrType {
        match s {
            "Boolean" => AttrType::Boolean,
            "Long" => AttrType::Long,
            "Short" => AttrType::Short,
            "Byte" => AttrType::Byte,
            "String" => AttrType::String,
            _ => AttrType::Any,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AttrType::Boolean => "Boolean",
            AttrType::Long => "Long",
            AttrType::Short => "Short",
            AttrType::Byte => "Byte",
            AttrType::String => "String",
            AttrType::Any => "untyped",
        }
    }

    /// The inclusive range of an integer type (ACC's Long is 32-bit, Short 16-bit, Byte 8-bit).
    pub fn range(self) -> Option<(i64, i64)> {
        match self {
            AttrType::Long => Some((i32::MIN as i64, i32::MAX as i64)),
            AttrType::Short => Some((i16::MIN as i64, i16::MAX as i64)),
            AttrType::Byte => Some((i8::MIN as i64, i8::MAX as i64)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AttrDef {
    pub name: String,
    pub ty: AttrType,
    pub default: Option<String>,
    /// Allowed values, in Adobe's spelling; empty when any value of the type is allowed.
    pub values: Vec<String>,
    pub sensitive: bool,
    pub notes: String,
}

impl AttrDef {
    pub fn is_legacy(&self) -> bool {
        self.notes.starts_with("legacy")
    }
}

#[derive(Debug, Clone)]
pub struct ElementDef {
    pub path: String,
    pub name: String,
    pub repeatable: bool,
    pub key: Option<String>,
    pub attributes: Vec<AttrDef>,
    pub children: Vec<usize>,
    /// The element holds text (e.g. `web/jsp/classpath`), written as a scalar in YAML.
    pub text_content: bool,
    pub notes: String,
    /// Its place in the schema's tables: elements are rendered in this order among their siblings.
    pub order: usize,
    /// Where each attribute and child element is (in `attributes`, in the schema's elements), by
    /// name: a fleet's review looks up every attribute and element of every container, several times.
    attr_index: NameMap,
    child_index: NameMap,
    /// Whether one of its attributes is sensitive or written by nlserver: the attributes rendering
    /// carries over from a deployed file, with those that look encrypted (`render::carry`).
    pub keeps_attributes: bool,
}

impl ElementDef {
    pub fn attr(&self, name: &str) -> Option<&AttrDef> {
        self.attr_index.get(name).map(|&i| &self.attributes[i])
    }
}

/// A map from names, hashed with FNV-1a: short keys, looked up very often, never chosen by an
/// adversary (the schema is built into the binary), where std's DoS-resistant SipHash costs most.
type NameMap = HashMap<Box<str>, usize, std::hash::BuildHasherDefault<Fnv>>;

#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
}

#[derive(Debug)]
pub struct Schema {
    elements: Vec<ElementDef>,
    by_path: NameMap,
    /// Index of the virtual root (`serverconf`).
    root: usize,
}

/// Attributes that nlserver writes and encrypts itself; nlconf never renders them from YAML and
/// carries them over from the deployed file instead. (path, attribute).
pub const NLSERVER_OWNED: &[(&str, &str, &str)] = &[
    ("shared/ims", "authIMSTAClientId", "written by `nlserver config -setimsoauth`/`-setimsjwtauth`"),
    ("shared/ims", "authIMSTAId", "written by `nlserver config -setimsoauth`/`-setimsjwtauth`"),
    ("shared/ims", "authIMSTAClientSecret", "encrypted by nlserver (`-setimsoauth`/`-setimsjwtauth`)"),
    ("shared/ims", "authIMSTAPrivateKey", "encrypted by nlserver (`-setimsjwtauth`)"),
    ("shared/ims", "authIMSClientSecret", "encrypted by nlserver"),
    ("shared/ims", "authIMSCode", "encrypted by nlserver"),
    ("pipelined", "authPrivateKey", "legacy key, encrypted by nlserver"),
    ("web/redirection", "trackingPassword", "encrypted by nlserver (`-trackingpassword`)"),
];

pub fn nlserver_owned(path: &str, attr: &str) -> Option<&'static str> {
    NLSERVER_OWNED.iter().find(|(p, a, _)| *p == path && *a == attr).map(|(_, _, why)| *why)
}

impl Schema {
    /// The built-in schema, parsed once per process.
    pub fn get() -> &'static Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        SCHEMA.get_or_init(|| {
            Schema::from_tables(ELEMENTS_TSV, ATTRIBUTES_TSV, NLCONF_ELEMENTS_TSV, NLCONF_ATTRIBUTES_TSV)
        })
    }

    fn from_tables(elements: &str, attributes: &str, extra_elements: &str, extra_attributes: &str) -> Schema {
        let mut schema = Schema {
            elements: vec![ElementDef {
                path: String::new(),
                name: "serverconf".into(),
                repeatable: false,
                key: None,
                attributes: Vec::new(),
                children: Vec::new(),
                text_content: false,
                notes: String::new(),
                order: 0,
                attr_index: NameMap::default(),
                child_index: NameMap::default(),
                keeps_attributes: false,
            }],
            by_path: NameMap::default(),
            root: 0,
        };
        schema.by_path.insert("".into(), 0);
        for table in [elements, extra_elements] {
            for cols in rows(table) {
                let path = cols[0].to_string();
                let notes = cols.get(3).copied().unwrap_or("").to_string();
                let def = ElementDef {
                    name: path.rsplit('/').next().unwrap_or(&path).to_string(),
                    repeatable: cols.get(1) == Some(&"yes"),
                    key: cols.get(2).filter(|k| !k.is_empty()).map(|k| k.to_string()),
                    attributes: Vec::new(),
                    children: Vec::new(),
                    text_content: notes.starts_with("text content"),
                    notes,
                    path: path.clone(),
                    order: schema.elements.len(),
                    attr_index: NameMap::default(),
                    child_index: NameMap::default(),
                    keeps_attributes: false,
                };
                let parent = parent_path(&path).to_string();
                let idx = schema.elements.len();
                schema.elements.push(def);
                schema.by_path.insert(path.into(), idx);
                if let Some(&p) = schema.by_path.get(parent.as_str()) {
                    schema.elements[p].children.push(idx);
                }
            }
        }
        for table in [attributes, extra_attributes] {
            for cols in rows(table) {
                let Some(&el) = schema.by_path.get(cols[0]) else {
                    continue;
                };
                let get = |i: usize| cols.get(i).copied().unwrap_or("");
                let attr = AttrDef {
                    name: get(1).to_string(),
                    ty: AttrType::parse(get(2)),
                    default: Some(get(3).to_string()).filter(|s| !s.is_empty()),
                    values: get(4).split('|').filter(|s| !s.is_empty()).map(str::to_string).collect(),
                    sensitive: get(5) == "yes",
                    notes: get(6).to_string(),
                };
                let attrs = &mut schema.elements[el].attributes;
                match attrs.iter_mut().find(|a| a.name == attr.name) {
                    Some(existing) => *existing = attr,
                    None => attrs.push(attr),
                }
            }
        }
        let names: Vec<String> = schema.elements.iter().map(|e| e.name.clone()).collect();
        for def in &mut schema.elements {
            for (i, a) in def.attributes.iter().enumerate() {
                def.attr_index.entry(a.name.as_str().into()).or_insert(i);
            }
            def.keeps_attributes = def.attributes.iter().any(|a| a.sensitive)
                || NLSERVER_OWNED.iter().any(|(path, _, _)| *path == def.path);
            // Of two children of one name, the first is the one found, as a search in order finds it.
            for &c in &def.children {
                def.child_index.entry(names[c].as_str().into()).or_insert(c);
            }
        }
        schema
    }

    pub fn root(&self) -> &ElementDef {
        &self.elements[self.root]
    }

    /// Every element's path (`web/relay`), for suggestions.
    pub fn element_paths(&self) -> impl Iterator<Item = &str> {
        self.elements.iter().map(|e| e.path.as_str()).filter(|p| !p.is_empty())
    }

    pub fn element(&self, path: &str) -> Option<&ElementDef> {
        self.by_path.get(path).map(|&i| &self.elements[i])
    }

    /// The child element `name` of `parent`. `securityZone` nests recursively.
    pub fn child<'a>(&'a self, parent: &'a ElementDef, name: &str) -> Option<&'a ElementDef> {
        if parent.name == "securityZone" && name == "securityZone" && parent.path == "securityZone" {
            return Some(parent);
        }
        parent.child_index.get(name).map(|&i| &self.elements[i])
    }

    pub fn child_names<'a>(&'a self, parent: &'a ElementDef) -> impl Iterator<Item = &'a str> + 'a {
        let nested = (parent.path == "securityZone").then_some("securityZone");
        parent.children.iter().map(|&i| self.elements[i].name.as_str()).chain(nested)
    }
}

fn parent_path(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

fn rows(table: &str) -> impl Iterator<Item = Vec<&str>> {
    table.lines().skip(1).filter(|l| !l.trim().is_empty()).map(|l| l.split('\t').collect())
}

/// Does this look like a value encrypted by nlserver (`@` followed by base64)? Such values are
/// masked even on attributes the schema does not know.
pub fn looks_encrypted(v: &str) -> bool {
    v.len() >= 12
        && v.starts_with('@')
        && v[1..].bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

#[cfg(test)]
mod tests;
