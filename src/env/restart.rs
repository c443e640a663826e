//! The restart policy (DESIGN §10): which nlserver modules restart, after the reload, when an
//! element changes. Built in: `pipelined` restarts `pipelined@<instance>` (Adobe: "nlserver restart
//! pipelined@instance after every change", reference/acc-config.md §1.2), also when the IMS
//! credentials change, where pipelined is enabled. The repository's `restart:` map adds rules, from
//! an element path (slash-separated, as in the schema) to modules (`{instance}` filled in), and
//! turns a built-in rule off with `[]`.
//!
//! ```yaml
//! restart:
//!   wfserver: ["wfserver@{instance}"]
//!   web/relay: [web]
//!   pipelined: []
//! ```

use super::value::{Kind, Value};
use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::schema::Schema;

/// One rule: a change below `path` restarts `modules`, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartRule {
    pub path: String,
    pub modules: Vec<String>,
    /// The built-in pipelined rule: also after an IMS credential change, and only where pipelined is
    /// enabled (`autoStart`).
    pub builtin: bool,
}

/// The rules, in the order they run: the built-in one first (unless turned off or replaced), then
/// the repository's in the order written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartPolicy {
    pub rules: Vec<RestartRule>,
}

impl Default for RestartPolicy {
    fn default() -> RestartPolicy {
        RestartPolicy {
            rules: vec![RestartRule {
                path: "pipelined".into(),
                modules: vec!["pipelined@{instance}".into()],
                builtin: true,
            }],
        }
    }
}

/// The policy from the merged `restart:` map, every mistake reported.
pub fn load(diags: &mut Diagnostics, v: Option<&Value>) -> RestartPolicy {
    let mut policy = RestartPolicy::default();
    let Some(v) = v else { return policy };
    let Some(map) = super::expect_map(diags, v, "restart") else { return policy };
    let schema = Schema::get();
    for f in map.fields() {
        let path = f.key.trim_matches('/');
        if schema.element(path).is_none() {
            let mut d = Diagnostic::at(
                f.key_origin.location(),
                format!("restart: `{}` is not an element path (slash-separated, as `web/relay`)", f.key),
            );
            if let Some(s) = did_you_mean(path, schema.element_paths()) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            diags.push(d);
            continue;
        }
        let Kind::Seq(items) = &f.value.kind else {
            diags.error(
                f.value.origin.location(),
                format!("restart.{path}: expected a list of modules, e.g. [\"wfserver@{{instance}}\"], or [] to turn a built-in rule off"),
            );
            continue;
        };
        let mut modules = Vec::new();
        for item in items {
            match item.as_str() {
                Some(m) if !m.is_empty() && m.chars().all(|c| c.is_ascii_alphanumeric() || "_-@.{}".contains(c)) => {
                    modules.push(m.to_string())
                }
                _ => diags.error(
                    item.origin.location(),
                    format!("restart.{path}: a module is a name such as `web` or `wfserver@{{instance}}`"),
                ),
            }
        }
        // The repository's rule for a path replaces the built-in one, where it stood.
        match policy.rules.iter_mut().find(|r| r.path == path) {
            Some(rule) => {
                rule.modules = modules;
                rule.builtin &= !rule.modules.is_empty();
            }
            None => policy.rules.push(RestartRule { path: path.to_string(), modules, builtin: false }),
        }
    }
    policy.rules.retain(|r| !r.modules.is_empty());
    policy
}
