//! Merged configuration values that remember where they came from.
//!
//! Layers are merged as DESIGN §3 says: maps merge deeply, scalars and lists replace, and `null`
//! removes what a lower layer set. A removal is kept as a tombstone (`Kind::Removed`) so that
//! `explain` can show it and a required key removed by `null` can be reported where the `null` is.

use std::sync::Arc;

use crate::diag::Location;
use crate::support::yaml::{self, Pos, Style, Tag, Text};

/// A YAML node spanning this many lines is converted in parallel, its entries on several threads.
const PARALLEL_LINES: u32 = 2000;
/// Above this many key comparisons, two maps are merged through an index of the lower one's keys.
const INDEXED_MERGE: usize = 1024;

/// The layers merged in order, `layers[0]` lowest: pairwise, in rounds (merging is associative,
/// which a property test checks down to every origin and history), so that a thousand files of one
/// instance each cost n log n key comparisons rather than n² (`merge`'s index).
pub fn merge_all(mut layers: Vec<Value>) -> Option<Value> {
    while layers.len() > 1 {
        let mut next = Vec::with_capacity(layers.len().div_ceil(2));
        let mut pairs = layers.into_iter();
        while let Some(lower) = pairs.next() {
            next.push(match pairs.next() {
                Some(upper) => lower.merge(upper),
                None => lower,
            });
        }
        layers = next;
    }
    layers.pop()
}

/// Where a value was written: file and position.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    pub file: SourceName,
    pub pos: Pos,
}

impl Origin {
    pub fn location(&self) -> Location {
        Location::new(self.file.as_ref(), self.pos.line, self.pos.col)
    }
}

/// The name of a YAML file as shown to the user, interned: every key and value of a fleet carries
/// one, and copying it is copying a pointer (an `Arc<str>` shared by a whole file was a reference
/// count that every thread rendering that file's containers incremented and decremented). A thin
/// pointer, to a leaked `String`, rather than a `&str`: a fleet has a million origins, and each
/// saves the length it would repeat.
#[derive(Clone, Copy)]
pub struct SourceName(&'static String);

impl SourceName {
    /// The interned name: the same text gives the same name, stored once per process (a run reads
    /// a bounded set of files).
    pub fn new(name: &str) -> SourceName {
        // Hashed: an environment split per instance is a thousand files, each named here once, and
        // a search of the names so far was quadratic, under the lock, across the reading threads.
        type Names = std::collections::HashMap<&'static str, &'static String>;
        static NAMES: std::sync::LazyLock<std::sync::Mutex<Names>> = std::sync::LazyLock::new(Default::default);
        let mut names = NAMES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = names.get(name) {
            return SourceName(n);
        }
        let leaked: &'static String = Box::leak(Box::new(name.to_owned()));
        names.insert(leaked.as_str(), leaked);
        SourceName(leaked)
    }
}

// Interned: equal names are the same pointer. Ordered by their text, as the `&str` was.
impl PartialEq for SourceName {
    fn eq(&self, other: &SourceName) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for SourceName {}

impl std::hash::Hash for SourceName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(self.0, state)
    }
}

impl PartialOrd for SourceName {
    fn partial_cmp(&self, other: &SourceName) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SourceName {
    fn cmp(&self, other: &SourceName) -> std::cmp::Ordering {
        self.0.as_str().cmp(other.0.as_str())
    }
}

impl std::ops::Deref for SourceName {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl AsRef<str> for SourceName {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl std::fmt::Display for SourceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::fmt::Debug for SourceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.0.as_str(), f)
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.pos.line, self.pos.col)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Scalar(Text, Style),
    Map(Vec<Field>),
    Seq(Vec<Value>),
    /// Removed by `null` in a higher layer (or written as `null` with nothing below).
    Removed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub key: Text,
    pub key_origin: Origin,
    /// Shared, so that trees built from others (a container's settings over its instance's) share
    /// what they do not change instead of copying it.
    pub value: Arc<Value>,
}

impl Field {
    fn lean_field(&self) -> Field {
        Field { key: self.key.clone(), key_origin: self.key_origin.clone(), value: Arc::new(self.value.lean_clone()) }
    }
}

/// A value overridden by a higher layer: where it was and, for scalars, what it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Overridden {
    pub origin: Origin,
    pub shown: String,
}

