//! The plan file: what was reviewed, precisely enough that apply can refuse when anything moved
//! since (DESIGN §6). It holds no secret: rendered content carries placeholders.
//!
//! Apply re-renders every file and compares it with the plan by digest, so a file the plan does not
//! write is recorded by its digest alone: a plan costs what changes, not the size of the fleet
//! (`nlconf.plan/v4`; v3 digested the rendered text of files left as they are, v2 held every one).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Steps, describe};
use crate::deployed::DeployedFile;
use crate::diag::{Diagnostic, Location};
use crate::env::Environment;
use crate::render::RenderedFile;
use crate::support::fs::InputError;
use crate::support::yaml::io_reason;

/// The plan file's schema name and version; bump the version on any incompatible change.
pub const PLAN_SCHEMA: &str = "nlconf.plan/v4";

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
    /// What apply compares (`rendered_digest`): `sha256:...` of the rendered file, placeholders and
    /// all, for a file the plan writes; the deployed file's digest for one it leaves as it is.
    pub rendered_digest: String,
    /// The file to write, with `@@nlconf:secret:N@@`/`@@nlconf:kept:N@@` placeholders, when the plan
    /// writes it (`steps.write_file`); empty otherwise (its digest says what it was).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rendered: String,
    pub steps: Steps,
    /// The steps as a reviewer reads them (secrets masked).
    pub shown_steps: Vec<String>,
}

impl PlannedContainer {
    /// (instance, container): what names a container in a plan.
    fn key(&self) -> (&str, &str) {
        (&self.instance, &self.container)
    }
}

/// What a plan records of a rendered file, and apply compares: the digest of its text (placeholders
/// and all) when the plan writes it. A file the plan leaves as it is is, byte for byte, what is
/// deployed (secrets and nlserver's values put in): it is recorded by the deployed file's digest,
/// which apply checks anyway, and a file that would now be written has a digest of its text and
/// differs. Digesting every unchanged file's text again was a tenth of a fleet's plan.
pub fn rendered_digest(write_file: bool, rendered: &str, deployed_digest: &str) -> String {
    if write_file { crate::support::digest::sha256(rendered.as_bytes()) } else { deployed_digest.to_string() }
}

/// A rendered text the plan digests, and keeps when it writes the file: to copy, or its digest and
/// (when the file is written) the text, taken over.
enum Text<'a> {
    Borrowed(&'a String),
    Digested(String, String),
}

impl Text<'_> {
    fn into_string(self) -> String {
        match self {
            Text::Borrowed(t) => t.clone(),
            Text::Digested(_, t) => t,
        }
    }
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
        let texts = rendered.iter().map(|f| (f.instance.as_str(), f.container.as_str(), Text::Borrowed(&f.content)));
        PlanFile::assemble(env, inputs, texts.collect(), deployed, steps, None)
    }

    /// The plan of a review made for one (`plan::compute::for_plan`), taking over its rendered texts
    /// (the files the plan writes) and their digests.
    /// `written` holds the texts and digests taken out of it (`Planned::take_written`), so that the
    /// review can be printed from it meanwhile.
    pub fn of_review(
        p: &crate::plan::compute::Planned,
        written: Vec<(String, String)>,
        inputs: BTreeMap<String, String>,
    ) -> PlanFile {
        debug_assert_eq!(written.len(), p.rendered.len());
        let texts =
            p.rendered.iter().zip(written).map(|(f, (digest, content))| {
                (f.instance.as_str(), f.container.as_str(), Text::Digested(digest, content))
            });
        // The steps as the review shows them: each file's actions.
        let shown = p.review.files.iter().map(|f| f.actions.clone()).collect();
        PlanFile::assemble(&p.env, inputs, texts.collect(), &p.deployed, &p.steps, Some(shown))
    }

    /// From each container's (instance, container, rendered text), in the order of `steps`, and the
    /// steps as shown (`describe`) when they are at hand.
    fn assemble(
        env: &Environment,
        inputs: BTreeMap<String, String>,
        texts: Vec<(&str, &str, Text)>,
        deployed: &[DeployedFile],
        steps: &[Steps],
        shown: Option<Vec<Vec<String>>>,
    ) -> PlanFile {
        let by_key: HashMap<(&str, &str), &DeployedFile> =
            deployed.iter().map(|d| ((d.instance.as_str(), d.container.as_str()), d)).collect();
        let mut shown = shown.map(Vec::into_iter);
        let shown: Vec<Option<Vec<String>>> = steps.iter().map(|_| shown.as_mut().and_then(Iterator::next)).collect();
        let containers = texts
            .into_par_iter()
            .zip(steps)
            .zip(shown)
            .map(|(((instance, container, text), s), shown)| {
                let d = by_key.get(&(instance, container)).copied();
                let deployed_digest = d.map_or_else(|| "absent".into(), DeployedFile::digest);
                let rendered_digest = match text {
                    Text::Digested(ref digest, _) => digest.clone(),
                    Text::Borrowed(t) => rendered_digest(s.write_file, t, &deployed_digest),
                };
                PlannedContainer {
                    instance: instance.to_string(),
                    container: container.to_string(),
                    location: d.map(|d| d.shown.clone()).unwrap_or_default(),
                    deployed_digest,
                    state_digest: state_digest(d),
                    rendered_digest,
                    rendered: if s.write_file { text.into_string() } else { String::new() },
                    steps: s.clone(),
                    shown_steps: shown.unwrap_or_else(|| describe(env, s)),
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
                    let lines = memchr::memchr_iter(b'\n', &json).count();
                    let mut indented = Vec::with_capacity(json.len() + 4 * lines + 8);
                    if n > 0 || i > 0 {
                        indented.extend_from_slice(b",\n");
                    }
                    indented.extend_from_slice(b"    ");
                    let mut from = 0;
                    for nl in memchr::memchr_iter(b'\n', &json) {
                        indented.extend_from_slice(&json[from..=nl]);
                        indented.extend_from_slice(b"    ");
                        from = nl + 1;
                    }
                    indented.extend_from_slice(&json[from..]);
                    Ok(indented)
                })
                .collect::<serde_json::Result<_>>()?;
            for item in &items {
                w.write_all(item)?;
            }
        }
        w.write_all(b"\n  ]\n}\n")
    }

    /// A plan file is input like any other: its names must be names, and each container once.
    pub fn check_names(&self, path: &Path) -> Result<(), Diagnostic> {
        crate::env::check_env_name(&self.environment)
            .map_err(|d| Diagnostic { location: Some(Location::file(path)), ..d })?;
        let mut seen = std::collections::HashSet::new();
        for c in &self.containers {
            if !crate::env::name_ok(&c.instance) || !crate::env::name_ok(&c.container) {
                return Err(Diagnostic::in_file(
                    path,
                    "a container or instance of the plan is not a name nlconf writes",
                )
                .with_help("make a new plan with nlconf plan"));
            }
            if !seen.insert((c.instance.as_str(), c.container.as_str())) {
                return Err(Diagnostic::in_file(
                    path,
                    format!("the plan names {} ({}) twice", c.container, c.instance),
                )
                .with_help("make a new plan with nlconf plan"));
            }
        }
        Ok(())
    }

    /// Whether this plan has been carried out: the repository is as planned (every input the same,
    /// the same containers) and a plan made now (`now`) has nothing left to do anywhere. (The
    /// rendered texts themselves may differ from the plan's: nlserver's encrypted values, written
    /// by the credential steps, are carried over into them since.)
    pub fn already_applied(&self, now: &PlanFile) -> bool {
        self.environment == now.environment
            && self.inputs == now.inputs
            && !now.has_changes()
            && self.containers.len() == now.containers.len()
            && {
                let now_keys = now.by_key();
                self.containers.iter().all(|c| now_keys.contains_key(&c.key()))
            }
    }

    /// Each container by its (instance, container): a fleet's plan is compared with another
    /// container by container, and a search for each would grow with the square of the fleet.
    fn by_key(&self) -> HashMap<(&str, &str), &PlannedContainer> {
        self.containers.iter().map(|c| (c.key(), c)).collect()
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
        let (now_keys, mine) = (now.by_key(), self.by_key());
        for c in &self.containers {
            let file = format!("config-{}.xml", c.instance);
            let Some(&n) = now_keys.get(&c.key()) else {
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
            if n.rendered_digest != c.rendered_digest && n.deployed_digest == c.deployed_digest {
                out.push(format!("{}: the rendered {file} differs from the plan's", c.container));
            }
            if n.steps != c.steps {
                out.push(format!("{}: the steps for {file} differ from the plan's", c.container));
            }
        }
        for n in &now.containers {
            if !mine.contains_key(&n.key()) {
                out.push(format!("{}: config-{}.xml is new since the plan", n.container, n.instance));
            }
        }
        out
    }
}

