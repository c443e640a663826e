//! The plan stage: per container, what apply would do (write the file, run the credential step,
//! reload, restart pipelined), and what a reviewer should be told about it (DESIGN §5, §6).

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::credentials::{CredentialStep, post_steps};
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
    /// Run the credential step, and why.
    pub credentials: Option<String>,
    /// nlserver arguments run after the file and the credentials, e.g. `["config", "-reload"]`.
    pub post: Vec<Vec<String>>,
}

impl Steps {
    pub fn is_empty(&self) -> bool {
        !self.write_file && self.credentials.is_none() && self.post.is_empty()
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
    let inst = env.instance(&f.instance);
    let step = inst.and_then(CredentialStep::of);
    let credentials = step.as_ref().and_then(|s| s.needed(env, d.and_then(|d| d.state.as_ref()), values));
    let old_tree = d.and_then(|d| d.tree.as_ref());
    // A file without a tree is the deployed one byte for byte (kept values put back): the
    // deployed tree is its tree.
    let new_tree = f.tree.as_ref().or(old_tree);
    let pipelined_changed = pipelined(old_tree) != pipelined(new_tree);
    let restart = new_tree.is_some_and(|t| enabled(t, "pipelined")) && (pipelined_changed || credentials.is_some());
    let mut post = post_steps(&f.instance, write_file, credentials.is_some(), restart);
    // Steps a previous apply started and did not finish run again, in their order.
    for p in d.and_then(|d| d.state.as_ref()).map(|s| s.pending.as_slice()).unwrap_or_default() {
        if !post.contains(p) {
            post.push(p.clone());
        }
    }
    post.sort_by_key(|p| p.first().map(|s| s != "config"));
    Steps { instance: f.instance.clone(), container: f.container.clone(), write_file, credentials, post }
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
            if let Some(id) = &d.ims_client_id {
                by_client.entry(id.clone()).or_default().push(&d.container);
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
    if let Some(why) = &s.credentials
        && let Some(step) = env.instance(&s.instance).and_then(CredentialStep::of)
    {
        out.push(format!("{}  # {why}", step.shown(&env.nlserver)));
    }
    for p in &s.post {
        out.push(format!("{} {}", env.nlserver, p.join(" ")));
    }
    out
}

/// The plan file's schema name and version; bump the version on any incompatible change.
pub const PLAN_SCHEMA: &str = "nlconf.plan/v1";

/// A plan: what was reviewed, precisely enough that apply can refuse when anything moved since.
/// It holds no secret: rendered content carries placeholders, and digests are of public data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanFile {
    pub schema: String,
    pub nlconf_version: String,
    pub created_at: String,
    pub environment: String,
    /// Every input (YAML file, recipients, template) and its digest.
    pub inputs: BTreeMap<String, String>,
    pub containers: Vec<PlannedContainer>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlannedContainer {
    pub instance: String,
    pub container: String,
    /// Where the deployed file is, as shown to the user.
    pub location: String,
    /// `sha256:...` of the deployed file when planned, or `absent`.
    pub deployed_digest: String,
    /// `sha256:...` of the state record when planned, or `absent`.
    pub state_digest: String,
    /// The file to write, with `@@nlconf:secret:N@@`/`@@nlconf:kept:N@@` placeholders.
    pub rendered: String,
    pub steps: Steps,
    /// The steps as a reviewer reads them (secrets masked).
    pub shown_steps: Vec<String>,
}

pub fn state_digest(d: Option<&DeployedFile>) -> String {
    match d.and_then(|d| d.state.as_ref()).and_then(|s| serde_json::to_vec(s).ok()) {
        Some(bytes) => crate::support::digest::sha256(&bytes),
        None => "absent".into(),
    }
}

impl PlanFile {
    pub fn new(
        env: &Environment,
        inputs: BTreeMap<String, String>,
        rendered: &[RenderedFile],
        deployed: &[DeployedFile],
        steps: &[Steps],
    ) -> PlanFile {
        let texts = rendered.iter().map(|f| (f.instance.as_str(), f.container.as_str(), f.content.clone())).collect();
        PlanFile::assemble(env, inputs, texts, deployed, steps)
    }

    /// `new`, taking the rendered texts over (leaving them empty) instead of copying them.
    pub fn new_taking(
        env: &Environment,
        inputs: BTreeMap<String, String>,
        rendered: &mut [RenderedFile],
        deployed: &[DeployedFile],
        steps: &[Steps],
    ) -> PlanFile {
        let texts = rendered
            .iter_mut()
            .map(|f| (f.instance.as_str(), f.container.as_str(), std::mem::take(&mut f.content)))
            .collect();
        PlanFile::assemble(env, inputs, texts, deployed, steps)
    }

    /// From each container's (instance, container, rendered text), in the order of `steps`.
    fn assemble(
        env: &Environment,
        inputs: BTreeMap<String, String>,
        texts: Vec<(&str, &str, String)>,
        deployed: &[DeployedFile],
        steps: &[Steps],
    ) -> PlanFile {
        let by_key: HashMap<(&str, &str), &DeployedFile> =
            deployed.iter().map(|d| ((d.instance.as_str(), d.container.as_str()), d)).collect();
        let containers = texts
            .into_par_iter()
            .zip(steps)
            .map(|((instance, container, rendered), s)| {
                let d = by_key.get(&(instance, container)).copied();
                PlannedContainer {
                    instance: instance.to_string(),
                    container: container.to_string(),
                    location: d.map(|d| d.shown.clone()).unwrap_or_default(),
                    deployed_digest: d.map_or_else(|| "absent".into(), DeployedFile::digest),
                    state_digest: state_digest(d),
                    rendered,
                    steps: s.clone(),
                    shown_steps: describe(env, s),
                }
            })
            .collect();
        PlanFile {
            schema: PLAN_SCHEMA.into(),
            nlconf_version: env!("CARGO_PKG_VERSION").into(),
            created_at: crate::support::clock::now_utc(),
            environment: env.name.clone(),
            inputs,
            containers,
        }
    }

    /// The plan as pretty JSON: exactly what `serde_json::to_vec_pretty` writes (a test checks).
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.write_json(&mut out).map_err(serde_json::Error::io)?;
        Ok(out)
    }

    /// Writes `to_json` followed by a newline. The containers are serialised in parallel, a batch at a
    /// time, and written as they come: on a fleet they are megabytes of escaped XML, never held whole.
    pub fn write_json(&self, w: &mut impl std::io::Write) -> std::io::Result<()> {
        #[derive(Serialize)]
        struct Head<'a> {
            schema: &'a str,
            nlconf_version: &'a str,
            created_at: &'a str,
            environment: &'a str,
            inputs: &'a BTreeMap<String, String>,
            containers: &'a [PlannedContainer],
        }
        let head = Head {
            schema: &self.schema,
            nlconf_version: &self.nlconf_version,
            created_at: &self.created_at,
            environment: &self.environment,
            inputs: &self.inputs,
            containers: &[],
        };
        let mut out = serde_json::to_vec_pretty(&head)?;
        out.push(b'\n');
        if self.containers.is_empty() {
            return w.write_all(&out);
        }
        // `"containers": []` closes the head; the items go between the brackets, one level deeper.
        let tail = b"[]\n}\n";
        debug_assert!(out.ends_with(tail));
        out.truncate(out.len() - tail.len());
        out.extend_from_slice(b"[\n");
        w.write_all(&out)?;
        const BATCH: usize = 128;
        for (n, batch) in self.containers.chunks(BATCH).enumerate() {
            let items: Vec<Vec<u8>> = batch
                .par_iter()
                .enumerate()
                .map(|(i, c)| {
                    let json = serde_json::to_vec_pretty(c)?;
                    // Strings are escaped: every newline is the pretty printer's own.
                    let mut indented = Vec::with_capacity(json.len() + json.len() / 8 + 8);
                    if n > 0 || i > 0 {
                        indented.extend_from_slice(b",\n");
                    }
                    indented.extend_from_slice(b"    ");
                    for &b in &json {
                        indented.push(b);
                        if b == b'\n' {
                            indented.extend_from_slice(b"    ");
                        }
                    }
                    Ok(indented)
                })
                .collect::<serde_json::Result<_>>()?;
            for item in &items {
                w.write_all(item)?;
            }
        }
        w.write_all(b"\n  ]\n}\n")
    }

