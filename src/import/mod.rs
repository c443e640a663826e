//! Import: adopt deployed `config-<instance>.xml` files into YAML, so that the first diff after the
//! import shows nothing (DESIGN §6 `import`).
//!
//! Values common to every container go to the instance; the rest to `containerOverrides`.
//! nlserver's attributes stay out of the YAML (they are carried over on render); attributes the
//! schema does not know go to `rawAttributes`; what the files cannot tell about the technical account
//! is reported with the commands that add it.

pub mod request;

use std::collections::BTreeMap;

use crate::diag::did_you_mean;
use crate::schema::{ElementDef, Schema};
use crate::support::xml::XmlElement;

/// A technical account as the files name it: client ID and technical account ID.
type Account = (Option<String>, Option<String>);

/// A YAML value to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Y {
    Scalar(String),
    /// `!empty ""`: an attribute deliberately empty.
    Empty,
    Map(Vec<(String, Y)>),
    List(Vec<Y>),
    /// `!age |` and its text (an optional binding header and the armor), kept as it was.
    Age(String),
}

/// What `import --force` keeps from the instance's YAML that a deployed file cannot give: the
/// `ims:` fields the files do not name (`auth`, `orgId`, the secrets' ciphertexts) and every `!age`
/// value, by its path below the instance.
#[derive(Debug, Default)]
pub struct Kept {
    pub ims: Vec<(String, Y)>,
    pub secrets: Vec<(Vec<String>, String)>,
}

impl Kept {
    /// From the YAML node of `instances.<instance>`.
    pub fn from_instance(node: &crate::support::yaml::Node) -> Kept {
        use crate::support::yaml::{Kind, Tag};
        let mut kept = Kept::default();
        if let Some(ims) = node.get("ims") {
            for key in ["auth", "orgId", "clientSecret", "privateKey"] {
                match ims.get(key) {
                    Some(v) if v.tag == Tag::Age => {
                        kept.ims.push((key.into(), Y::Age(v.as_str().unwrap_or_default().to_string())))
                    }
                    Some(v) => {
                        if let Some(s) = v.as_str() {
                            kept.ims.push((key.into(), Y::Scalar(s.to_string())));
                        }
                    }
                    None => {}
                }
            }
        }
        fn walk(node: &crate::support::yaml::Node, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
            if node.tag == Tag::Age {
                out.push((path.clone(), node.as_str().unwrap_or_default().to_string()));
                return;
            }
            if let Kind::Map(entries) = &node.kind {
                for e in entries {
                    path.push(e.key.to_string());
                    walk(&e.value, path, out);
                    path.pop();
                }
            }
        }
        for top in ["serverconf", "containerOverrides"] {
            if let Some(n) = node.get(top) {
                walk(n, &mut vec![top.to_string()], &mut kept.secrets);
            }
        }
        kept
    }

    pub fn is_empty(&self) -> bool {
        self.ims.is_empty() && self.secrets.is_empty()
    }
}

/// Puts `value` at `path` in a map, creating the maps on the way (a value already there stays).
fn insert_at(map: &mut Vec<(String, Y)>, path: &[String], value: Y) {
    let Some((first, rest)) = path.split_first() else { return };
    let at = match map.iter().position(|(k, _)| k == first) {
        Some(i) => i,
        None => {
            map.push((first.clone(), if rest.is_empty() { value.clone() } else { Y::Map(Vec::new()) }));
            map.len() - 1
        }
    };
    if let (false, Y::Map(inner)) = (rest.is_empty(), &mut map[at].1) {
        insert_at(inner, rest, value);
    }
}

/// One deployed file to import.
pub struct Input {
    pub container: String,
    /// Where it came from, for the report.
    pub shown: String,
    pub text: String,
    pub tree: XmlElement,
}

/// What the import found worth telling, grouped.
#[derive(Debug, Default)]
pub struct Report {
    pub kept_by_nlserver: Vec<String>,
    pub raw_attributes: Vec<String>,
    pub not_carried: Vec<String>,
    pub comments: Vec<String>,
    pub ims: Vec<String>,
}

pub struct Imported {
    pub yaml: String,
    pub report: Report,
}

