//! What is deployed: the current `config-<instance>.xml` of each container, read once, parsed once.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::credentials::{DeployedFacts, StateRecord, state_file};
use crate::diag::{Diagnostic, Diagnostics, Location as DiagLocation};
use crate::env::{Container, Environment, Instance};
use crate::support::progress::{Progress, Silent};
use crate::support::xml::{self, XmlElement};
use crate::target::{self, Location};

/// Where to read deployed files from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The environment's target (DESIGN §7).
    Target,
    /// A local copy laid out as `render --out` writes: `DIR/<container>/config-<instance>.xml`.
    Dir(PathBuf),
}

/// A deployed file holds the plaintext of the secrets apply wrote into it: its `Debug` shows where
/// it is and its digest, never its content.
#[derive(Clone)]
pub struct DeployedFile {
    pub instance: String,
    pub container: String,
    /// Where it was read, for messages.
    pub shown: String,
    /// `None` when the file does not exist (a new file). A review drops it once compared
    /// (`plan::compute::against_deployed`): `digest` is what stays.
    pub content: Option<DeployedText>,
    /// `sha256:<hex>` of the bytes, or `absent`.
    pub digest: String,
    pub tree: Option<XmlElement>,
    /// What nlconf last applied here (`.nlconf/state-<instance>.json`), if anything.
    pub state: Option<StateRecord>,
    /// What the credential steps and the review's notes need from the tree, kept when the tree is
    /// dropped: the attributes credential steps write, and whether pipelined uses the legacy OAuth.
    pub facts: DeployedFacts,
    pub legacy_pipelined: bool,
}

impl std::fmt::Debug for DeployedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeployedFile")
            .field("instance", &self.instance)
            .field("container", &self.container)
            .field("shown", &self.shown)
            .field("digest", &self.digest)
            .field("has_state", &self.state.is_some())
            .finish_non_exhaustive()
    }
}

/// The text of a deployed file. It holds the plaintext of the secrets apply wrote into it: its
/// `Debug` shows nothing of it, and it is wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct DeployedText(zeroize::Zeroizing<String>);

impl DeployedText {
    pub fn new(text: String) -> DeployedText {
        DeployedText(zeroize::Zeroizing::new(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DeployedText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeployedText({} bytes)", self.0.len())
    }
}

impl DeployedFile {
    /// The Adobe I/O project deployed: `shared/ims/@authIMSTAClientId`, when set.
    pub fn ims_client_id(&self) -> Option<&str> {
        self.facts.get("ims/@authIMSTAClientId")
    }

    /// `sha256:<hex>` of the bytes, or `absent`.
    pub fn digest(&self) -> String {
        self.digest.clone()
    }
}

/// Where a container's file is, for a source.
pub fn location(repo_root: &Path, env: &Environment, source: &Source, inst: &Instance, c: &Container) -> Location {
    match source {
        Source::Target => target::locate(repo_root, &env.target, &inst.name, c),
        Source::Dir(dir) => Location::Local(dir.join(&c.name)),
    }
}

/// Reads and parses the deployed file of every selected container: over ssh, each host's files in
/// one round trip, `parallelism` hosts at once; then parsed in parallel. An unreadable or malformed
/// file is an error naming the container, the path and the line:column. Keeps the jobs' order.
pub fn read_all(
    repo_root: &Path,
    env: &Environment,
    source: &Source,
    jobs: &[(&Instance, &Container)],
    hosts: &Hosts,
) -> (Vec<DeployedFile>, Diagnostics) {
    let locations: Vec<Location> = jobs.iter().map(|(inst, c)| location(repo_root, env, source, inst, c)).collect();
    let names: Vec<&str> = jobs.iter().map(|(inst, _)| inst.name.as_str()).collect();
    let fetched = prefetch(&locations, &names, hosts);
    let results: Vec<Result<DeployedFile, Diagnostic>> = jobs
        .par_iter()
        .zip(locations.par_iter())
        .zip(fetched.into_par_iter())
        .map(|(((inst, c), loc), reads)| read_one_with(loc, inst, c, reads))
        .collect();
    let mut files = Vec::new();
    let mut diags = Diagnostics::new();
    for r in results {
        match r {
            Ok(f) => files.push(f),
            Err(d) => diags.push(d),
        }
    }
    (files, diags)
}

/// How a stage works on hosts: how many at once, and whom it tells what it is doing.
pub struct Hosts<'a> {
    pub parallelism: usize,
    pub progress: &'a dyn Progress,
}

impl Hosts<'_> {
    /// `parallelism` hosts at once, telling no one.
    pub fn quiet(parallelism: usize) -> Hosts<'static> {
        Hosts { parallelism, progress: &Silent }
    }
}

/// What was read of a container: its state record and its deployed file (see `read_one`).
pub type Reads = Vec<std::io::Result<Option<Vec<u8>>>>;

