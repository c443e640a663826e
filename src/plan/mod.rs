//! The plan stage: per container, what apply would do (write the file, run the credential step,
//! reload, restart pipelined), and what a reviewer should be told about it (DESIGN §5, §6).
//!
//! - [`compute`]: the review against what is deployed, and the steps, in one pass per container.
//! - [`file`]: the plan file that `apply` carries out exactly.

pub mod compute;
pub mod file;

pub use file::{PLAN_SCHEMA, PlanFile, PlannedContainer, state_digest};

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::credentials::CredentialStep;
use crate::deployed::DeployedFile;
use crate::env::Environment;
use crate::render::RenderedFile;
use crate::review::canonical::canonical;
use crate::review::{FileReview, FileStatus};
use crate::secrets::SecretStore;
use crate::support::xml::XmlElement;

/// What apply does on one container for one instance, in order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Steps {
    pub instance: String,
    pub container: String,
    /// Write the rendered file (it differs from the deployed one, or is new).
    pub write_file: bool,
    /// The credential steps to run, in order, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<PlannedCredential>,
    /// nlserver arguments run after the file and the credentials, e.g. `["config", "-reload"]`.
    pub post: Vec<Vec<String>>,
    /// Why each of `post` runs (`web/relay changed`), empty for the reload.
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// A credential step to run (`ims`, `dblogin`) and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlannedCredential {
    pub kind: String,
    pub why: String,
}

impl Steps {
    pub fn is_empty(&self) -> bool {
        !self.write_file && self.credentials.is_empty() && self.post.is_empty()
    }
}

/// The canonical form of every element at `path` (`web/relay`) in a tree, to tell a change.
fn at_path(tree: Option<&XmlElement>, path: &str) -> Vec<String> {
    let mut level: Vec<&XmlElement> = tree.into_iter().collect();
    for name in path.split('/') {
        level = level.iter().flat_map(|e| e.children.iter().filter(|c| c.name == name)).collect();
    }
    level.into_iter().map(canonical).collect()
}

fn enabled(tree: &XmlElement, name: &str) -> bool {
    tree.child(name).and_then(|p| p.attr("autoStart")).is_some_and(|v| v == "true" || v == "1")
}

/// What apply would do on one container, given its review. `d` still has its tree, and `f` too
/// unless it is the deployed file byte for byte. `values` holds the decrypted credential secrets
/// when an identity is at hand.
pub fn steps_of(
    env: &Environment,
    f: &RenderedFile,
    d: Option<&DeployedFile>,
    review: &FileReview,
    values: Option<&SecretStore>,
) -> Steps {
    let write_file = review.status != FileStatus::Unchanged;
    let state = d.and_then(|d| d.state.as_ref());
    let credentials: Vec<PlannedCredential> = env
        .instance(&f.instance)
        .map(CredentialStep::of)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| {
            let why = s.needed(env, state, d.map(|d| &d.facts), values)?;
            Some(PlannedCredential { kind: s.kind().to_string(), why })
        })
        .collect();
    let ims_changed = credentials.iter().any(|c| c.kind == "ims");
    let old_tree = d.and_then(|d| d.tree.as_ref());
    // A file without a tree is the deployed one byte for byte (kept values put back): the
    // deployed tree is its tree.
    let new_tree = f.tree.as_ref().or(old_tree);
    // A file whose change ACC would not see is written without a reload (DESIGN §10).
    let cosmetic = review.invisible_to_acc();
    let mut post = Vec::new();
    let mut reasons = Vec::new();
    if (write_file && !cosmetic) || !credentials.is_empty() {
        post.push(vec!["config".to_string(), "-reload".to_string()]);
        reasons.push(String::new());
    }
    // Then the restarts the policy asks for, each module once, in the order the rules are written.
    for rule in &env.restart.rules {
        // A file byte for byte as deployed (no tree of its own) changes nothing below any path.
        let changed = f.tree.is_some() && at_path(old_tree, &rule.path) != at_path(new_tree, &rule.path);
        let why = match (changed, rule.builtin && ims_changed) {
            (true, _) => format!("{} changed", rule.path),
            (false, true) => "IMS credentials changed".to_string(),
            (false, false) => continue,
        };
        if rule.builtin && !new_tree.is_some_and(|t| enabled(t, &rule.path)) {
            continue;
        }
        for m in &rule.modules {
            let step = vec!["restart".to_string(), m.replace("{instance}", &f.instance)];
            if !post.contains(&step) {
                post.push(step);
                reasons.push(why.clone());
            }
        }
    }
    // Steps a previous apply started and did not finish run again, in their order.
    for p in state.map(|s| s.pending.as_slice()).unwrap_or_default() {
        if !post.contains(p) {
            // (A reload needs no reason: it follows every change.)
            let why = if p.first().is_some_and(|s| s == "restart") { "left to do by an earlier apply" } else { "" };
            post.push(p.clone());
            reasons.push(why.to_string());
        }
    }
    let mut both: Vec<(Vec<String>, String)> = post.into_iter().zip(reasons).collect();
    both.sort_by_key(|(p, _)| p.first().map(|s| s != "config"));
    let (post, reasons) = both.into_iter().unzip();
    Steps { instance: f.instance.clone(), container: f.container.clone(), write_file, credentials, post, reasons }
}