/// Converts the files of one instance into the YAML of `environments/<env>/<instance>.yaml`.
pub fn import(env: &str, instance: &str, inputs: &[Input], header: &str, kept: &Kept) -> Imported {
    let schema = Schema::get();
    let mut report = Report::default();
    let mut per_container = Vec::new();
    for input in inputs {
        let mut r = Report::default();
        let y = element(schema, schema.root(), &input.tree, "", (&input.container, &input.text), &mut r);
        merge_report(&mut report, r);
        for (line, _) in input.text.match_indices("<!--").map(|(i, s)| (input.text[..i].matches('\n').count() + 1, s)) {
            report.comments.push(format!("{}: line {line}", input.shown));
        }
        per_container.push(y);
    }
    let refs: Vec<Option<&Y>> = per_container.iter().map(Some).collect();
    let (common, overrides) = split(&refs);

    // The technical account the files name (written by nlserver -setims*).
    let ids: Vec<(String, Option<String>, Option<String>)> = inputs
        .iter()
        .map(|i| {
            let ims = i.tree.child("shared").and_then(|s| s.child("ims"));
            let get = |a: &str| ims.and_then(|x| x.attr(a)).filter(|v| !v.is_empty()).map(str::to_string);
            (i.container.clone(), get("authIMSTAClientId"), get("authIMSTAId"))
        })
        .collect();
    let mut by_client: BTreeMap<Account, Vec<String>> = BTreeMap::new();
    for (c, client, ta) in &ids {
        by_client.entry((client.clone(), ta.clone())).or_default().push(c.clone());
    }
    let configured: Vec<(&Account, &Vec<String>)> = by_client.iter().filter(|((c, _), _)| c.is_some()).collect();
    let chosen = configured.iter().max_by_key(|(_, cs)| cs.len()).map(|(k, _)| (*k).clone());
    if configured.len() > 1 {
        let parts: Vec<String> = configured
            .iter()
            .map(|((c, _), cs)| format!("{} on {}", cs.join(", "), c.as_deref().unwrap_or("")))
            .collect();
        report.ims.push(format!(
            "the containers disagree on the Adobe I/O project ({}); the YAML names the most common one",
            parts.join("; ")
        ));
    }
    let org_hint = inputs
        .iter()
        .find_map(|i| i.tree.child("web").and_then(|w| w.child("redirection")).and_then(|r| r.attr("IMSOrgId")))
        .map(str::to_string);

    let mut inst = vec![(
        "containers".to_string(),
        Y::Map(inputs.iter().map(|i| (i.container.clone(), Y::Map(vec![]))).collect()),
    )];
    if let Some(Y::Map(fields)) = &common
        && !fields.is_empty()
    {
        inst.push(("serverconf".into(), common.clone().unwrap_or(Y::Map(vec![]))));
    }
    if let Some((Some(client), ta)) = &chosen {
        let mut ims = vec![("clientId".to_string(), Y::Scalar(client.clone()))];
        if let Some(ta) = ta {
            ims.push(("technicalAccountId".into(), Y::Scalar(ta.clone())));
        }
        inst.push(("ims".into(), Y::Map(ims)));
        report.ims.push(format!(
            "the files name the technical account (clientId {client}) but not the organization, the auth mode nor the client secret: \
             its credentials are \"not managed\" until you add them:\n    \
             in environments/{env}/{instance}.yaml under instances.{instance}.ims add `auth: oauth` (build >= 9383; `jwt` before) \
             and `orgId: {}`\n    \
             printf %s \"$CLIENT_SECRET\" | nlconf secret set -e {env} instances.{instance}.ims.clientSecret",
            org_hint.clone().unwrap_or_else(|| "<24 hex digits>@AdobeOrg".into())
        ));
    } else {
        report
            .ims
            .push("no technical account is configured in these files (shared/ims/@authIMSTAClientId is absent)".into());
    }
    let overrides: Vec<(String, Y)> = inputs
        .iter()
        .zip(overrides)
        .filter_map(|(i, o)| match o {
            Some(Y::Map(f)) if f.is_empty() => None,
            Some(y) => Some((i.container.clone(), Y::Map(vec![("serverconf".into(), y)]))),
            None => None,
        })
        .collect();
    if !overrides.is_empty() {
        inst.push(("containerOverrides".into(), Y::Map(overrides)));
    }
    if !kept.is_empty() {
        keep(&mut inst, kept, &mut report);
    }
    let doc = Y::Map(vec![("instances".into(), Y::Map(vec![(instance.to_string(), Y::Map(inst))]))]);
    let mut yaml = String::new();
    for line in header.lines() {
        yaml.push_str(&format!("# {line}\n"));
    }
    emit(&doc, 0, &mut yaml);
    Imported { yaml, report }
}

/// Adds one container's findings; the same finding on several containers is listed once, with
/// every container in its trailing `[...]`.
fn merge_report(into: &mut Report, r: Report) {
    for (a, b) in [
        (&mut into.kept_by_nlserver, r.kept_by_nlserver),
        (&mut into.raw_attributes, r.raw_attributes),
        (&mut into.not_carried, r.not_carried),
    ] {
        for line in b {
            let (text, who) = match line.rsplit_once(" [") {
                Some((t, w)) if line.ends_with(']') => (t.to_string(), Some(w.trim_end_matches(']').to_string())),
                _ => (line.clone(), None),
            };
            match a
                .iter_mut()
                .find(|l| l.starts_with(&text) && (l.len() == text.len() || l[text.len()..].starts_with(" [")))
            {
                Some(existing) => {
                    if let Some(w) = who
                        && existing.ends_with(']')
                    {
                        existing.pop();
                        existing.push_str(&format!(", {w}]"));
                    }
                }
                None => a.push(line),
            }
        }
    }
}

