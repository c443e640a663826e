//! Masking for review: every sensitive value on either side is shown as a marker that says whether
//! it changed, never as its value.
//!
//! Values are compared through fingerprints keyed per run (HMAC with a random key), so no output
//! holds anything from which a value could be recovered, and equal values are still recognised.

use std::collections::{HashMap, HashSet};

use crate::render::{MASK, Placeholder};
use crate::schema::{ElementDef, Schema, looks_encrypted, nlserver_owned};
use crate::secrets::{FingerprintKey, SecretValue};
use crate::support::xml::XmlElement;

/// A side of a comparison (`review::Input`).
type Side<'a> = super::Input<'a>;

/// How a sensitive attribute compares between the old and the new side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Unchanged,
    Changed,
    Added,
    Removed,
    /// One side could not be compared (a secret without an identity at hand).
    Unknown,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct MaskedValue {
    /// e.g. `shared/dataStore/dataSource[default]/dbcnx/@password`
    pub attribute: String,
    pub status: Change,
}

/// A sensitive attribute found in one side's text.
struct Found {
    key: String,
    range: std::ops::Range<usize>,
    fingerprint: Option<String>,
}

/// What a placeholder's value is, for comparison: a fingerprint, or `None` when unknown.
pub type Resolve<'a> = dyn Fn(Placeholder) -> Option<String> + 'a;

pub struct Masked {
    pub old: String,
    pub new: String,
    pub values: Vec<MaskedValue>,
    /// Each side's markers by where the attribute value they replace starts in the side's text,
    /// when they are all that masking changed (nothing else held a placeholder): the side's tree
    /// with these values is the masked text's tree, and its canonical form needs no parse
    /// (`canonical::canonical_masked`).
    pub old_markers: Option<Markers>,
    pub new_markers: Option<Markers>,
}

/// The marker that replaces each masked attribute value, by the byte where the value starts.
pub type Markers = HashMap<usize, String>;

/// Fingerprints a value with the run's key.
pub fn fingerprint(key: &FingerprintKey, value: &str) -> String {
    SecretValue::new(value.to_string()).fingerprint(key)
}

/// The sensitive values of one side: schema-sensitive, a placeholder, encrypted-looking, or at a
/// place (`also`) where the other side holds a sensitive value. An `!age` secret on an attribute the
/// schema does not call sensitive is plaintext in the deployed file: masked because the rendered
/// side has a secret there.
fn find(side: &Side, key: &FingerprintKey, also: &HashSet<&str>) -> Vec<Found> {
    let mut out = Vec::new();
    let schema = Schema::get();
    // The attribute names `also` holds (after its last `@`): any other attribute is not in it.
    let also_names: HashSet<&str> = also.iter().filter_map(|k| k.rsplit_once("/@").map(|(_, n)| n)).collect();
    let finder = Finder { side, key, also, also_names };
    walk(schema, Some(schema.root()), side.tree, &mut String::new(), &finder, &mut out);
    out
}

struct Finder<'a> {
    side: &'a Side<'a>,
    key: &'a FingerprintKey,
    also: &'a HashSet<&'a str>,
    also_names: HashSet<&'a str>,
}

/// `path`: the element's path, as a buffer the walk extends and cuts back (a file has hundreds of
/// elements and attributes, and few of them are sensitive: the key of one is written only then).
fn walk(
    schema: &'static Schema,
    def: Option<&'static ElementDef>,
    el: &XmlElement,
    path: &mut String,
    find: &Finder,
    out: &mut Vec<Found>,
) {
    let Finder { side, key, also, .. } = find;
    for ((name, value), range) in el.attrs().zip(el.value_ranges()) {
        let raw = &side.text[range.clone()];
        let placeholder = crate::render::substitute_one(raw);
        let schema_sensitive = def.is_some_and(|d| {
            d.attr(name).is_some_and(|a| a.sensitive)
                || nlserver_owned(&d.path, name).is_some_and(|_| looks_encrypted(value))
        });
        let at = || format!("{path}/@{name}");
        let sensitive = placeholder.is_some() || schema_sensitive || looks_encrypted(value);
        if !(sensitive || find.also_names.contains(name) && also.contains(at().as_str())) {
            continue;
        }
        let key_at = at();
        let fingerprint = match placeholder {
            Some(p) => (side.resolve)(p),
            None => Some(fingerprint(key, value)),
        };
        out.push(Found { key: key_at, range: range.clone(), fingerprint });
    }
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for c in &el.children {
        let cdef = def.and_then(|d| schema.child(d, &c.name));
        let n = match counts.iter_mut().find(|(name, _)| *name == c.name) {
            Some((_, n)) => n,
            None => {
                counts.push((&c.name, 0));
                &mut counts.last_mut().expect("just pushed").1
            }
        };
        let len = path.len();
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(&c.name);
        match cdef.and_then(|d| d.key.as_deref()).and_then(|k| c.attr(k)) {
            Some(kv) => {
                path.push('[');
                path.push_str(kv);
                path.push(']');
            }
            None if *n == 0 => {}
            None => {
                use std::fmt::Write as _;
                let _ = write!(path, "[{}]", *n + 1);
            }
        }
        *n += 1;
        walk(schema, cdef, c, path, find, out);
        path.truncate(len);
    }
}

