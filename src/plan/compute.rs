//! The review against what is deployed, the stage behind `diff`, `plan` and `apply`: per container,
//! in one parallel pass, check its settings, read and parse its deployed file, render, compare, and
//! plan the steps; then the notes and the digest of every input.

use std::borrow::Cow;
use std::collections::BTreeMap;

use rayon::prelude::*;

use super::Steps;
use crate::credentials::CredentialStep;
use crate::deployed::{self, DeployedFile, Hosts, Reads, Source};
use crate::diag::{Diagnostic, Diagnostics, Staged, Warned};
use crate::env::serverconf::Shared;
use crate::env::value::Value;
use crate::env::{Container, Environment, Instance, TargetKind};
use crate::render::{Placeholder, RenderedFile, Templates};
use crate::repo::Repository;
use crate::review::credentials::{CredentialReview, FieldChange};
use crate::review::format::Review;
use crate::review::mask::fingerprint;
use crate::review::{self, FileReview, Input, Names, Options};
use crate::secrets::{FingerprintKey, Identities, SecretStore};
use crate::support::clock::Timings;
use crate::support::xml::XmlElement;

/// What the review needs besides the environment and its templates.
pub struct Request<'a> {
    pub repo: &'a Repository,
    pub source: &'a Source,
    pub options: Options,
    /// With an identity, secrets written into files are compared with the deployed plaintext, and
    /// credentials with what was last applied.
    pub identities: Option<&'a Identities>,
    /// How the deployed files are read from hosts.
    pub hosts: &'a Hosts<'a>,
}

/// Everything the review computes: the rendered files, the deployed ones, the review, the steps.
pub struct Planned {
    pub env: Environment,
    /// The rendered files, their texts as `Texts` says.
    pub rendered: Vec<RenderedFile>,
    /// With `Texts::Written`: what the plan records of each rendered file (same order as
    /// `rendered`; `plan::file::rendered_digest`).
    pub rendered_digests: Vec<String>,
    pub deployed: Vec<DeployedFile>,
    pub review: Review,
    /// Per container (same order as `rendered`), what apply would do.
    pub steps: Vec<Steps>,
    /// The decrypted secrets, when an identity was at hand.
    pub secrets: Option<SecretStore>,
    /// Every input and its digest: YAML files, recipients, templates.
    pub inputs: BTreeMap<String, String>,
    pub timings: Timings,
}

impl Planned {
    /// The digest and the text (empty when not kept) of each rendered file, taken out: what a plan
    /// file records of them.
    pub fn take_written(&mut self) -> Vec<(String, String)> {
        let digests = std::mem::take(&mut self.rendered_digests);
        self.rendered.iter_mut().zip(digests).map(|(f, digest)| (digest, std::mem::take(&mut f.content))).collect()
    }

    /// The review alone, as the process is about to end: the decrypted secrets are dropped, which
    /// wipes them. Nothing else holds a plaintext (rendered texts carry placeholders, and each
    /// deployed text was dropped once compared), so the fleet's trees are not freed one by one,
    /// which would only cost time.
    pub fn into_review(mut self) -> Review {
        drop(self.secrets.take());
        debug_assert!(self.deployed.iter().all(|d| d.content.is_none()));
        let review = std::mem::replace(
            &mut self.review,
            Review {
                environment: String::new(),
                against: String::new(),
                base: None,
                files: Vec::new(),
                credentials: Vec::new(),
                notes: Vec::new(),
            },
        );
        std::mem::forget(self);
        review
    }
}

/// Which rendered texts a review keeps once each is compared: on a fleet they are most of the
/// memory, and a run pays for every megabyte it touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Texts {
    /// Every text (apply writes from them; adopt records them).
    All,
    /// The texts of the files the steps write, and the digest of every text (a plan file).
    Written,
    /// None (the review alone).
    None,
}

/// Renders every container of `env` and compares it with its deployed file.
pub fn against_deployed(env: Environment, templates: &Templates, req: &Request) -> Staged<Planned> {
    review_all(env, templates, req, Texts::All)
}