fn element(
    schema: &'static Schema,
    def: &'static ElementDef,
    el: &XmlElement,
    path: &str,
    (container, doc): (&str, &str),
    report: &mut Report,
) -> Y {
    let mut fields: Vec<(String, Y)> = Vec::new();
    let mut raw: Vec<(String, Y)> = Vec::new();
    for (name, value) in el.attrs() {
        let here = if path.is_empty() { el.name.to_string() } else { path.to_string() };
        if crate::render::carry::kept_from_deployed(def, el, name, value) {
            report.kept_by_nlserver.push(format!("{here}/@{name}"));
            continue;
        }
        if def.key.as_deref() == Some(name) && def.repeatable {
            continue;
        }
        let y = if value.is_empty() { Y::Empty } else { Y::Scalar(value.to_string()) };
        if def.attr(name).is_some() {
            fields.push((name.to_string(), y));
        } else {
            let hint = did_you_mean(name, def.attributes.iter().map(|a| a.name.as_str()))
                .map(|s| format!(": did you mean `{s}`? ACC ignores `{name}`"))
                .unwrap_or_else(|| ": not in Adobe's reference (ACC may ignore it)".into());
            report.raw_attributes.push(format!("{here}/@{name}{hint} [{container}]"));
            raw.push((name.to_string(), y));
        }
    }
    // Children, grouped by name in order of first appearance.
    let mut groups: Vec<(&str, Vec<&XmlElement>)> = Vec::new();
    for c in &el.children {
        match groups.iter_mut().find(|(n, _)| *n == c.name) {
            Some((_, v)) => v.push(c),
            None => groups.push((&c.name, vec![c])),
        }
    }
    for (name, items) in groups {
        let child_path = if def.path.is_empty() { name.to_string() } else { format!("{}/{name}", def.path) };
        let Some(cdef) = schema.child(def, name) else {
            report.not_carried.push(format!(
                "<{name}> under {}: not in the schema, so nlconf cannot manage it [{container}]",
                if def.path.is_empty() { "the root".to_string() } else { format!("<{}>", def.name) }
            ));
            continue;
        };
        if cdef.text_content {
            fields.push((name.to_string(), Y::Scalar(items[0].text.trim().to_string())));
            continue;
        }
        match (cdef.repeatable, &cdef.key) {
            (true, Some(key)) => {
                let mut map: Vec<(String, Y)> = Vec::new();
                for item in items {
                    let kv = item
                        .attr(key)
                        .map(str::to_string)
                        .or_else(|| cdef.attr(key).and_then(|a| a.default.clone()))
                        .unwrap_or_default();
                    if map.iter().any(|(k, _)| *k == kv) {
                        report.not_carried.push(format!(
                            "a second <{name} {key}=\"{kv}\"> (line {}): only the first is imported [{container}]",
                            item.line_col(doc).0
                        ));
                        continue;
                    }
                    map.push((kv, element(schema, cdef, item, &child_path, (container, doc), report)));
                }
                fields.push((name.to_string(), Y::Map(map)));
            }
            (true, None) => {
                let list =
                    items.iter().map(|i| element(schema, cdef, i, &child_path, (container, doc), report)).collect();
                fields.push((name.to_string(), Y::List(list)));
            }
            (false, _) => {
                if items.len() > 1 {
                    report
                        .not_carried
                        .push(format!("<{name}> appears {} times; only the first is kept [{container}]", items.len()));
                }
                let y = element(schema, cdef, items[0], &child_path, (container, doc), report);
                // An element holding only what nlserver wrote comes back from the deployed file.
                let only_kept = matches!(&y, Y::Map(f) if f.is_empty())
                    && items[0].children.is_empty()
                    && items[0].attrs().len() > 0
                    && items[0].attrs().all(|(a, v)| crate::render::carry::kept_from_deployed(cdef, items[0], a, v));
                if !only_kept {
                    fields.push((name.to_string(), y));
                }
            }
        }
    }
    if !raw.is_empty() {
        fields.push(("rawAttributes".into(), Y::Map(raw)));
    }
    Y::Map(fields)
}

