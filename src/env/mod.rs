//! An environment: its YAML files merged in layers, validated against the schema, as a typed model.

pub mod dblogin;
pub mod explain;
pub mod ims;
pub mod restart;
pub mod serverconf;
pub mod value;

use std::collections::HashMap;
use std::sync::Arc;

use crate::diag::{Diagnostic, Diagnostics, Location, Staged, Warned, did_you_mean};
use rayon::prelude::*;

use crate::repo::Repository;
use crate::secrets::{BindingStatus, Ciphertext, Identities, RecipientSet, SecretId, SecretStore};
use crate::support::fs::InputError;
use crate::support::yaml::{self, Pos, SourceFile, Tag};

pub use dblogin::DbLogin;
pub use ims::{Auth, Ims};
pub use serverconf::{Attr, AttrValue, Element};
pub use value::{Origin, SourceName, Value};

/// First ACC build with `nlserver config -setimsoauth` (7.4.1, OAuth Server-to-Server).
pub const OAUTH_MIN_BUILD: u32 = 9383;

#[derive(Debug)]
pub struct Environment {
    pub name: String,
    /// Its YAML files. A review (`plan::compute`) takes their texts out to digest them: after one,
    /// the texts are empty.
    pub files: Vec<SourceFile>,
    pub build: u32,
    pub target: Target,
    pub nlserver: String,
    pub instances: Vec<Instance>,
    /// Which modules restart after the reload, when what changes.
    pub restart: restart::RestartPolicy,
    pub secrets: Vec<SecretSlot>,
    /// Who may decrypt the secrets (`environments/<env>/recipients`); absent when there are none.
    pub recipients: Option<RecipientSet>,
    /// Where each secret is written, to its index in `secrets`.
    pub secret_index: HashMap<Origin, SecretId>,
    /// The `defaults:` block (merged into each instance's `base`), to tell in a finding which layer
    /// a value was written in.
    pub defaults: Option<Value>,
    /// Each instance's place in `instances`, by name: a review looks an instance up for each of its
    /// containers' steps, and a search of a thousand instances for each of five thousand containers
    /// was a tenth of a large fleet's review.
    instance_index: HashMap<String, usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    Local,
    Ssh,
}

#[derive(Debug, Clone)]
pub struct Target {
    pub kind: TargetKind,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub conf_dir: String,
    pub options: Vec<String>,
    /// Seconds ssh waits for a host to answer (`ConnectTimeout`), so a host that drops packets
    /// fails its container instead of hanging the run.
    pub connect_timeout: u32,
}

// The keys each level of a file may hold, and their defaults: one table, which `nlconf schema` shows
// to editors.
pub use crate::schema::keys::DEFAULT_CONNECT_TIMEOUT;
use crate::schema::keys::{self, DEFAULT_CONF_DIR, DEFAULT_NLSERVER, Key};

/// ssh options that make the machine running nlconf run a program or load a library: in a
/// repository's `target.options`, any writer of the repository could run code wherever `plan`
/// runs, before any review. They belong in the operator's `~/.ssh/config`.
const LOCAL_CODE_OPTIONS: &[&str] = &[
    "proxycommand",
    "localcommand",
    "permitlocalcommand",
    "knownhostscommand",
    "match",
    "include",
    "pkcs11provider",
    "securitykeyprovider",
    "xauthlocation",
    "remotecommand",
];

#[derive(Debug)]
pub struct Instance {
    pub name: String,
    pub origin: Origin,
    pub containers: Vec<Container>,
    /// The technical account, when nlconf manages its credentials.
    pub ims: Option<Ims>,
    /// The client ID the `ims:` block names, managed or not.
    pub ims_client_id: Option<String>,
    /// The default data source's login, when its password is an `!age` secret.
    pub db_login: Option<DbLogin>,
    /// The instance's settings over the `defaults:` block, before containerOverrides (kept once per
    /// instance rather than once per container: on a fleet that is most of the memory). A review
    /// (`plan::compute`) takes them out and drops them as it goes: after one, this is empty.
    pub base: Value,
}

#[derive(Debug)]
pub struct Container {
    pub name: String,
    pub origin: Origin,
    pub host: Option<String>,
    pub conf_dir: Option<String>,
    /// This container's `containerOverrides` (its settings are the instance's `base` merged with them).
    pub overrides: Option<Value>,
}

/// An `!age` value in one of the environment's files.
#[derive(Debug, Clone)]
pub struct SecretSlot {
    /// The dotted YAML path from the file's root, e.g. `instances.mkt_prod.ims.clientSecret`.
    pub yaml_path: String,
    pub origin: Origin,
    /// The scalar's text: an optional binding header and one armored age file.
    pub text: String,
    /// The parsed ciphertext (after validation).
    pub ciphertext: Option<Ciphertext>,
    /// A block scalar (`!age |`): its text starts on the line after the tag.
    pub block: bool,
}

impl Environment {
    pub fn instance(&self, name: &str) -> Option<&Instance> {
        // `instances` is public: an index that no longer matches it is not trusted, and the search
        // it replaced answers instead.
        match self.instance_index.get(name).and_then(|&i| self.instances.get(i)) {
            Some(inst) if inst.name == name => Some(inst),
            _ => self.instances.iter().find(|i| i.name == name),
        }
    }

    /// The `!age` value a handle names.
    pub fn secret(&self, id: SecretId) -> Option<&SecretSlot> {
        self.secrets.get(id.index())
    }

    /// Every secret of the environment, decrypted, each once.
    pub fn decrypt_all(&self, ids: &Identities) -> Result<SecretStore, Diagnostics> {
        let all: Vec<SecretId> = (0..self.secrets.len()).map(SecretId::new).collect();
        decrypt_slots(&self.secrets, &all, ids)
    }

    /// The end-of-life warning, naming the instances that use JWT credentials, if any does.
    pub fn jwt_warning(&self) -> Option<Diagnostic> {
        let names: Vec<String> = self
            .instances
            .iter()
            .filter(|i| i.ims.as_ref().is_some_and(|x| x.auth == Auth::Jwt))
            .map(|i| format!("{}/{}", self.name, i.name))
            .collect();
        if names.is_empty() {
            return None;
        }
        Some(
            Diagnostic::warning(None, format!("{} ({} uses `auth: jwt`)", ims::JWT_END_OF_LIFE, names.join(", ")))
                .with_help(ims::JWT_MIGRATION),
        )
    }