/// `against_deployed` for a plan file: the rendered texts of the files the plan writes, and the
/// digest of each (`Planned::rendered_digests`); the other texts are dropped once compared.
pub fn for_plan(env: Environment, templates: &Templates, req: &Request) -> Staged<Planned> {
    review_all(env, templates, req, Texts::Written)
}

/// `against_deployed` for the review alone: no rendered text is kept once compared.
pub fn review_only(env: Environment, templates: &Templates, req: &Request) -> Staged<Planned> {
    review_all(env, templates, req, Texts::None)
}

fn review_all(env: Environment, templates: &Templates, req: &Request, texts: Texts) -> Staged<Planned> {
    let mut timings = Timings::default();
    let mut diags = Diagnostics::new();
    if let Source::Dir(dir) = req.source
        && !dir.is_dir()
    {
        return Err(Diagnostic::in_file(dir, "--deployed: no such folder")
            .with_help("expected a copy laid out as `render --out` writes it: DIR/<container>/config-<instance>.xml")
            .into());
    }
    // Servers are contacted only for a repository without errors: with a remote target, every
    // container is checked first (elsewhere each one is checked as it is rendered, and reading a
    // local file for a container that turns out wrong costs nothing).
    if matches!(req.source, Source::Target) && env.target.kind == TargetKind::Ssh {
        diags.extend(env.check_serverconf());
        if diags.has_errors() {
            return Err(diags);
        }
    }
    // Every secret of the environment is decrypted, each once, before anything is rendered (a
    // secret that every container overrides is decrypted for nothing, and must decrypt like any
    // other). Without an identity nothing needs decrypting.
    let started = std::time::Instant::now();
    let secrets = match req.identities {
        None => None,
        Some(ids) => {
            let store = match env.decrypt_all(ids) {
                Ok(store) => store,
                Err(d) => {
                    diags.extend(d);
                    return Err(diags);
                }
            };
            diags.extend(crate::credentials::check_plaintexts(&env, &store));
            if diags.has_errors() {
                return Err(diags);
            }
            timings.record(format!("decrypted {}", crate::support::count(store.len(), "secret")), started);
            Some(store)
        }
    };
    let started = std::time::Instant::now();
    let key = FingerprintKey::random();
    // Each instance's settings are taken out and dropped once its containers are reviewed: on a
    // fleet they are most of the memory, and what a run frees, the next instances reuse instead of
    // touching new pages. (Nothing after a review reads them; `explain` loads its own.)
    let mut env = env;
    // The YAML texts too, digested alongside the review (`inputs`) and each dropped once digested.
    let yaml: Vec<(String, String)> =
        env.files.iter_mut().map(|f| (f.display.to_string_lossy().into_owned(), std::mem::take(&mut f.text))).collect();
    let bases: Vec<Value> =
        env.instances.iter_mut().map(|i| std::mem::replace(&mut i.base, Value::empty_map(i.origin.clone()))).collect();
    let pairs: Vec<(&Instance, &Container)> = env.containers().collect();
    // Over ssh, every host's files first, in one round trip per host and `parallelism` hosts at
    // once; the CPU work after, on the cores.
    let locations: Vec<_> =
        pairs.iter().map(|(i, c)| deployed::location(&req.repo.root, &env, req.source, i, c)).collect();
    let names: Vec<&str> = pairs.iter().map(|(i, _)| i.name.as_str()).collect();
    let fetched = deployed::prefetch(&locations, &names, req.hosts);
    // Instance by instance (in parallel, and each one's containers in parallel): its own settings
    // checked once for all its containers, and dropped with the instance's last container.
    let mut jobs = pairs.iter().zip(&locations).zip(fetched);
    let by_instance: Vec<(&Instance, Value, Vec<_>)> = env
        .instances
        .iter()
        .zip(bases)
        .map(|(i, base)| (i, base, jobs.by_ref().take(i.containers.len()).collect()))
        .collect();
    // The digests of the inputs alongside: a whole environment in one file is megabytes to hash on
    // one thread, which would otherwise be a serial tail.
    let (inputs, results) = rayon::join(
        || inputs(yaml, &env, templates),
        || {
            by_instance
                .into_par_iter()
                .flat_map_iter(|(inst, base, members)| {
                    let shared = env.shared_serverconf_of(inst, &base);
                    let pass =
                        Pass { secrets: secrets.as_ref(), key: &key, texts, base: &base, shared: shared.as_ref() };
                    let reviewed: Vec<Staged<Reviewed>> = members
                        .into_par_iter()
                        .map(|(((i, c), loc), reads)| review_container(&env, templates, req, (i, c, loc, reads), &pass))
                        .collect();
                    reviewed
                })
                .collect::<Vec<Staged<Reviewed>>>()
        },
    );
    let mut rendered = Vec::with_capacity(results.len());
    let mut rendered_digests = Vec::with_capacity(if texts == Texts::Written { results.len() } else { 0 });
    let mut deployed = Vec::with_capacity(results.len());
    let mut files = Vec::with_capacity(results.len());
    let mut steps = Vec::with_capacity(results.len());
    for r in results {
        if let Some(r) = diags.take(r) {
            rendered_digests.extend(r.digest);
            rendered.push(r.rendered);
            deployed.push(r.deployed);
            files.push(r.review);
            steps.push(r.steps);
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    let (notes, credentials) = (super::notes(&env, &deployed), planned_credentials(&env, &steps));
    let present = deployed.iter().filter(|d| d.digest != "absent").count();
    timings.record(
        format!(
            "read {present} deployed files ({} absent), rendered and compared {}",
            deployed.len() - present,
            crate::support::count(files.len(), "file")
        ),
        started,
    );
    let review =
        Review { environment: env.name.clone(), against: "deployed".into(), base: None, files, credentials, notes };
    diags.finish(Planned { env, rendered, rendered_digests, deployed, review, steps, secrets, inputs, timings })
}

/// Every input of a review and its digest: the YAML files (name and text, taken out of the
/// environment, each text dropped once digested), recipients, templates.
fn inputs(yaml: Vec<(String, String)>, env: &Environment, templates: &Templates) -> BTreeMap<String, String> {
    let mut inputs: BTreeMap<String, String> =
        yaml.into_iter().map(|(name, text)| (name, crate::support::digest::sha256(text.as_bytes()))).collect();
    if let Some(r) = &env.recipients {
        inputs.insert(format!("environments/{}/recipients", env.name), format!("recipients:{}", r.digest()));
    }
    for (name, digest) in &templates.digests {
        inputs.insert(templates.shown(name), digest.clone());
    }
    inputs
}

/// One container's pass.
struct Reviewed {
    rendered: RenderedFile,
    /// With `Texts::Written`, the digest of the rendered text.
    digest: Option<String>,
    deployed: DeployedFile,
    review: FileReview,
    steps: Steps,
}

/// What each container's pass shares: the decrypted secrets, the run's fingerprint key, and the
/// texts to keep.
struct Pass<'a> {
    secrets: Option<&'a SecretStore>,
    key: &'a FingerprintKey,
    texts: Texts,
    /// The container's instance's settings (`Instance::base`, taken out of the instance).
    base: &'a Value,
    /// The container's instance's own settings, checked once (`Environment::shared_serverconf`).
    shared: Option<&'a Shared<'a>>,
}

fn review_container(
    env: &Environment,
    templates: &Templates,
    req: &Request,
    (i, c, loc, reads): (&Instance, &Container, &crate::target::Location, Option<Reads>),
    pass: &Pass,
) -> Staged<Reviewed> {
    let Pass { secrets, key, texts, base, shared } = *pass;
    let Warned { value: tree, warnings: mut diags } = env.checked_serverconf_of(i, base, c, shared)?;
    let result = (|| {
        let mut d = deployed::read_one_with(loc, i, c, reads)?;
        let mut f = templates.render_tree(env, i, c, tree, d.tree.as_ref())?;
        let (review, tree) = compare_one(&f, &d, secrets, key, &req.options)?;
        if let Some(tree) = tree {
            f.tree = Some(tree);
        }
        let steps = super::steps_of(env, &f, Some(&d), &review, secrets);
        let review = FileReview { actions: super::describe(env, &steps), ..review };
        // Only the texts apply writes and the digests the plan records stay for the whole fleet.
        f.tree = None;
        d.tree = None;
        d.content = None;
        let digest =
            (texts == Texts::Written).then(|| super::file::rendered_digest(steps.write_file, &f.content, &d.digest));
        if texts == Texts::None || texts == Texts::Written && !steps.write_file {
            f.content = String::new();
        } else {
            f.content.shrink_to_fit();
        }
        Ok(Reviewed { rendered: f, digest, deployed: d, review, steps })
    })();
    match result {
        Ok(r) => diags.finish(r),
        Err(d) => {
            diags.push(d);
            Err(diags)
        }
    }
}

/// Compares a rendered file with the deployed one. The rendered tree is parsed only when the file
/// changes, and returned then (the plan's steps look at it).
fn compare_one(
    f: &RenderedFile,
    d: &DeployedFile,
    secrets: Option<&SecretStore>,
    key: &FingerprintKey,
    opts: &Options,
) -> Result<(FileReview, Option<XmlElement>), Diagnostic> {
    let resolve_new = |p: Placeholder| match p {
        Placeholder::Secret(id) => secrets.and_then(|s| s.get(id)).map(|v| v.fingerprint(key)),
        Placeholder::Kept(k) => f.kept.get(k).map(|v| fingerprint(key, v)),
    };
    let resolve_old = |_: Placeholder| None;
    let names = Names {
        instance: f.instance.clone(),
        container: f.container.clone(),
        path: f.rel_path(),
        old_source: d.shown.clone(),
    };
    // What apply would write (`reveal`): when it is the deployed file byte for byte, nothing changes
    // (the kept values are the deployed file's own). Secrets take part when all of them are known.
    let known = |id| secrets.and_then(|s| s.get(id));
    if let Some(deployed) = d.content.as_ref()
        && f.secrets.iter().all(|&id| known(id).is_some())
        && crate::render::reveals_as(f, known, "", deployed.as_str())
    {
        return Ok((review::unchanged(names), None));
    }
    // What apply last wrote from secrets is plaintext there, masked whatever the YAML says now.
    let written = d.state.as_ref().map_or(&[][..], |s| s.secret_attributes.as_slice());
    let old = d.content.as_ref().zip(d.tree.as_ref()).map(|(text, tree)| Input {
        text: text.as_str(),
        tree,
        resolve: &resolve_old,
        secret_attributes: written,
    });
    let tree = f.tree()?;
    let new = Input { text: &f.content, tree: &tree, resolve: &resolve_new, secret_attributes: &[] };
    let review = review::compare(names, old, Some(new), opts, key);
    Ok((review, if let Cow::Owned(t) = tree { Some(t) } else { None }))
}

/// Against deployed files: the credential steps the plan runs, per instance and step, with the
/// containers and why.
fn planned_credentials(env: &Environment, steps: &[Steps]) -> Vec<CredentialReview> {
    let mut out: Vec<CredentialReview> = Vec::new();
    // Where each (instance, step) is in `out`.
    let mut at: std::collections::HashMap<(&str, &str), usize> = std::collections::HashMap::new();
    for s in steps {
        for c in &s.credentials {
            let Some(step) = env.instance(&s.instance).and_then(|i| CredentialStep::find(i, &c.kind)) else { continue };
            let entry = match at.get(&(s.instance.as_str(), c.kind.as_str())) {
                Some(&i) => &mut out[i],
                None => {
                    at.insert((s.instance.as_str(), c.kind.as_str()), out.len());
                    out.push(CredentialReview {
                        instance: s.instance.clone(),
                        step: c.kind.clone(),
                        change: "to run".into(),
                        fields: step
                            .fields()
                            .into_iter()
                            .map(|(k, v)| FieldChange { name: k.into(), old: None, new: Some(v) })
                            .collect(),
                        secrets: Vec::new(),
                        command: Some(step.shown(&env.nlserver)),
                        containers: Vec::new(),
                        reasons: Vec::new(),
                    });
                    let last = out.len() - 1;
                    &mut out[last]
                }
            };
            entry.containers.push(s.container.clone());
            entry.reasons.push(format!("{}: {}", s.container, c.why));
        }
    }
    out
}