/// Sentences about the deployed credentials of each instance: a switched Adobe I/O project,
/// containers that disagree, a legacy pipelined authentication.
pub fn notes(env: &Environment, deployed: &[DeployedFile]) -> Vec<String> {
    let mut notes = Vec::new();
    let mut of_instance: HashMap<&str, Vec<&DeployedFile>> = HashMap::new();
    for d in deployed {
        of_instance.entry(d.instance.as_str()).or_default().push(d);
    }
    for inst in &env.instances {
        let files = of_instance.remove(inst.name.as_str()).unwrap_or_default();
        let mut by_client: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for d in &files {
            if let Some(id) = d.ims_client_id() {
                by_client.entry(id.to_string()).or_default().push(&d.container);
            }
            if d.legacy_pipelined {
                notes.push(format!(
                    "{}/{}: the deployed <pipelined> uses the legacy Omniture OAuth (appName/authPrivateKey), retired on 2021-10-20; \
                     it is replaced by the IMS technical account (authType=\"imsJwtToken\" and nlserver config -setimsoauth)",
                    inst.name, d.container
                ));
            }
        }
        if by_client.len() > 1 {
            let parts: Vec<String> = by_client.iter().map(|(id, cs)| format!("{} on {id}", cs.join(", "))).collect();
            notes.push(format!(
                "{}: the containers disagree on the deployed Adobe I/O project: {}",
                inst.name,
                parts.join("; ")
            ));
        }
        if let Some(client_id) = &inst.ims_client_id {
            for (id, containers) in &by_client {
                if id != client_id {
                    notes.push(format!(
                        "{}: switches the Adobe I/O project from {id} to {} on {} container{}",
                        inst.name,
                        client_id,
                        containers.len(),
                        if containers.len() == 1 { "" } else { "s" }
                    ));
                }
            }
        }
    }
    notes
}

/// How a step reads in a review, secrets masked.
pub fn describe(env: &Environment, s: &Steps) -> Vec<String> {
    let mut out = Vec::new();
    for c in &s.credentials {
        if let Some(step) = env.instance(&s.instance).and_then(|i| CredentialStep::find(i, &c.kind)) {
            out.push(format!("{}  # {}", step.shown(&env.nlserver), c.why));
        }
    }
    for (i, p) in s.post.iter().enumerate() {
        match s.reasons.get(i).filter(|r| !r.is_empty()) {
            Some(why) => out.push(format!("{} {}  # {why}", env.nlserver, p.join(" "))),
            None => out.push(format!("{} {}", env.nlserver, p.join(" "))),
        }
    }
    out
}

#[cfg(test)]
mod tests;