    /// What the schema check finds in every container's `serverconf` (in parallel; the trees are
    /// dropped as they are checked): `load` runs it, and commands that render build the trees anyway.
    pub fn check_serverconf(&self) -> Diagnostics {
        let found = self.each_container(|inst, c, shared| match self.checked_serverconf_with(inst, c, shared) {
            Ok(tree) => tree.warnings,
            Err(all) => all,
        });
        found.into_iter().fold(Diagnostics::new(), |mut all, d| {
            all.extend(d);
            all
        })
    }

    /// `f` of every container, in order, with its instance's own settings checked once
    /// (`shared_serverconf`): instances in parallel, each one's containers in turn, its check
    /// dropped after them (all of a fleet's at once were most of what `validate` held).
    pub fn each_container<T: Send>(
        &self,
        f: impl Fn(&Instance, &Container, Option<&serverconf::Shared>) -> T + Sync,
    ) -> Vec<T> {
        self.instances
            .par_iter()
            .flat_map_iter(|inst| {
                let shared = self.shared_serverconf(inst);
                inst.containers.iter().map(|c| f(inst, c, shared.as_ref())).collect::<Vec<T>>()
            })
            .collect()
    }

    /// Every container with its instance, in order.
    pub fn containers(&self) -> impl Iterator<Item = (&Instance, &Container)> {
        self.instances.iter().flat_map(|i| i.containers.iter().map(move |c| (i, c)))
    }

    /// A container's `serverconf` tree, ready to render, with what the schema check finds in it.
    /// Environments keep none of these trees (on a fleet they would be most of the memory): each is
    /// built when its file is rendered, and dropped once written.
    pub fn checked_serverconf(&self, inst: &Instance, c: &Container) -> Staged<Element> {
        self.checked_serverconf_with(inst, c, None)
    }

    /// The instance's own `serverconf`, checked once for its containers (`checked_serverconf_with`):
    /// `None` when the check finds anything.
    pub fn shared_serverconf<'a>(&self, inst: &'a Instance) -> Option<serverconf::Shared<'a>> {
        self.shared_serverconf_of(inst, &inst.base)
    }

    /// `shared_serverconf` from the instance's settings held apart (`base`, taken out of the
    /// instance by a review that drops each instance's settings once its containers are done).
    pub fn shared_serverconf_of<'a>(&self, inst: &Instance, base: &'a Value) -> Option<serverconf::Shared<'a>> {
        let place = serverconf::Place {
            env: &self.name,
            instance: &inst.name,
            container: "",
            defaults: self.defaults.as_ref(),
            overrides: None,
        };
        serverconf::shared(base.get("serverconf"), &self.secret_index, &place)
    }

    /// `checked_serverconf`, reusing the instance's own settings checked once (`shared_serverconf`)
    /// for every part the container does not override: the same tree, without checking the
    /// instance's settings again for each of its containers.
    pub fn checked_serverconf_with(
        &self,
        inst: &Instance,
        c: &Container,
        shared: Option<&serverconf::Shared>,
    ) -> Staged<Element> {
        self.checked_serverconf_of(inst, &inst.base, c, shared)
    }

    /// `checked_serverconf_with` from the instance's settings held apart (`shared_serverconf_of`).
    pub fn checked_serverconf_of(
        &self,
        inst: &Instance,
        base: &Value,
        c: &Container,
        shared: Option<&serverconf::Shared>,
    ) -> Staged<Element> {
        let mut diags = Diagnostics::new();
        let place = serverconf::Place {
            env: &self.name,
            instance: &inst.name,
            container: &c.name,
            defaults: self.defaults.as_ref(),
            overrides: c.overrides.as_ref(),
        };
        let tree = container_serverconf(&mut diags, base, &place, &self.secret_index, shared);
        diags.finish(tree)
    }
}

fn container_serverconf(
    diags: &mut Diagnostics,
    base: &Value,
    place: &serverconf::Place,
    secrets: &HashMap<Origin, SecretId>,
    shared: Option<&serverconf::Shared>,
) -> Element {
    // The pipelined rules need to know whether an `ims:` block is there, even one with errors.
    let has_ims = base.get("ims").is_some();
    let mut tree = match place.overrides {
        Some(o) => {
            let settings = base.overlay(o);
            serverconf::build(diags, settings.get("serverconf"), &settings.origin, has_ims, secrets, place, shared)
        }
        None => serverconf::build(diags, base.get("serverconf"), &base.origin, has_ims, secrets, place, shared),
    };
    without_db_password(&mut tree);
    tree
}

/// The default data source's `!age` password is set by `nlserver config -setdblogin`, never
/// written into the file: nlserver writes it encrypted, and rendering carries that over.
fn without_db_password(tree: &mut Element) {
    let default_source = |e: &Element| {
        e.name == "dataSource"
            && e.attr("name").is_some_and(|n| matches!(&n.value, AttrValue::Text(t) if &**t == "default"))
    };
    let secret_password = |a: &Attr| a.name == "password" && matches!(a.value, AttrValue::Secret(_));
    let steps: [&dyn Fn(&Element) -> bool; 4] =
        [&|e| e.name == "shared", &|e| e.name == "dataStore", &default_source, &|e| e.name == "dbcnx"];
    // Looked for first, then changed: the elements on the way may be the instance's, shared, and
    // are copied to be changed (`Arc::make_mut`), which most containers never need.
    if !below(tree, &steps).is_some_and(|c| c.attrs.iter().any(secret_password)) {
        return;
    }
    if let Some(dbcnx) = below_mut(tree, &steps) {
        dbcnx.attrs.retain(|a| !secret_password(a));
    }
}

/// The element reached from `el` by taking, at each step, the first child the step picks.
fn below<'a>(el: &'a Element, steps: &[&dyn Fn(&Element) -> bool]) -> Option<&'a Element> {
    steps.iter().try_fold(el, |el, step| el.children.iter().find(|c| step(c)).map(|c| &**c))
}

/// `below`, to change: each element on the way is copied first if it is shared (`Arc::make_mut`).
fn below_mut<'a>(el: &'a mut Element, steps: &[&dyn Fn(&Element) -> bool]) -> Option<&'a mut Element> {
    steps.iter().try_fold(el, |el, step| el.children.iter_mut().find(|c| step(c)).map(Arc::make_mut))
}