/// What a value overrode, most recent first (`Value::merge`). Boxed: most values override nothing,
/// and a fleet has a million of them (a `Vec` is three words, this is one).
#[derive(Debug, Clone, PartialEq, Default)]
#[expect(clippy::box_collection, reason = "one word in every value, for the few that override anything")]
pub struct Overrides(Option<Box<Vec<Overridden>>>);

impl Overrides {
    pub const NONE: Overrides = Overrides(None);

    fn push(&mut self, o: Overridden) {
        self.0.get_or_insert_default().push(o);
    }

    fn extend(&mut self, other: Overrides) {
        if let Some(more) = other.0 {
            self.0.get_or_insert_default().extend(*more);
        }
    }
}

impl std::ops::Deref for Overrides {
    type Target = [Overridden];
    fn deref(&self) -> &[Overridden] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub kind: Kind,
    pub tag: Tag,
    pub origin: Origin,
    pub overrode: Overrides,
    /// A map set over a `null`: it replaces what is below instead of merging with it, wherever the
    /// layers are grouped (so that merging stays associative).
    pub replaces: bool,
}

impl Value {
    pub fn from_node(node: &yaml::Node, file: &Arc<str>) -> Value {
        Value::from_node_in(node, SourceName::new(file))
    }

    fn from_node_in(node: &yaml::Node, file: SourceName) -> Value {
        let origin = Origin { file, pos: node.pos };
        let kind = match &node.kind {
            yaml::Kind::Null => Kind::Removed,
            yaml::Kind::Scalar(s, style) => Kind::Scalar(s.clone(), *style),
            yaml::Kind::Seq(items) => Kind::Seq(items.iter().map(|n| Value::from_node_in(n, file)).collect()),
            yaml::Kind::Map(entries) => Kind::Map(
                entries
                    .iter()
                    .map(|e| Field {
                        key: e.key.clone(),
                        key_origin: Origin { file, pos: e.key_pos },
                        value: Arc::new(Value::from_node_in(&e.value, file)),
                    })
                    .collect(),
            ),
        };
        Value::new(kind, node.tag, origin)
    }

    /// `from_node`, taking the node's strings over instead of copying them. The entries of a large
    /// map (a whole environment's `instances:` in one file) are converted in parallel.
    pub fn from_owned_node(node: yaml::Node, file: SourceName) -> Value {
        use rayon::prelude::*;
        let origin = Origin { file, pos: node.pos };
        let large = node.span_lines() >= PARALLEL_LINES;
        let kind = match node.kind {
            yaml::Kind::Null => Kind::Removed,
            yaml::Kind::Scalar(s, style) => Kind::Scalar(s, style),
            yaml::Kind::Seq(items) => {
                let mut values = Vec::with_capacity(items.len());
                values.extend(items.into_iter().map(|n| Value::from_owned_node(n, file)));
                Kind::Seq(values)
            }
            yaml::Kind::Map(entries) => {
                let field = |e: yaml::Entry| Field {
                    key: e.key,
                    key_origin: Origin { file, pos: e.key_pos },
                    value: Arc::new(Value::from_owned_node(e.value, file)),
                };
                // (Collected into a new vector, not in place: a field is smaller than an entry, and
                // the entries' larger allocation would stay.)
                let mut fields = Vec::with_capacity(entries.len());
                if large && entries.len() > 1 {
                    fields.par_extend(entries.into_par_iter().map(field));
                } else {
                    fields.extend(entries.into_iter().map(field));
                }
                Kind::Map(fields)
            }
        };
        Value::new(kind, node.tag, origin)
    }

    /// A value as written: no history, replacing nothing.
    pub fn new(kind: Kind, tag: Tag, origin: Origin) -> Value {
        Value { kind, tag, origin, overrode: Overrides::NONE, replaces: false }
    }

    pub fn empty_map(origin: Origin) -> Value {
        Value::new(Kind::Map(Vec::new()), Tag::None, origin)
    }