    pub fn has_changes(&self) -> bool {
        self.containers.iter().any(|c| !c.steps.is_empty())
    }

    /// Every way `now` differs from this plan, one sentence each; empty when apply may proceed.
    pub fn differences(&self, now: &PlanFile) -> Vec<String> {
        let mut out = Vec::new();
        if self.environment != now.environment {
            out.push(format!("the plan is for environment `{}`", self.environment));
            return out;
        }
        for (path, digest) in &self.inputs {
            match now.inputs.get(path) {
                None => out.push(format!("{path} is gone since the plan")),
                Some(d) if d != digest => out.push(format!("{path} changed since the plan")),
                _ => {}
            }
        }
        for path in now.inputs.keys().filter(|p| !self.inputs.contains_key(*p)) {
            out.push(format!("{path} is new since the plan"));
        }
        for c in &self.containers {
            let file = format!("config-{}.xml", c.instance);
            let Some(n) = now.containers.iter().find(|n| n.instance == c.instance && n.container == c.container) else {
                out.push(format!("{}: {file} is no longer in the repository", c.container));
                continue;
            };
            if n.deployed_digest != c.deployed_digest {
                out.push(format!("{}: {} changed since the plan", c.container, n.location));
            }
            if n.state_digest != c.state_digest {
                out.push(format!(
                    "{}: the state record of {} changed since the plan (another apply?)",
                    c.container, c.instance
                ));
            }
            if n.rendered != c.rendered && n.deployed_digest == c.deployed_digest {
                out.push(format!("{}: the rendered {file} differs from the plan's", c.container));
            }
            if n.steps != c.steps {
                out.push(format!("{}: the steps for {file} differ from the plan's", c.container));
            }
        }
        for n in &now.containers {
            if !self.containers.iter().any(|c| c.instance == n.instance && c.container == n.container) {
                out.push(format!("{}: config-{}.xml is new since the plan", n.container, n.instance));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