/// Splits the containers' values into what they share and what each has of its own.
fn split(values: &[Option<&Y>]) -> (Option<Y>, Vec<Option<Y>>) {
    let all_present = values.iter().all(Option::is_some);
    if all_present && values.windows(2).all(|w| w[0] == w[1]) {
        return (values.first().and_then(|v| v.cloned()), vec![None; values.len()]);
    }
    let all_maps = all_present && values.iter().all(|v| matches!(v, Some(Y::Map(_))));
    if !all_maps {
        return (None, values.iter().map(|v| v.cloned()).collect());
    }
    let mut keys: Vec<&str> = Vec::new();
    for v in values {
        if let Some(Y::Map(f)) = v {
            for (k, _) in f {
                if !keys.contains(&k.as_str()) {
                    keys.push(k);
                }
            }
        }
    }
    let mut common = Vec::new();
    let mut own: Vec<Vec<(String, Y)>> = vec![Vec::new(); values.len()];
    for k in keys {
        let sub: Vec<Option<&Y>> = values
            .iter()
            .map(|v| match v {
                Some(Y::Map(f)) => f.iter().find(|(kk, _)| kk == k).map(|(_, y)| y),
                _ => None,
            })
            .collect();
        let equal = sub.iter().all(Option::is_some) && sub.windows(2).all(|w| w[0] == w[1]);
        let (c, o) = split(&sub);
        match c {
            // An element every container has, with nothing in common: each override carries it.
            Some(Y::Map(f)) if f.is_empty() && !equal => {}
            Some(c) => common.push((k.to_string(), c)),
            None => {}
        }
        for (i, y) in o.into_iter().enumerate() {
            if let Some(y) = y {
                own[i].push((k.to_string(), y));
            }
        }
    }
    (Some(Y::Map(common)), own.into_iter().map(|f| if f.is_empty() { None } else { Some(Y::Map(f)) }).collect())
}

fn plain_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !k.starts_with(['-', '.'])
}

/// A scalar as YAML: plain when that reads back as the same text, else double-quoted.
pub fn scalar(s: &str) -> String {
    let special_start = s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@` ".contains(c));
    let null_like = matches!(s, "~" | "null" | "Null" | "NULL");
    let needs_quotes = s.is_empty()
        || special_start
        || null_like
        || s.ends_with([' ', ':'])
        || s.contains(": ")
        || s.contains(" #")
        || s.chars().any(|c| c.is_control() || c == '\u{FEFF}');
    if !needs_quotes {
        return s.to_string();
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn key(k: &str) -> String {
    if plain_key(k) { k.to_string() } else { scalar(&format!("{k}\u{0}")).replace("\\u0000", "") }
}

fn emit(y: &Y, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match y {
        Y::Map(fields) => {
            for (k, v) in fields {
                out.push_str(&pad);
                out.push_str(&key(k));
                out.push(':');
                emit_value(v, indent, out);
            }
        }
        Y::List(items) => {
            for item in items {
                out.push_str(&pad);
                out.push('-');
                match item {
                    Y::Map(f) if !f.is_empty() => {
                        let mut inner = String::new();
                        emit(item, indent + 2, &mut inner);
                        out.push_str(&inner[indent + 1..]);
                    }
                    _ => emit_value(item, indent, out),
                }
            }
        }
        Y::Scalar(_) | Y::Empty | Y::Age(_) => emit_value(y, indent, out),
    }
}

/// Puts back what the instance's YAML had that the deployed files cannot give, and says so.
fn keep(inst: &mut Vec<(String, Y)>, kept: &Kept, report: &mut Report) {
    if !kept.ims.is_empty() {
        let names: Vec<&str> = kept.ims.iter().map(|(k, _)| k.as_str()).collect();
        for (k, v) in &kept.ims {
            insert_at(inst, &["ims".to_string(), k.clone()], v.clone());
        }
        report.ims.retain(|l| !l.contains("are \"not managed\" until you add them"));
        report.ims.push(format!("kept from the YAML it replaces: ims {}", names.join(", ")));
    }
    for (path, text) in &kept.secrets {
        insert_at(inst, path, Y::Age(text.clone()));
        report.kept_by_nlserver.push(format!("{} (an !age secret, kept from the YAML it replaces)", path.join(".")));
    }
}

fn emit_value(v: &Y, indent: usize, out: &mut String) {
    match v {
        Y::Age(text) => {
            out.push_str(" !age |\n");
            let pad = " ".repeat(indent + 2);
            for line in text.lines() {
                out.push_str(&pad);
                out.push_str(line);
                out.push('\n');
            }
        }
        Y::Scalar(s) => {
            out.push(' ');
            out.push_str(&scalar(s));
            out.push('\n');
        }
        Y::Empty => out.push_str(" !empty \"\"\n"),
        Y::Map(f) if f.is_empty() => out.push_str(" {}\n"),
        Y::List(l) if l.is_empty() => out.push_str(" []\n"),
        _ => {
            out.push('\n');
            emit(v, indent + 2, out);
        }
    }
}

#[cfg(test)]
mod tests;