impl Environment {
    /// An instance by name, and one of its containers when one is named: an error lists the names
    /// there are.
    pub fn select(
        &self,
        instance: &str,
        container: Option<&str>,
    ) -> Result<(&Instance, Option<&Container>), Diagnostic> {
        let Some(inst) = self.instance(instance) else {
            let known: Vec<&str> = self.instances.iter().map(|i| i.name.as_str()).collect();
            return Err(Diagnostic::error(None, format!("environment `{}` has no instance `{instance}`", self.name))
                .with_help(format!("instances are: {}", known.join(", "))));
        };
        let Some(c) = container else { return Ok((inst, None)) };
        match inst.container(c) {
            Some(cont) => Ok((inst, Some(cont))),
            None => {
                let known: Vec<&str> = inst.containers.iter().map(|x| x.name.as_str()).collect();
                Err(Diagnostic::error(None, format!("instance `{instance}` has no container `{c}`"))
                    .with_help(format!("containers are: {}", known.join(", "))))
            }
        }
    }
}

impl Instance {
    pub fn container(&self, name: &str) -> Option<&Container> {
        self.containers.iter().find(|c| c.name == name)
    }

    /// A container's merged settings, with provenance (for `explain`).
    pub fn settings_of(&self, c: &Container) -> Value {
        match &c.overrides {
            Some(o) => self.base.clone().merge(o.clone()),
            None => self.base.clone(),
        }
    }
}

/// An environment's YAML files, read and parsed, with the `!age` values they hold.
pub struct Sources {
    pub files: Vec<SourceFile>,
    pub paths: Vec<std::path::PathBuf>,
    /// Whether each file is the shared `environments/defaults.yaml`.
    pub shared: Vec<bool>,
    pub secrets: Vec<SecretSlot>,
    /// `!age` values where no secret may be: reported, while the files are still read on.
    pub findings: Diagnostics,
}

/// Decrypts the named secrets, each distinct ciphertext once, in parallel. Every failure names the
/// secret's file, line and YAML path.
pub fn decrypt_slots(slots: &[SecretSlot], which: &[SecretId], ids: &Identities) -> Result<SecretStore, Diagnostics> {
    let items = which.iter().filter_map(|&id| slots.get(id.index())?.ciphertext.as_ref().map(|ct| (id, ct)));
    let (store, failed) = SecretStore::decrypt(items, ids);
    let mut diags = Diagnostics::new();
    for (id, why) in failed {
        let Some(slot) = slots.get(id.index()) else { continue };
        let message = match why {
            Some(e) => format!("{}: {e}", slot.yaml_path),
            None => format!("{}: the ciphertext is not valid", slot.yaml_path),
        };
        diags.push(Diagnostic::at(slot.origin.location(), message));
    }
    // A slot without a parsed ciphertext was reported when the environment was loaded.
    for &id in which {
        if let Some(slot) = slots.get(id.index())
            && slot.ciphertext.is_none()
        {
            diags.push(Diagnostic::at(
                slot.origin.location(),
                format!("{}: the ciphertext is not valid", slot.yaml_path),
            ));
        }
    }
    if diags.has_errors() { Err(diags) } else { Ok(store) }
}

/// Reads and parses the environment's files and finds its secrets, without validating anything else.
pub fn read_sources(repo: &Repository, name: &str) -> Staged<Sources> {
    let Warned { value: read, warnings } = read_trees(repo, name, |_| yaml::Nodes)?;
    let files = read.files.into_iter().map(|(display, text, root)| SourceFile { display, text, root }).collect();
    let Read { paths, shared, secrets, findings, .. } = read;
    warnings.finish(Sources { files, paths, shared, secrets, findings })
}

/// An environment's files read, each parsed into the tree a builder builds, with their secrets.
struct Read<T> {
    /// Each file as shown, its text and its tree.
    files: Vec<(std::path::PathBuf, String, T)>,
    paths: Vec<std::path::PathBuf>,
    shared: Vec<bool>,
    secrets: Vec<SecretSlot>,
    findings: Diagnostics,
}