    /// A field's value, unless absent or removed.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.field(key).map(|f| &*f.value).filter(|v| !v.is_removed())
    }

    /// A field, removed ones included.
    pub fn field(&self, key: &str) -> Option<&Field> {
        match &self.kind {
            Kind::Map(fields) => fields.iter().find(|f| f.key == key),
            _ => None,
        }
    }

    /// The fields that are present (not removed).
    pub fn fields(&self) -> impl Iterator<Item = &Field> {
        let fields: &[Field] = match &self.kind {
            Kind::Map(fields) => fields,
            _ => &[],
        };
        fields.iter().filter(|f| !f.value.is_removed())
    }

    pub fn is_map(&self) -> bool {
        matches!(self.kind, Kind::Map(_))
    }

    pub fn is_removed(&self) -> bool {
        matches!(self.kind, Kind::Removed)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match (&self.kind, self.tag) {
            (Kind::Map(_), _) => "a map",
            (Kind::Seq(_), _) => "a list",
            (_, Tag::Age) => "an !age secret",
            (Kind::Scalar(..), _) => "a scalar",
            (Kind::Removed, _) => "null",
        }
    }

    /// A short rendering for `explain`; secrets never show.
    pub fn shown(&self) -> String {
        match (&self.kind, self.tag) {
            (_, Tag::Age) => "(sensitive)".into(),
            (Kind::Scalar(s, _), Tag::Empty) => format!("!empty {s:?}"),
            (Kind::Scalar(s, _), _) => s.to_string(),
            (Kind::Map(_), _) => "{…}".into(),
            (Kind::Seq(items), _) => format!("[{} items]", items.len()),
            (Kind::Removed, _) => "null (removed)".into(),
        }
    }

    /// Merges `upper` over `self`: maps deeply, everything else replaces. The history of what was
    /// overridden is kept, most recent first.
    pub fn merge(self, upper: Value) -> Value {
        let below = Overridden { origin: self.origin.clone(), shown: self.shown() };
        let deep = upper.tag == Tag::None && self.tag == Tag::None && !upper.replaces;
        match (self.kind, upper.kind) {
            (Kind::Map(mut lower), Kind::Map(upper_fields)) if deep => {
                // Two large maps (a fleet's `instances:`, from a file per instance, merged in a
                // balanced tree by `merge_all`) are matched through an index of the lower keys, not
                // a search of them for each upper key. (Upper keys are unique: the ones added below
                // are never looked up.)
                let index: Option<std::collections::HashMap<Text, usize>> = (lower.len() * upper_fields.len()
                    > INDEXED_MERGE)
                    .then(|| lower.iter().enumerate().map(|(i, f)| (f.key.clone(), i)).collect());
                for field in upper_fields {
                    let at = match &index {
                        Some(index) => index.get(&field.key).copied(),
                        None => lower.iter().position(|f| f.key == field.key),
                    };
                    match at.map(|i| &mut lower[i]) {
                        Some(existing) => {
                            let below = std::mem::replace(
                                &mut existing.value,
                                Arc::new(Value::empty_map(field.key_origin.clone())),
                            );
                            existing.value =
                                Arc::new(Arc::unwrap_or_clone(below).merge(Arc::unwrap_or_clone(field.value)));
                            existing.key_origin = field.key_origin;
                        }
                        None => lower.push(field),
                    }
                }
                // The merged map continues the lower one: its history is both sides' history.
                let mut overrode = upper.overrode;
                overrode.push(below);
                overrode.extend(self.overrode);
                Value {
                    kind: Kind::Map(lower),
                    tag: Tag::None,
                    origin: upper.origin,
                    overrode,
                    replaces: self.replaces,
                }
            }
            (lower_kind, kind) => {
                let lower = Value {
                    kind: lower_kind,
                    tag: self.tag,
                    origin: self.origin,
                    overrode: self.overrode,
                    replaces: self.replaces,
                };
                let mut overrode = upper.overrode;
                overrode.push(below);
                overrode.extend(lower.overrode);
                // A map that did not merge with what was below replaced it, whatever later groups it with.
                let replaces = matches!(kind, Kind::Map(_));
                Value { kind, tag: upper.tag, origin: upper.origin, overrode, replaces }
            }
        }
    }

    /// A copy without the history of what was overridden: for trees that are only checked and
    /// rendered (rendering builds one per container; `explain` is what reads the history).
    pub fn lean_clone(&self) -> Value {
        let kind = match &self.kind {
            Kind::Scalar(s, style) => Kind::Scalar(s.clone(), *style),
            Kind::Map(fields) => Kind::Map(fields.iter().map(Field::lean_field).collect()),
            Kind::Seq(items) => Kind::Seq(items.iter().map(Value::lean_clone).collect()),
            Kind::Removed => Kind::Removed,
        };
        Value { kind, tag: self.tag, origin: self.origin.clone(), overrode: Overrides::NONE, replaces: self.replaces }
    }

    /// `self.clone().merge(upper.clone())` for checking and rendering only: what a container's file
    /// is rendered from. Built in one pass, without recording history; what `upper` does not change
    /// is shared with `self` (and keeps its own history), nothing is copied.
    pub fn overlay(&self, upper: &Value) -> Value {
        let deep = upper.tag == Tag::None && self.tag == Tag::None && !upper.replaces;
        match (&self.kind, &upper.kind) {
            (Kind::Map(lower), Kind::Map(upper_fields)) if deep => {
                let mut fields: Vec<Field> = lower
                    .iter()
                    .map(|f| match upper_fields.iter().find(|u| u.key == f.key) {
                        Some(u) => Field {
                            key: f.key.clone(),
                            key_origin: u.key_origin.clone(),
                            value: Arc::new(f.value.overlay(&u.value)),
                        },
                        None => f.clone(),
                    })
                    .collect();
                fields.extend(upper_fields.iter().filter(|u| !lower.iter().any(|f| f.key == u.key)).cloned());
                Value {
                    kind: Kind::Map(fields),
                    tag: Tag::None,
                    origin: upper.origin.clone(),
                    overrode: Overrides::NONE,
                    replaces: self.replaces,
                }
            }
            (_, kind) => {
                // A map that did not merge with what was below replaced it (see `merge`).
                let replaces = matches!(kind, Kind::Map(_));
                Value {
                    kind: kind.clone(),
                    tag: upper.tag,
                    origin: upper.origin.clone(),
                    overrode: Overrides::NONE,
                    replaces,
                }
            }
        }
    }

    /// This map without the named keys.
    pub fn without(&self, keys: &[&str]) -> Value {
        let mut v = self.clone();
        if let Kind::Map(fields) = &mut v.kind {
            fields.retain(|f| !keys.contains(&f.key.as_str()));
        }
        v
    }
}