/// The attributes of a rendered file that hold a secret of the YAML (an `@@nlconf:secret:N@@`
/// placeholder), as `review` names them: apply records them (`StateRecord::secret_attributes`).
pub fn secret_attributes(text: &str, tree: &XmlElement) -> Vec<String> {
    let unknown = |_: Placeholder| None;
    let side = Side { text, tree, resolve: &unknown, secret_attributes: &[] };
    find(&side, &FingerprintKey::random(), &HashSet::new())
        .into_iter()
        .filter(|f| matches!(crate::render::substitute_one(&text[f.range.clone()]), Some(Placeholder::Secret(_))))
        .map(|f| f.key)
        .collect()
}

/// Masks both sides, deciding for each sensitive value whether it changed.
pub fn mask_pair(old: Option<&Side>, new: Option<&Side>, key: &FingerprintKey) -> Masked {
    // A value sensitive on either side is masked on both.
    fn known<'a>(s: Option<&Side<'a>>) -> HashSet<&'a str> {
        s.map(|s| s.secret_attributes.iter().map(String::as_str).collect()).unwrap_or_default()
    }
    let new_first = new.map(|s| find(s, key, &known(new))).unwrap_or_default();
    let old_found = {
        let mut also = known(old);
        also.extend(new_first.iter().map(|f| f.key.as_str()));
        old.map(|s| find(s, key, &also)).unwrap_or_default()
    };
    let new_found = {
        let mut old_keys: HashSet<&str> = old_found.iter().map(|f| f.key.as_str()).collect();
        old_keys.extend(known(new));
        let missing = old_keys.iter().any(|k| !new_first.iter().any(|f| f.key == *k));
        match new {
            Some(s) if missing => find(s, key, &old_keys),
            _ => new_first,
        }
    };
    let old_map: HashMap<&str, &Option<String>> = old_found.iter().map(|f| (f.key.as_str(), &f.fingerprint)).collect();
    let new_map: HashMap<&str, &Option<String>> = new_found.iter().map(|f| (f.key.as_str(), &f.fingerprint)).collect();
    let status = |k: &str| match (old_map.get(k), new_map.get(k)) {
        (Some(Some(a)), Some(Some(b))) if a == b => Change::Unchanged,
        (Some(Some(_)), Some(Some(_))) => Change::Changed,
        (Some(_), Some(_)) => Change::Unknown,
        (None, Some(_)) => Change::Added,
        (Some(_), None) => Change::Removed,
        (None, None) => Change::Unknown,
    };
    let mut values = Vec::new();
    let mut seen = HashSet::new();
    for f in new_found.iter().chain(&old_found) {
        if seen.insert(f.key.clone()) {
            values.push(MaskedValue { attribute: f.key.clone(), status: status(&f.key) });
        }
    }
    let marker = |k: &str, is_old: bool| -> String {
        match status(k) {
            Change::Unchanged => "(sensitive, unchanged)".into(),
            Change::Changed if is_old => "(sensitive, changed: old value)".into(),
            Change::Changed => "(sensitive, changed: new value)".into(),
            Change::Added => "(sensitive, added)".into(),
            Change::Removed => "(sensitive, removed)".into(),
            Change::Unknown => format!("{MASK} not compared"),
        }
    };
    let apply = |side: Option<&Side>, found: &[Found], is_old: bool| -> (String, Option<Markers>) {
        let Some(side) = side else { return (String::new(), None) };
        let mut text = String::with_capacity(side.text.len());
        let mut markers = Markers::with_capacity(found.len());
        let mut at = 0;
        let mut sorted: Vec<&Found> = found.iter().collect();
        sorted.sort_by_key(|f| f.range.start);
        for f in sorted {
            if f.range.start < at {
                continue;
            }
            text.push_str(&side.text[at..f.range.start]);
            let m = marker(&f.key, is_old);
            text.push_str(&m);
            markers.insert(f.range.start, m);
            at = f.range.end;
        }
        text.push_str(&side.text[at..]);
        // Any placeholder left (e.g. in element text) is masked too; then the markers alone no
        // longer say what changed.
        if memchr::memmem::find(text.as_bytes(), crate::env::serverconf::MARK.as_bytes()).is_some() {
            (crate::render::mask(&text), None)
        } else {
            (text, Some(markers))
        }
    };
    let (old_text, old_markers) = apply(old, &old_found, true);
    let (new_text, new_markers) = apply(new, &new_found, false);
    Masked { old: old_text, new: new_text, values, old_markers, new_markers }
}