/// Reads the environment's files and parses each with the builder `builder` makes for its name; finds
/// the secrets. Files are read, parsed and searched in parallel, findings kept in file order.
fn read_trees<B: yaml::Build>(
    repo: &Repository,
    name: &str,
    builder: impl Fn(SourceName) -> B + Sync,
) -> Staged<Read<B::Tree>>
where
    B::Tree: SecretTree,
{
    check_env_name(name).map_err(Diagnostics::from)?;
    let mut diags = Diagnostics::new();
    let paths = repo.environment_files(name).map_err(Diagnostics::from)?;
    let shared_defaults = repo.environments_dir().join("defaults.yaml");
    let shared: Vec<bool> = paths.iter().map(|p| *p == shared_defaults).collect();
    let parsed: Vec<_> = paths
        .par_iter()
        .zip(&shared)
        .map(|(path, &is_shared)| {
            let display = repo.display(path);
            let text = yaml::read_text(path, &display, Some(repo.real_root()))?;
            let fname = SourceName::new(&display.to_string_lossy());
            let (tree, found) = yaml::parse_with(&text, &display, &builder(fname))?;
            // A file with errors is not searched (nothing past the errors is used).
            let (mut slots, mut findings) = (Vec::new(), Diagnostics::new());
            if !found.iter().any(Diagnostic::is_error) {
                collect_secrets(&tree, fname, &mut String::new(), &mut slots, &mut findings, is_shared);
            }
            Ok(((display, text, tree), found, slots, findings))
        })
        .collect();
    let (mut files, mut secrets, mut findings) = (Vec::new(), Vec::new(), Diagnostics::new());
    for result in parsed {
        match result {
            Ok((file, found, slots, found_secrets)) => {
                diags.extend(found.into_iter().collect());
                files.push(file);
                secrets.extend(slots);
                findings.extend(found_secrets);
            }
            Err(d) => diags.push(d),
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    diags.finish(Read { files, paths, shared, secrets, findings })
}

/// Largest `recipients` file read (1 MB): thousands of keys, still one line each.
pub const MAX_RECIPIENTS_BYTES: u64 = 1024 * 1024;

/// Loads an environment's `recipients` file; `None` (with an error) when it is missing or malformed.
pub fn load_recipients(repo: &Repository, name: &str) -> Result<RecipientSet, Diagnostics> {
    let path = repo.recipients_path(name);
    let shown = repo.display(&path);
    let text = match repo.read(&path, MAX_RECIPIENTS_BYTES) {
        Ok(b) => yaml::decode_text(b, &shown, "recipients files").map_err(Diagnostics::from)?,
        Err(InputError::NotFound) => {
            let d = Diagnostic::in_file(&shown, "cannot read the recipients file: No such file or directory")
                .with_help("it lists who may decrypt this environment's secrets, one age1... or ssh-ed25519 key per line (age -R format)");
            return Err(d.into());
        }
        // Not "cannot read ...: " + reason: the reason already says what the file is.
        Err(e) => return Err(Diagnostic::in_file(&shown, e.reason()).into()),
    };
    RecipientSet::parse(&text).map_err(|errors| {
        errors
            .into_iter()
            .map(|e| Diagnostic::at(Location::new(&shown, e.line as u32, e.column as u32), e.message))
            .collect()
    })
}

/// Where a line of a secret's text is in its file (the text starts on the line after `!age |`).
pub fn secret_line(slot: &SecretSlot, line_in_text: usize) -> Location {
    let first = if slot.block { slot.origin.pos.line + 1 } else { slot.origin.pos.line };
    Location::new(slot.origin.file.as_ref(), first + line_in_text.saturating_sub(1) as u32, slot.origin.pos.col)
}

/// Parses each secret's ciphertext and checks where it is bound (DESIGN §4).
fn check_secrets(env: &str, secrets: &mut [SecretSlot], recipients: Option<&RecipientSet>, diags: &mut Diagnostics) {
    // Each armor parsed on the threads (a fleet has thousands), the findings kept in order.
    let found: Vec<Option<Diagnostic>> = secrets
        .par_iter_mut()
        .map(|slot| match Ciphertext::parse(&slot.text) {
            Err(e) => Some(
                Diagnostic::at(secret_line(slot, e.line), format!("{}: {}", slot.yaml_path, e.message))
                    .with_help(format!("restore it from git, or set it again: {}", set_again(env, &slot.yaml_path))),
            ),
            Ok(ct) => {
                let d = binding_finding(env, slot, &ct, recipients, Strictness::Validate);
                slot.ciphertext = Some(ct);
                d
            }
        })
        .collect();
    found.into_iter().flatten().for_each(|d| diags.push(d));
}

/// How hard `binding_finding` is on a secret encrypted to other recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// Loading an environment: a warning (the value still decrypts for whoever has a key).
    Validate,
    /// `secret check`: an error, since someone listed cannot read it (or someone removed still can).
    Check,
}

/// What is wrong with where a secret is bound, if anything: copied from another place (an error),
/// unbound (a warning), or encrypted to another recipient set than the environment's.
pub fn binding_finding(
    env: &str,
    slot: &SecretSlot,
    ct: &Ciphertext,
    recipients: Option<&RecipientSet>,
    strictness: Strictness,
) -> Option<Diagnostic> {
    let at = slot.origin.location();
    let path = &slot.yaml_path;
    match ct.check_binding(env, path) {
        BindingStatus::Moved { from_env, from_path } => Some(
            Diagnostic::at(
                at,
                format!(
                    "{path}: this ciphertext was encrypted for environment `{from_env}` at `{from_path}`, not for `{env}` at `{path}`"
                ),
            )
            .with_help(format!("a secret copied from another place is refused; set this one: {}", set_again(env, path))),
        ),
        BindingStatus::Unbound => Some(
            Diagnostic::warning(Some(at), format!("{path}: unbound secret (encrypted without nlconf's header)"))
                .with_help(if path.contains('[') {
                    "secrets inside lists stay unbound: rekey cannot rewrite them in place".to_string()
                } else {
                    format!("bind it to its place: nlconf secret rekey -e {env}")
                }),
        ),
        BindingStatus::Bound => {
            let b = ct.binding.as_ref()?;
            if recipients.is_none_or(|r| b.recipients_digest == r.digest()) {
                return None;
            }
            let message =
                format!("{path}: not encrypted to exactly the current recipients of environments/{env}/recipients");
            let d = match strictness {
                Strictness::Validate => Diagnostic::warning(Some(at), message),
                Strictness::Check => Diagnostic::at(at, message),
            };
            Some(d.with_help(format!("re-encrypt to the current recipients: nlconf secret rekey -e {env}")))
        }
    }
}

/// The environment a file of `environments/<env>/` belongs to (None for `environments/defaults.yaml`),
/// from the path shown to the user, which is relative to the repository.
fn env_of_file(display: &str) -> Option<&str> {
    let (env, _file) = display.strip_prefix("environments/")?.split_once('/')?;
    Some(env)
}

/// How to set a secret again: `secret set` takes a dotted path; a value inside a list has none.
fn set_again(env: &str, path: &str) -> String {
    if path.contains('[') {
        format!(
            "encrypt it by hand with `age -a -R environments/{env}/recipients` and paste it under `!age |` (secret set takes no path into a list)"
        )
    } else {
        format!("nlconf secret set -e {env} {path}")
    }
}

/// The environment's target alone, for commands that need no instance (import from the target).
pub fn load_target_settings(repo: &Repository, name: &str) -> Staged<Target> {
    let crate::diag::Warned { value: sources, warnings: mut diags } = read_sources(repo, name)?;
    let mut merged: Option<Value> = None;
    for file in &sources.files {
        let fname: Arc<str> = Arc::from(file.display.to_string_lossy().as_ref());
        if matches!(file.root.kind, yaml::Kind::Map(_)) {
            let v = Value::from_node(&file.root, &fname);
            merged = Some(match merged {
                None => v,
                Some(lower) => lower.merge(v),
            });
        }
    }
    match merged.and_then(|tree| load_target(&mut diags, tree.get("target"))) {
        Some(target) => diags.finish(target),
        None => Err(diags),
    }
}

/// Loads, merges and validates one environment: the model with its warnings, or every finding.
pub fn load(repo: &Repository, name: &str) -> Staged<Environment> {
    let crate::diag::Warned { value: env, warnings: mut diags } = load_for_rendering(repo, name)?;
    diags.extend(env.check_serverconf());
    diags.finish(env)
}

/// Like `load`, but leaves each container's `serverconf` to be checked when it is rendered
/// (`Templates::render_checked`, which builds the tree anyway): for commands that render every
/// container, so that no tree is built twice.
pub fn load_for_rendering(repo: &Repository, name: &str) -> Staged<Environment> {
    // Each file is parsed straight into its layer of settings: the merged tree has everything from
    // here on, and each file keeps its text, for digests and edits.
    let Warned { value: Read { files, mut secrets, findings, .. }, warnings: mut diags } =
        read_trees(repo, name, value::Settings)?;
    diags.extend(findings);
    let recipients = match load_recipients(repo, name) {
        Ok(r) => Some(r),
        Err(d) if !secrets.is_empty() => {
            diags.extend(d);
            None
        }
        Err(_) => None,
    };
    check_secrets(name, &mut secrets, recipients.as_ref(), &mut diags);
    let mut layers: Vec<Value> = Vec::with_capacity(files.len());
    let mut sources = Vec::with_capacity(files.len());
    for (display, text, v) in files {
        let pos = v.origin.pos;
        if !v.is_map() {
            diags.error(
                Location::new(&display, pos.line, pos.col),
                format!("expected a map of settings at the top of the file, found {}", v.kind_name()),
            );
        } else {
            layers.push(v);
        }
        sources.push(SourceFile { display, text, root: yaml::Node::empty_map(pos) });
    }
    let files = sources;
    let Some(tree) = value::merge_all(layers) else { return Err(diags) };
    nulls_removing_nothing(&tree, &mut diags);
    match build(name, files, tree, secrets, recipients, &mut diags) {
        Some(env) => diags.finish(env),
        None => Err(diags),
    }
}

/// A `null` removes what a lower layer set; one that removes nothing (no lower layer sets the key)
/// is probably a mistake, and is a warning. An instance's lower layers include the `defaults:`
/// block; `containerOverrides` are left alone (their lower layer is each container's instance).
fn nulls_removing_nothing(tree: &Value, diags: &mut Diagnostics) {
    /// `path`: the map's YAML path, a buffer extended and cut back on the way (a fleet has a hundred
    /// thousand keys, and a `null` is rare).
    fn walk(v: &Value, path: &mut String, lower: Option<&Value>, diags: &mut Diagnostics) {
        let value::Kind::Map(fields) = &v.kind else { return };
        for f in fields {
            // Only a map can hold a `null`, and only a `null` is reported: most values are neither,
            // and are passed over without extending the path or looking in the lower layer.
            if !f.value.is_removed() && !matches!(f.value.kind, value::Kind::Map(_)) {
                continue;
            }
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            push_path_key(path, &f.key);
            let below = lower.and_then(|l| l.get(&f.key));
            if f.value.is_removed() {
                if f.value.overrode.is_empty() && below.is_none() {
                    diags.push(
                        Diagnostic::warning(
                            Some(f.value.origin.location()),
                            format!("`{path}: null` removes nothing: no lower layer sets it"),
                        )
                        .with_help("remove the line, or check the key's spelling and place"),
                    );
                }
            } else {
                walk(&f.value, path, below, diags);
            }
            path.truncate(len);
        }
    }
    let defaults = tree.get("defaults");
    for f in tree.fields() {
        if f.key == "instances" {
            let instances: Vec<&value::Field> = f.value.fields().collect();
            let found: Vec<Diagnostics> = instances
                .par_iter()
                .map(|inst| {
                    let mut found = Diagnostics::new();
                    let without = inst.value.without(&["containers", "containerOverrides"]);
                    let mut path = String::from("instances.");
                    push_path_key(&mut path, &inst.key);
                    walk(&without, &mut path, defaults, &mut found);
                    found
                })
                .collect();
            found.into_iter().for_each(|d| diags.extend(d));
            continue;
        }
        let mut top = Value::empty_map(tree.origin.clone());
        if let value::Kind::Map(fields) = &mut top.kind {
            fields.push(f.clone());
        }
        walk(&top, &mut String::new(), None, diags);
    }
}

/// A tree `collect_secrets` searches: a file as parsed (`yaml::Node`), or its settings (`Value`).
trait SecretTree: Sized + Sync {
    type Entry: Sync;
    fn tag(&self) -> Tag;
    fn pos(&self) -> Pos;
    fn kind_name(&self) -> &'static str;
    /// The text of a scalar, and whether it is a block scalar.
    fn scalar(&self) -> Option<(&str, bool)>;
    fn is_null(&self) -> bool;
    fn entries(&self) -> Option<&[Self::Entry]>;
    fn entry(e: &Self::Entry) -> (&str, &Self);
    fn items(&self) -> Option<&[Self]>;
    /// How many lines the node's entries or items start over: how large it is, roughly.
    fn span_lines(&self) -> u32;
}

impl SecretTree for yaml::Node {
    type Entry = yaml::Entry;

    fn tag(&self) -> Tag {
        self.tag
    }

    fn pos(&self) -> Pos {
        self.pos
    }

    fn kind_name(&self) -> &'static str {
        yaml::Node::kind_name(self)
    }

    fn scalar(&self) -> Option<(&str, bool)> {
        match &self.kind {
            yaml::Kind::Scalar(text, style) => Some((text, *style == yaml::Style::Block)),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        yaml::Node::is_null(self)
    }

    fn entries(&self) -> Option<&[yaml::Entry]> {
        match &self.kind {
            yaml::Kind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    fn entry(e: &yaml::Entry) -> (&str, &yaml::Node) {
        (&e.key, &e.value)
    }

    fn items(&self) -> Option<&[yaml::Node]> {
        match &self.kind {
            yaml::Kind::Seq(items) => Some(items),
            _ => None,
        }
    }

    fn span_lines(&self) -> u32 {
        yaml::Node::span_lines(self)
    }
}

impl SecretTree for Value {
    type Entry = value::Field;

    fn tag(&self) -> Tag {
        self.tag
    }

    fn pos(&self) -> Pos {
        self.origin.pos
    }

    fn kind_name(&self) -> &'static str {
        Value::kind_name(self)
    }

    fn scalar(&self) -> Option<(&str, bool)> {
        match &self.kind {
            value::Kind::Scalar(text, style) => Some((text, *style == yaml::Style::Block)),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        self.is_removed()
    }

    fn entries(&self) -> Option<&[value::Field]> {
        match &self.kind {
            value::Kind::Map(fields) => Some(fields),
            _ => None,
        }
    }

    fn entry(f: &value::Field) -> (&str, &Value) {
        (&f.key, &f.value)
    }

    fn items(&self) -> Option<&[Value]> {
        match &self.kind {
            value::Kind::Seq(items) => Some(items),
            _ => None,
        }
    }

    fn span_lines(&self) -> u32 {
        let last = self.entries().and_then(|e| e.last()).map(|f| f.key_origin.pos);
        let last = last.or_else(|| self.items().and_then(|i| i.last()).map(|v| v.origin.pos));
        last.map_or(0, |p| p.line.saturating_sub(self.origin.pos.line))
    }
}

/// Records every `!age` scalar with its YAML path, and refuses `!age` on anything but a scalar.
fn collect_secrets<T: SecretTree>(
    node: &T,
    file: SourceName,
    path: &mut String,
    out: &mut Vec<SecretSlot>,
    diags: &mut Diagnostics,
    shared: bool,
) {
    let at = |pos: Pos| Location::new(&*file, pos.line, pos.col);
    if node.tag() == Tag::Age {
        match node.scalar() {
            Some((text, block)) if !text.trim().is_empty() => {
                if shared {
                    diags.push(
                        Diagnostic::at(at(node.pos()), "a secret in environments/defaults.yaml")
                            .with_help("secrets belong to one environment (each has its own recipients): move it into environments/<env>/"),
                    );
                }
                out.push(SecretSlot {
                    yaml_path: path.clone(),
                    origin: Origin { file, pos: node.pos() },
                    text: text.to_string(),
                    ciphertext: None,
                    block,
                });
            }
            _ if node.scalar().is_some() || node.is_null() => {
                let help = match env_of_file(&file[..]) {
                    Some(env) => format!("set it with: {}", set_again(env, path)),
                    None => "secrets belong to one environment: set it in environments/<env>/".to_string(),
                };
                diags.push(
                    Diagnostic::at(at(node.pos()), "empty `!age` value; expected an ASCII-armored age ciphertext")
                        .with_help(help),
                )
            }
            _ => diags.error(
                at(node.pos()),
                format!("`!age` must tag a scalar holding an age ciphertext, found {}", node.kind_name()),
            ),
        }
        return;
    }
    if let Some(entries) = node.entries() {
        // The entries of a large map (a whole environment in one file) on several threads, their
        // findings kept in order.
        if entries.len() > 1 && node.span_lines() >= 2000 {
            let found: Vec<(Vec<SecretSlot>, Diagnostics)> = entries
                .par_iter()
                .map(|e| {
                    let (key, value) = T::entry(e);
                    let mut path = path.clone();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    push_path_key(&mut path, key);
                    let (mut slots, mut found) = (Vec::new(), Diagnostics::new());
                    collect_secrets(value, file, &mut path, &mut slots, &mut found, shared);
                    (slots, found)
                })
                .collect();
            for (slots, found) in found {
                out.extend(slots);
                diags.extend(found);
            }
            return;
        }
        for e in entries {
            let (key, value) = T::entry(e);
            if !worth_searching(value) {
                continue;
            }
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            push_path_key(path, key);
            collect_secrets(value, file, path, out, diags, shared);
            path.truncate(len);
        }
    } else if let Some(items) = node.items() {
        for (i, item) in items.iter().enumerate() {
            if !worth_searching(item) {
                continue;
            }
            let len = path.len();
            use std::fmt::Write as _;
            let _ = write!(path, "[{i}]");
            collect_secrets(item, file, path, out, diags, shared);
            path.truncate(len);
        }
    }
}

/// Whether `collect_secrets` has anything to find in `node`: a tag, or entries or items that may
/// hold one. Most nodes are untagged scalars, passed over without extending the path to them.
fn worth_searching<T: SecretTree>(node: &T) -> bool {
    node.tag() == Tag::Age || node.entries().is_some() || node.items().is_some()
}

/// Appends `quote_path_key(key)` to `path`, without an allocation for a key that needs no quotes.
fn push_path_key(path: &mut String, key: &str) {
    if key.contains(['.', '"', '[', ']']) || key.is_empty() {
        path.push_str(&quote_path_key(key));
    } else {
        path.push_str(key);
    }
}

/// A key as written in a YAMLPATH: quoted when it contains a dot, a quote or a bracket.
pub fn quote_path_key(key: &str) -> String {
    if key.contains(['.', '"', '[', ']']) || key.is_empty() {
        format!("\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        key.to_string()
    }
}

pub(crate) fn unknown_key(diags: &mut Diagnostics, field: &value::Field, what: &str, known: &[Key]) {
    let known = keys::names(known);
    let mut d = Diagnostic::at(field.key_origin.location(), format!("unknown key `{}` in {what}", field.key));
    d = match did_you_mean(&field.key, known.iter().copied()) {
        Some(s) => d.with_help(format!("did you mean `{s}`?")),
        None => d.with_help(format!("expected one of: {}", known.join(", "))),
    };
    diags.push(d);
}

fn check_keys(diags: &mut Diagnostics, v: &Value, what: &str, known: &[Key]) {
    for f in v.fields() {
        if !keys::has(known, &f.key) {
            unknown_key(diags, f, what, known);
        }
    }
}

/// A map, or an error saying what was found instead.
pub(crate) fn expect_map<'a>(diags: &mut Diagnostics, v: &'a Value, what: &str) -> Option<&'a Value> {
    if v.is_map() {
        Some(v)
    } else {
        diags.error(v.origin.location(), format!("{what}: expected a map, found {}", v.kind_name()));
        None
    }
}

pub(crate) fn expect_scalar<'a>(diags: &mut Diagnostics, v: &'a Value, what: &str) -> Option<&'a str> {
    match v.as_str() {
        Some(s) if v.tag != Tag::Age => Some(s),
        _ => {
            diags.error(v.origin.location(), format!("{what}: expected a scalar, found {}", v.kind_name()));
            None
        }
    }
}

