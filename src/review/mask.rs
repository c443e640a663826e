//! Masking for review: every sensitive value on either side is shown as a marker that says whether
//! it changed, never as its value.
//!
//! Values are compared through fingerprints keyed per run (HMAC with a random key), so no output
//! holds anything from which a value could be recovered, and equal values are still recognised.

use std::collections::HashMap;

use crate::render::{MASK, Placeholder};
use crate::schema::{ElementDef, Schema, nlserver_owned};
use crate::secrets::{FingerprintKey, SecretValue};
use crate::xml::XmlElement;

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
}

/// Fingerprints a value with the run's key.
pub fn fingerprint(key: &FingerprintKey, value: &str) -> String {
    SecretValue::new(value.to_string()).fingerprint(key)
}

/// Does this look like a value encrypted by nlserver (`@` followed by base64)? Such values are
/// masked even on attributes the schema does not know.
pub fn looks_encrypted(v: &str) -> bool {
    v.len() >= 12
        && v.starts_with('@')
        && v[1..].bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

fn find(side: &Side, key: &FingerprintKey) -> Vec<Found> {
    let mut out = Vec::new();
    let schema = Schema::get();
    walk(schema, Some(schema.root()), side.tree, String::new(), side, key, &mut out);
    out
}

fn walk(
    schema: &'static Schema,
    def: Option<&'static ElementDef>,
    el: &XmlElement,
    path: String,
    side: &Side,
    key: &FingerprintKey,
    out: &mut Vec<Found>,
) {
    for ((name, value), range) in el.attrs().zip(el.value_ranges()) {
        let raw = &side.text[range.clone()];
        let placeholder = crate::render::substitute_one(raw);
        let schema_sensitive = def.is_some_and(|d| {
            d.attr(name).is_some_and(|a| a.sensitive)
                || nlserver_owned(&d.path, name).is_some_and(|_| looks_encrypted(value))
        });
        if placeholder.is_none() && !schema_sensitive && !looks_encrypted(value) {
            continue;
        }
        let fingerprint = match placeholder {
            Some(p) => (side.resolve)(p),
            None => Some(fingerprint(key, value)),
        };
        out.push(Found { key: format!("{path}/@{name}"), range: range.clone(), fingerprint });
    }
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for c in &el.children {
        let cdef = def.and_then(|d| schema.child(d, &c.name));
        let n = counts.entry(c.name.as_str()).or_insert(0);
        let step = match cdef.and_then(|d| d.key.as_deref()).and_then(|k| c.attr(k)) {
            Some(kv) => format!("{}[{kv}]", c.name),
            None if *n == 0 => c.name.clone(),
            None => format!("{}[{}]", c.name, *n + 1),
        };
        *n += 1;
        let child_path = if path.is_empty() { step } else { format!("{path}/{step}") };
        walk(schema, cdef, c, child_path, side, key, out);
    }
}

/// Masks both sides, deciding for each sensitive value whether it changed.
pub fn mask_pair(old: Option<&Side>, new: Option<&Side>, key: &FingerprintKey) -> Masked {
    let old_found = old.map(|s| find(s, key)).unwrap_or_default();
    let new_found = new.map(|s| find(s, key)).unwrap_or_default();
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
    let mut seen = std::collections::HashSet::new();
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
    let apply = |side: Option<&Side>, found: &[Found], is_old: bool| -> String {
        let Some(side) = side else { return String::new() };
        let mut text = String::with_capacity(side.text.len());
        let mut at = 0;
        let mut sorted: Vec<&Found> = found.iter().collect();
        sorted.sort_by_key(|f| f.range.start);
        for f in sorted {
            if f.range.start < at {
                continue;
            }
            text.push_str(&side.text[at..f.range.start]);
            text.push_str(&marker(&f.key, is_old));
            at = f.range.end;
        }
        text.push_str(&side.text[at..]);
        // Any placeholder left (e.g. in element text) is masked too.
        crate::render::mask(&text)
    };
    Masked { old: apply(old, &old_found, true), new: apply(new, &new_found, false), values }
}