/// Reads the state record and file of every ssh location, each host in one round trip (its folders
/// together), `parallelism` hosts at once; `None` for a local location (read where it is parsed).
pub fn prefetch(locations: &[Location], instances: &[&str], hosts: &Hosts) -> Vec<Option<Reads>> {
    let mut by_host: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, loc) in locations.iter().enumerate() {
        let Some(key) = loc.host_key() else { continue };
        match by_host.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(i),
            None => by_host.push((key, vec![i])),
        }
    }
    let mut out: Vec<Option<Reads>> = locations.iter().map(|_| None).collect();
    if by_host.is_empty() {
        return out;
    }
    let names: Vec<[String; 2]> = instances.iter().map(|i| [state_file(i), format!("config-{i}.xml")]).collect();
    hosts.progress.begin("reading deployed files: hosts", by_host.len());
    let read = crate::support::pool::bounded(&by_host, hosts.parallelism, |(_, members)| {
        let who = locations[members[0]].host_shown();
        if crate::support::interrupt::requested() {
            let stopped = || Err(std::io::Error::other("interrupted (Ctrl-C) before this host was read"));
            return members.iter().map(|_| vec![stopped(), stopped()]).collect();
        }
        hosts.progress.status(&who, &format!("reading {}", crate::support::count(members.len() * 2, "file")));
        let files: Vec<[&str; 2]> = members.iter().map(|&m| [names[m][0].as_str(), names[m][1].as_str()]).collect();
        let folders: Vec<(&Location, &[&str])> =
            members.iter().zip(&files).map(|(&m, f)| (&locations[m], &f[..])).collect();
        let read = target::read_on_host(&folders);
        let ok = read.iter().all(|r| r.iter().all(|f| f.is_ok()));
        hosts.progress.finished(&who, ok);
        read
    });
    for ((_, members), reads) in by_host.iter().zip(read) {
        for (&m, r) in members.iter().zip(reads) {
            out[m] = Some(r);
        }
    }
    out
}

fn read_state(
    loc: &Location,
    inst: &Instance,
    c: &Container,
    read: std::io::Result<Option<Vec<u8>>>,
) -> Result<Option<StateRecord>, Diagnostic> {
    let shown = loc.shown(&state_file(&inst.name));
    let Some(bytes) = read.map_err(|e| cannot_read(loc, &shown, c, "the state record", &e))? else { return Ok(None) };
    serde_json::from_slice::<StateRecord>(&bytes).map(Some).map_err(|e| {
        Diagnostic::at(
            DiagLocation::new(&shown, e.line() as u32, e.column() as u32),
            format!("{}: the state record is not valid: {e}", c.name),
        )
        .with_help("nlconf writes it on apply; remove it to make the next plan run the credential step again")
    })
}

fn cannot_read(loc: &Location, shown: &str, c: &Container, what: &str, e: &std::io::Error) -> Diagnostic {
    let d = Diagnostic::in_file(
        Path::new(shown),
        format!("{}: cannot read {what}: {}", c.name, crate::support::yaml::io_reason(e)),
    );
    match loc {
        Location::Ssh { .. } => d.with_help(
            "check that `ssh` to the container's host works without a prompt (nlconf runs it with BatchMode=yes)",
        ),
        Location::Local(_) => d,
    }
}

/// Reads and parses one container's deployed file and state record (over ssh, in one round trip).
pub fn read_one(loc: &Location, inst: &Instance, c: &Container) -> Result<DeployedFile, Diagnostic> {
    read_one_with(loc, inst, c, None)
}

/// `read_one`, from what `prefetch` read when it did.
pub fn read_one_with(
    loc: &Location,
    inst: &Instance,
    c: &Container,
    reads: Option<Reads>,
) -> Result<DeployedFile, Diagnostic> {
    let file = format!("config-{}.xml", inst.name);
    let reads = reads.unwrap_or_else(|| loc.read_many(&[&state_file(&inst.name), &file]));
    let mut both = reads.into_iter();
    let (state_read, file_read) = (both.next().unwrap_or(Ok(None)), both.next().unwrap_or(Ok(None)));
    let state = read_state(loc, inst, c, state_read)?;
    let shown = loc.shown(&file);
    let Some(bytes) = file_read.map_err(|e| cannot_read(loc, &shown, c, "the deployed file", &e))? else {
        return Ok(DeployedFile {
            instance: inst.name.clone(),
            container: c.name.clone(),
            shown,
            content: None,
            digest: "absent".into(),
            tree: None,
            state,
            facts: DeployedFacts::default(),
            legacy_pipelined: false,
        });
    };
    let content = crate::support::yaml::decode_text(bytes, Path::new(&shown), "config files")
        .map_err(|d| Diagnostic { message: format!("{}: deployed file: {}", c.name, d.message), ..d })?;
    let tree = xml::parse(&content).map_err(|e| {
        Diagnostic::at(
            DiagLocation::new(&shown, e.line, e.col),
            format!("{}: the deployed file is not well-formed XML: {}", c.name, e.message),
        )
        .with_help("fix or remove the file on the server; nlconf will not guess what it meant")
    })?;
    let facts = DeployedFacts::of(&tree);
    let legacy_pipelined = tree.child("pipelined").is_some_and(|p| {
        (p.attr("appName").is_some() || p.attr("authPrivateKey").is_some()) && p.attr("authType").is_none()
    });
    Ok(DeployedFile {
        instance: inst.name.clone(),
        container: c.name.clone(),
        shown,
        digest: crate::support::digest::sha256(content.as_bytes()),
        content: Some(DeployedText::new(content)),
        tree: Some(tree),
        state,
        facts,
        legacy_pipelined,
    })
}