/// Builds a file's settings straight from its YAML (`yaml::parse_with`): the tree `from_owned_node`
/// makes of the file's nodes, without the nodes in between (a fleet's YAML is megabytes of them).
pub struct Settings(pub SourceName);

impl yaml::Build for Settings {
    type Tree = Value;
    type Entry = Field;

    fn scalar(&self, kind: yaml::Kind, tag: Tag, pos: Pos) -> Value {
        let kind = match kind {
            yaml::Kind::Null => Kind::Removed,
            yaml::Kind::Scalar(s, style) => Kind::Scalar(s, style),
            other => return Value::from_owned_node(yaml::Node { kind: other, tag, pos }, self.0),
        };
        Value::new(kind, tag, Origin { file: self.0, pos })
    }

    fn seq(&self, items: Vec<Value>, pos: Pos) -> Value {
        Value::new(Kind::Seq(items), Tag::None, Origin { file: self.0, pos })
    }

    fn map(&self, entries: Vec<Field>, pos: Pos) -> Value {
        Value::new(Kind::Map(entries), Tag::None, Origin { file: self.0, pos })
    }

    fn entry(&self, key: Text, key_pos: Pos, value: Value) -> Field {
        Field { key, key_origin: Origin { file: self.0, pos: key_pos }, value: Arc::new(value) }
    }

    fn key(e: &Field) -> &str {
        &e.key
    }

    fn convert(&self, node: yaml::Node) -> Value {
        Value::from_owned_node(node, self.0)
    }

    fn map_parts(&self, t: Value) -> Option<(Vec<Field>, Pos)> {
        match t {
            Value { kind: Kind::Map(fields), tag: Tag::None, origin, .. } => Some((fields, origin.pos)),
            _ => None,
        }
    }

    fn last_map<'e>(&self, entries: &'e mut [Field]) -> Option<&'e mut Vec<Field>> {
        match Arc::get_mut(&mut entries.last_mut()?.value)? {
            Value { kind: Kind::Map(fields), tag: Tag::None, .. } => Some(fields),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