fn required<'a>(diags: &mut Diagnostics, parent: &'a Value, key: &str, what: &str, example: &str) -> Option<&'a Value> {
    if let Some(v) = parent.get(key) {
        return Some(v);
    }
    let d = match parent.field(key) {
        Some(f) => Diagnostic::at(f.value.origin.location(), format!("{what} is required, but `null` removes it")),
        None => Diagnostic::at(parent.origin.location(), format!("{what} is required")),
    };
    diags.push(d.with_help(format!("add it, for example `{example}`")));
    None
}

/// Letters, digits, `_` and `-`: a name that is also a file or folder name (environments,
/// instances, containers), so never `/`, `..` or empty; and never `--`, which an XML comment cannot
/// hold (each rendered file names its environment, instance and container in one).
pub fn name_ok(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') && !name.contains("--")
}

/// What `name_ok` asks, for messages.
pub const NAME_RULE: &str = "use letters, digits, `_` and `-` only, without `--`";

/// An environment name, as given on the command line or in a plan file.
pub fn check_env_name(name: &str) -> Result<(), Diagnostic> {
    if name_ok(name) {
        return Ok(());
    }
    let shown: String = name.chars().take(64).flat_map(char::escape_default).collect();
    Err(Diagnostic::error(None, format!("environment name `{shown}`: {NAME_RULE}"))
        .with_help("it names a folder under environments/"))
}

