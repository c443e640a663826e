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

fn pipelined(tree: Option<&XmlElement>) -> Option<String> {
    tree?.child("pipelined").map(canonical)
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
    let pipelined_changed = pipelined(old_tree) != pipelined(new_tree);
    let restart = new_tree.is_some_and(|t| enabled(t, "pipelined")) && (pipelined_changed || ims_changed);
    // A file whose change ACC would not see (formatting only, every value compared) is written
    // without a reload (DESIGN §10); a value that could not be compared counts as a change.
    let cosmetic =
        review.cosmetic_only && review.masked.iter().all(|m| m.status != crate::review::mask::Change::Unknown);
    let mut post = post_steps(&f.instance, write_file && !cosmetic, !credentials.is_empty(), restart);
    // Steps a previous apply started and did not finish run again, in their order.
    for p in d.and_then(|d| d.state.as_ref()).map(|s| s.pending.as_slice()).unwrap_or_default() {
        if !post.contains(p) {
            post.push(p.clone());
        }
    }
    post.sort_by_key(|p| p.first().map(|s| s != "config"));
    Steps { instance: f.instance.clone(), container: f.container.clone(), write_file, credentials, post }
}

/// Post-change steps of a container (nlserver arguments), in the order they run: reload after a
/// changed file or credentials, then restart pipelined when it runs there and changed.
pub fn post_steps(instance: &str, file_changed: bool, credentials: bool, restart_pipelined: bool) -> Vec<Vec<String>> {
    let mut steps = Vec::new();
    if file_changed || credentials {
        steps.push(vec!["config".to_string(), "-reload".to_string()]);
    }
    if restart_pipelined {
        steps.push(vec!["restart".to_string(), format!("pipelined@{instance}")]);
    }
    steps
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
    for p in &s.post {
        out.push(format!("{} {}", env.nlserver, p.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests;