/// The largest plan file read (512 MB): a 5,000-container plan is about 60 MB.
pub const MAX_PLAN_BYTES: u64 = 512 * 1024 * 1024;

/// Reads a plan file, refusing another schema or another nlconf version.
pub fn read(path: &Path) -> Result<PlanFile, Diagnostic> {
    let bytes = crate::support::fs::read_input(path, MAX_PLAN_BYTES, None).map_err(|e| match e {
        InputError::NotFound => Diagnostic::in_file(path, "cannot read the plan: No such file or directory"),
        InputError::Unreadable(e) => Diagnostic::in_file(path, format!("cannot read the plan: {}", io_reason(&e))),
        e => Diagnostic::in_file(path, e.reason()),
    })?;
    let not_a_plan = |e: serde_json::Error| {
        Diagnostic::at(Location::new(path, e.line() as u32, e.column() as u32), format!("not an nlconf plan file: {e}"))
    };
    // The schema first: a plan of another version has other fields, and says so rather than which.
    #[derive(Deserialize)]
    struct Schema {
        schema: String,
    }
    let Schema { schema } = serde_json::from_slice(&bytes).map_err(not_a_plan)?;
    if schema != PLAN_SCHEMA {
        return Err(Diagnostic::in_file(
            path,
            format!("plan schema `{schema}` is not the `{PLAN_SCHEMA}` this nlconf reads"),
        ));
    }
    let plan: PlanFile = serde_json::from_slice(&bytes).map_err(not_a_plan)?;
    if plan.nlconf_version != env!("CARGO_PKG_VERSION") {
        return Err(Diagnostic::in_file(
            path,
            format!(
                "the plan was made by nlconf {}, this is nlconf {}: rendering may differ",
                plan.nlconf_version,
                env!("CARGO_PKG_VERSION")
            ),
        )
        .with_help("make a new plan with this nlconf and review it"));
    }
    Ok(plan)
}

/// Writes a plan file, creating its folder.
pub fn write(path: &Path, plan: &PlanFile) -> Result<(), Diagnostic> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| Diagnostic::in_file(path, format!("cannot create the folder: {}", io_reason(&e))))?;
    }
    // Replaced atomically (apply never reads half a plan) but not synced to disk: a plan lost in a
    // crash is made again, and syncing megabytes would be a tenth of a fleet's plan.
    crate::support::fs::write_replace_with(path, 0o644, |w| plan.write_json(w))
        .map_err(|e| Diagnostic::in_file(path, format!("cannot write the plan: {}", io_reason(&e))))
}