fn build(
    name: &str,
    files: Vec<SourceFile>,
    tree: Value,
    secrets: Vec<SecretSlot>,
    recipients: Option<RecipientSet>,
    diags: &mut Diagnostics,
) -> Option<Environment> {
    check_keys(diags, &tree, "the environment", keys::TOP);
    let build = required(diags, &tree, "campaign", "`campaign`", "campaign: { build: 9383 }")
        .and_then(|c| expect_map(diags, c, "campaign"))
        .and_then(|c| {
            check_keys(diags, c, "campaign", keys::CAMPAIGN);
            required(diags, c, "build", "`campaign.build`", "build: 9383")
        })
        .and_then(|b| {
            let s = expect_scalar(diags, b, "campaign.build")?;
            match s.parse::<u32>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    diags.error(
                        b.origin.location(),
                        format!("campaign.build: expected an ACC build number such as 9383, found `{s}`"),
                    );
                    None
                }
            }
        });
    let target = load_target(diags, tree.get("target"));
    let restart = restart::load(diags, tree.get("restart"));
    let nlserver =
        tree.get("nlserver").and_then(|v| expect_scalar(diags, v, "nlserver")).unwrap_or(DEFAULT_NLSERVER).to_string();

    let defaults = match tree.get("defaults") {
        Some(d) => expect_map(diags, d, "defaults").cloned(),
        None => None,
    };
    if let Some(d) = &defaults {
        check_keys(diags, d, "`defaults`", keys::DEFAULTS);
    }
    let secret_index: HashMap<Origin, SecretId> =
        secrets.iter().enumerate().map(|(i, s)| (s.origin.clone(), SecretId::new(i))).collect();

    let mut instances = Vec::new();
    let instances_v =
        required(diags, &tree, "instances", "`instances`", "instances: { mkt_prod: { containers: { app1: {} } } }")
            .and_then(|v| expect_map(diags, v, "instances"));
    if let Some(iv) = instances_v {
        if iv.fields().next().is_none() {
            diags.error(iv.origin.location(), "`instances` is empty; an environment needs at least one instance");
        }
        // Instances are independent: validate them in parallel, keeping their order and findings.
        let fields: Vec<&value::Field> = iv.fields().collect();
        let loaded: Vec<(Option<Instance>, Diagnostics)> = fields
            .par_iter()
            .map(|f| {
                let mut d = Diagnostics::new();
                let inst = load_instance(&mut d, name, f, defaults.as_ref(), build.unwrap_or(0), &secret_index);
                (inst, d)
            })
            .collect();
        for (inst, d) in loaded {
            diags.extend(d);
            instances.extend(inst);
        }
    }
    let (Some(build), Some(target)) = (build, target) else {
        return None;
    };
    // Instance names are the keys of one map: each is there once.
    let instance_index = instances.iter().enumerate().map(|(i, inst)| (inst.name.clone(), i)).collect();
    Some(Environment {
        name: name.to_string(),
        files,
        build,
        target,
        nlserver,
        instances,
        restart,
        secrets,
        recipients,
        secret_index,
        defaults,
        instance_index,
    })
}

