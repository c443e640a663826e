//! `explain`: every final value of an instance or a container, where it was set and what it
//! overrode (DESIGN §3).

use super::value::{Kind, Value};
use super::{Environment, Instance, quote_path_key};
use crate::diag::Diagnostic;

/// The lines of `nlconf explain`: a heading, then each value under `filter` with its provenance.
pub fn explain(
    env: &Environment,
    instance: &str,
    container: Option<&str>,
    filter: Option<&str>,
) -> Result<Vec<String>, Diagnostic> {
    let (inst, cont) = env.select(instance, container)?;
    let mut out = Vec::new();
    match cont {
        Some(cont) => {
            out.push(format!("# {} / {instance} / {}", env.name, cont.name));
            let settings = inst.settings_of(cont);
            let mut ls = Vec::new();
            leaves(&settings, &mut String::new(), &mut ls);
            for l in ls.iter().filter(|l| under(&l.path, filter)) {
                out.push(format!("{} = {}", l.path, l.value.shown()));
                out.extend(describe(l.value));
            }
            out.extend(added_by_rule(inst, &settings, filter));
        }
        None => {
            explain_instance(inst, &env.name, filter, &mut out);
            out.extend(added_by_rule(inst, &inst.base, filter));
        }
    }
    if out.len() == 1 {
        return Err(Diagnostic::error(None, format!("no value under `{}`", filter.unwrap_or(""))).with_help(
            "paths are dotted keys such as serverconf.mta or ims.clientId; run explain without PATH to list them all",
        ));
    }
    Ok(out)
}

/// Values nlconf renders by rule rather than from the YAML, marked as such: the `authType` of an
/// enabled pipelined when the instance has an `ims:` block (DESIGN §3).
fn added_by_rule(inst: &Instance, settings: &Value, filter: Option<&str>) -> Vec<String> {
    let path = "serverconf.pipelined.authType";
    let pipelined = settings.get("serverconf").and_then(|s| s.get("pipelined"));
    let enabled =
        pipelined.and_then(|p| p.get("autoStart")).and_then(Value::as_str).is_some_and(|v| v == "true" || v == "1");
    if inst.ims.is_none() || !enabled || pipelined.and_then(|p| p.get("authType")).is_some() || !under(path, filter) {
        return Vec::new();
    }
    vec![
        format!("{path} = imsJwtToken"),
        "    added by nlconf: an enabled pipelined with an `ims:` block authenticates with the IMS technical account"
            .into(),
    ]
}

/// One final value: its dotted path and the value that holds it.
struct Leaf<'a> {
    path: String,
    value: &'a Value,
}

fn leaves<'a>(v: &'a Value, path: &mut String, out: &mut Vec<Leaf<'a>>) {
    match &v.kind {
        Kind::Map(fields) if v.tag == crate::support::yaml::Tag::None && !fields.is_empty() => {
            for f in fields {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&quote_path_key(&f.key));
                leaves(&f.value, path, out);
                path.truncate(len);
            }
        }
        _ => out.push(Leaf { path: path.clone(), value: v }),
    }
}

fn under(path: &str, filter: Option<&str>) -> bool {
    match filter {
        None => true,
        Some(f) => path == f || path.starts_with(&format!("{f}.")) || path.starts_with(&format!("{f}[")),
    }
}

fn describe(value: &Value) -> Vec<String> {
    let mut lines = vec![format!("    set at {}", value.origin)];
    for o in value.overrode.iter() {
        lines.push(format!("    overrides `{}` from {}", o.shown, o.origin));
    }
    lines
}

/// The instance's own settings (defaults and instance, before containerOverrides), and for each
/// value the containers where it ends up different.
fn explain_instance(inst: &Instance, env_name: &str, filter: Option<&str>, out: &mut Vec<String>) {
    let names: Vec<&str> = inst.containers.iter().map(|c| c.name.as_str()).collect();
    out.push(format!("# {env_name} / {} (containers: {})", inst.name, names.join(", ")));
    let settings: Vec<(&str, Value)> = inst.containers.iter().map(|c| (c.name.as_str(), inst.settings_of(c))).collect();
    let per_container: Vec<(&str, Vec<Leaf>)> = settings
        .iter()
        .map(|(name, s)| {
            let mut ls = Vec::new();
            leaves(s, &mut String::new(), &mut ls);
            (*name, ls)
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut paths: Vec<&str> = Vec::new();
    for (_, ls) in &per_container {
        for l in ls {
            if seen.insert(l.path.as_str()) {
                paths.push(l.path.as_str());
            }
        }
    }
    let by_path: Vec<(&str, std::collections::HashMap<&str, &Value>)> =
        per_container.iter().map(|(n, ls)| (*n, ls.iter().map(|l| (l.path.as_str(), l.value)).collect())).collect();
    for path in paths.into_iter().filter(|p| under(p, filter)) {
        let values: Vec<(&str, Option<&Value>)> = by_path.iter().map(|(n, m)| (*n, m.get(path).copied())).collect();
        let reference = values.iter().find_map(|(_, v)| *v);
        let Some(reference) = reference else { continue };
        let same = values.iter().all(|(_, v)| v.is_some_and(|v| v.origin == reference.origin));
        if same {
            out.push(format!("{path} = {}", reference.shown()));
            out.extend(describe(reference));
        } else {
            out.push(format!("{path} differs by container:"));
            for (n, v) in values {
                match v {
                    Some(v) => out.push(format!("  {n}: {}  (set at {})", v.shown(), v.origin)),
                    None => out.push(format!("  {n}: (not set)")),
                }
            }
        }
    }
}