fn load_target(diags: &mut Diagnostics, v: Option<&Value>) -> Option<Target> {
    let Some(v) = v else {
        return Some(Target {
            kind: TargetKind::Local,
            user: None,
            port: None,
            conf_dir: DEFAULT_CONF_DIR.into(),
            options: Vec::new(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        });
    };
    let v = expect_map(diags, v, "target")?;
    check_keys(diags, v, "target", keys::TARGET);
    let kind = match v.get("kind").map(|k| (k, expect_scalar(diags, k, "target.kind"))) {
        None => TargetKind::Local,
        Some((_, Some("local"))) => TargetKind::Local,
        Some((_, Some("ssh"))) => TargetKind::Ssh,
        Some((k, Some(other))) => {
            diags.error(k.origin.location(), format!("target.kind: expected `local` or `ssh`, found `{other}`"));
            return None;
        }
        Some((_, None)) => return None,
    };
    let text = |diags: &mut Diagnostics, key: &str| {
        v.get(key).and_then(|x| expect_scalar(diags, x, &format!("target.{key}"))).map(str::to_string)
    };
    let user = text(diags, "user");
    let conf_dir = text(diags, "conf_dir").unwrap_or_else(|| DEFAULT_CONF_DIR.into());
    let port = match v.get("port") {
        None => None,
        Some(p) => match expect_scalar(diags, p, "target.port").map(str::parse::<u16>) {
            Some(Ok(n)) if n > 0 => Some(n),
            Some(_) => {
                diags.error(p.origin.location(), "target.port: expected a TCP port number (1-65535)");
                None
            }
            None => None,
        },
    };
    let mut options = Vec::new();
    if let Some(o) = v.get("options") {
        match &o.kind {
            value::Kind::Seq(items) => {
                for item in items {
                    if let Some(s) = expect_scalar(diags, item, "target.options item") {
                        check_ssh_option(diags, item, s);
                        options.push(s.to_string());
                    }
                }
            }
            _ => diags.error(
                o.origin.location(),
                format!("target.options: expected a list of ssh options, found {}", o.kind_name()),
            ),
        }
    }
    let connect_timeout = match v.get("connect_timeout") {
        None => DEFAULT_CONNECT_TIMEOUT,
        Some(t) => match expect_scalar(diags, t, "target.connect_timeout").map(str::parse::<u32>) {
            Some(Ok(n)) if (1..=3600).contains(&n) => n,
            Some(_) => {
                diags.error(t.origin.location(), "target.connect_timeout: expected seconds, from 1 to 3600");
                DEFAULT_CONNECT_TIMEOUT
            }
            None => DEFAULT_CONNECT_TIMEOUT,
        },
    };
    Some(Target { kind, user, port, conf_dir, options, connect_timeout })
}

/// Refuses an ssh option that runs a program (or loads a library) on this machine.
fn check_ssh_option(diags: &mut Diagnostics, item: &Value, option: &str) {
    let key = option.trim_start().split(|c: char| c == '=' || c.is_whitespace()).next().unwrap_or("");
    if LOCAL_CODE_OPTIONS.contains(&key.to_ascii_lowercase().as_str()) {
        diags.push(
            Diagnostic::at(
                item.origin.location(),
                format!(
                    "target.options: `{key}` runs a program on the machine that runs nlconf: refused in a repository (anyone who can change it could run code where `plan` runs, before any review)"
                ),
            )
            .with_help("put it in the operator's ~/.ssh/config for that host (ProxyJump is allowed here)"),
        );
    }
}

fn load_instance(
    diags: &mut Diagnostics,
    env: &str,
    field: &value::Field,
    defaults: Option<&Value>,
    build: u32,
    secrets: &HashMap<Origin, SecretId>,
) -> Option<Instance> {
    let name = &field.key;
    if !name_ok(name) {
        diags.error(
            field.key_origin.location(),
            format!("instance name `{name}`: {NAME_RULE} (it names config-{name}.xml, and a comment in it)"),
        );
        return None;
    }
    let iv = expect_map(diags, &field.value, &format!("instance `{name}`"))?;
    check_keys(diags, iv, &format!("instance `{name}`"), keys::INSTANCE);
    let containers_v = required(
        diags,
        iv,
        "containers",
        &format!("`instances.{name}.containers`"),
        "containers: { app1: { host: app1.example.com } }",
    )
    .and_then(|c| expect_map(diags, c, &format!("instances.{name}.containers")));
    let overrides = match iv.get("containerOverrides") {
        Some(o) => expect_map(diags, o, &format!("instances.{name}.containerOverrides")),
        None => None,
    };

    let base = {
        let own = iv.without(&["containers", "containerOverrides"]);
        match defaults {
            Some(d) => d.clone().merge(own),
            None => own,
        }
    };
    let (ims, ims_client_id) = match base.get("ims") {
        Some(v) if ims::is_unmanaged(v) => (None, ims::load_unmanaged(diags, v, env, name)),
        Some(v) => {
            let ims = ims::load(diags, v, env, name, build, secrets);
            let id = ims.as_ref().map(|i| i.client_id.clone());
            (ims, id)
        }
        None => (None, None),
    };

    let db_login = dblogin::load(diags, &base, name, secrets);

    let mut containers = Vec::new();
    if let Some(cv) = containers_v {
        if cv.fields().next().is_none() {
            diags.error(cv.origin.location(), format!("instance `{name}` has no containers"));
        }
        let container_names: Vec<&str> = cv.fields().map(|f| f.key.as_str()).collect();
        if let Some(ov) = overrides {
            for f in ov.fields() {
                if !container_names.contains(&f.key.as_str()) {
                    let mut d = Diagnostic::at(
                        f.key_origin.location(),
                        format!("containerOverrides.{}: instance `{name}` has no such container", f.key),
                    );
                    d = match did_you_mean(&f.key, container_names.iter().copied()) {
                        Some(s) => d.with_help(format!("did you mean `{s}`?")),
                        None => d.with_help(format!("containers are: {}", container_names.join(", "))),
                    };
                    diags.push(d);
                }
                if let Some(o) = expect_map(diags, &f.value, &format!("containerOverrides.{}", f.key)) {
                    for k in o.fields() {
                        if k.key == "ims" {
                            diags.push(
                                Diagnostic::at(k.key_origin.location(), "containerOverrides may not change `ims`")
                                    .with_help("every container of an instance receives the same credentials (nlserver -setims* runs on each)"),
                            );
                        } else if !keys::has(keys::OVERRIDE, &k.key) {
                            unknown_key(diags, k, &format!("containerOverrides.{}", f.key), keys::OVERRIDE);
                        }
                    }
                    let dbcnx = o.get("serverconf").and_then(|s| {
                        s.get("shared")?.get("dataStore")?.get("dataSource")?.get("default")?.get("dbcnx")
                    });
                    for k in dbcnx.into_iter().flat_map(Value::fields) {
                        if db_login.is_some() && ["provider", "login", "server", "password"].contains(&k.key.as_str()) {
                            diags.push(
                                Diagnostic::at(k.key_origin.location(), format!("containerOverrides may not change the database login (`dbcnx.{}`)", k.key))
                                    .with_help("every container of an instance receives the same login (nlserver -setdblogin runs on each)"),
                            );
                        }
                    }
                }
            }
        }
        for cf in cv.fields() {
            let cname = &cf.key;
            if !name_ok(cname) {
                diags.error(
                    cf.key_origin.location(),
                    format!("container name `{cname}`: {NAME_RULE} (it names a folder, and a comment in its files)"),
                );
                continue;
            }
            let mut host = None;
            let mut conf_dir = None;
            if !cf.value.is_removed()
                && let Some(c) = expect_map(diags, &cf.value, &format!("container `{cname}`"))
            {
                {
                    check_keys(diags, c, &format!("container `{cname}`"), keys::CONTAINER);
                    host = c.get("host").and_then(|h| expect_scalar(diags, h, "host")).map(str::to_string);
                    conf_dir = c.get("conf_dir").and_then(|h| expect_scalar(diags, h, "conf_dir")).map(str::to_string);
                }
            }
            let own = overrides.and_then(|o| o.get(cname)).filter(|o| o.is_map()).map(|o| o.without(&["ims"]));
            containers.push(Container {
                name: cname.to_string(),
                origin: cf.key_origin.clone(),
                host,
                conf_dir,
                overrides: own,
            });
        }
    }
    Some(Instance {
        name: name.to_string(),
        origin: field.key_origin.clone(),
        containers,
        ims,
        ims_client_id,
        db_login,
        base,
    })
}
