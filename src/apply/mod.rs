//! The apply stage: carries out exactly a reviewed plan, or nothing (DESIGN §6).
//!
//! Order: review again and refuse if anything differs from the plan; lock every container folder
//! involved (failing at once if another apply holds one); check the deployed files again under the
//! locks; then container by container ([`ContainerApply`]) write, set the credentials, reload and
//! restart; release the locks ([`LockSet`], also on every way out).

pub mod adopt;
mod container;
mod lock;
mod report;

pub use container::{ContainerApply, KEEP_BACKUPS, Records};
pub use lock::LockSet;
pub use report::{ApplyReport, ContainerReport};

use std::collections::HashMap;
use std::path::Path;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::credentials::CredentialStep;
use crate::deployed::{self, Hosts, Source};
use crate::diag::{Diagnostic, Diagnostics, Staged, Warned};
use crate::env::{Environment, TargetKind};
use crate::plan::compute::{self, Planned};
use crate::plan::{PlanFile, PlannedContainer};
use crate::render::{RenderedFile, Templates};
use crate::repo::Repository;
use crate::review::Options;
use crate::secrets::Identities;
use crate::target::{Location, LockInfo};

/// What apply is asked to do.
pub struct Request<'a> {
    pub plan: &'a PlanFile,
    /// Where the plan was read, for messages.
    pub plan_path: &'a Path,
    pub repo: &'a Repository,
    pub identities: &'a Identities,
    /// Remove a lock left by an apply that died.
    pub force_unlock: bool,
    /// Show what nlserver printed when a step whose command line held a secret failed.
    pub show_credential_output: bool,
    /// Rolling apply: the containers in batches, a batch finished before the next starts.
    pub batch: Option<Batch>,
    /// No container is started once more than this many have failed.
    pub max_fail: usize,
    /// How many hosts are worked on at once, and whom to tell.
    pub hosts: &'a Hosts<'a>,
}

/// `apply --batch`: how many containers a batch of a rolling apply takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    Count(usize),
    Percent(u8),
}

impl Batch {
    /// The size of a batch out of `total` containers: at least one.
    pub fn size(self, total: usize) -> usize {
        match self {
            Batch::Count(n) => n.max(1),
            Batch::Percent(p) => (total * usize::from(p)).div_ceil(100).max(1),
        }
    }
}

/// Carries out the plan. `Err` when it was refused (nothing was written); otherwise the report,
/// whose `errors` say why it stopped if it did.
pub fn apply(env: Environment, templates: &Templates, req: &Request) -> Staged<ApplyReport> {
    crate::support::interrupt::watch();
    let review = compute::Request {
        repo: req.repo,
        source: &Source::Target,
        options: Options { semantic: false, context: 3 },
        identities: Some(req.identities),
        hosts: req.hosts,
    };
    let Warned { value: mut now, warnings: mut diags } = compute::against_deployed(env, templates, &review)?;
    let current = PlanFile::new(&now.env, std::mem::take(&mut now.inputs), &now.rendered, &now.deployed, &now.steps);
    let mut report = ApplyReport { environment: req.plan.environment.clone(), ..ApplyReport::default() };
    // A plan carried out already (a CI job run again): nothing to do, and no error. One carried out
    // in part stays stale.
    if req.plan.has_changes() && req.plan.already_applied(&current) {
        report.already_applied = true;
        return diags.finish(report);
    }
    refuse(req.plan_path, &req.plan.differences(&current), &mut diags)?;
    // A stale lock goes whether or not the plan has anything to do: every folder of the plan.
    if req.force_unlock {
        let folders: Vec<(&str, Location)> = req
            .plan
            .containers
            .iter()
            .filter_map(|p| Some((p.container.as_str(), location_of(&now.env, req.repo, p)?)))
            .collect();
        if let Err(d) = LockSet::force_unlock(folders) {
            diags.extend(d);
            return Err(diags);
        }
    }
    if !req.plan.has_changes() {
        report.nothing_to_do = true;
        return diags.finish(report);
    }
    local_nlserver(&mut now.env, req.repo);
    // Found by name, not searched for: a fleet is thousands of containers.
    let rendered: HashMap<(&str, &str), &RenderedFile> =
        now.rendered.iter().map(|r| ((r.instance.as_str(), r.container.as_str()), r)).collect();
    let work: Vec<(&PlannedContainer, &RenderedFile, Location)> = req
        .plan
        .containers
        .iter()
        .filter(|p| !p.steps.is_empty())
        .filter_map(|p| {
            let r = *rendered.get(&(p.instance.as_str(), p.container.as_str()))?;
            Some((p, r, location_of(&now.env, req.repo, p)?))
        })
        .collect();
    let no_secrets = crate::secrets::SecretStore::default();
    let secrets = now.secrets.as_ref().unwrap_or(&no_secrets);
    let records = Records::default();
    let mut steps: Vec<CredentialStep> = Vec::new();
    for (p, _, _) in &work {
        let Some(inst) = now.env.instance(&p.instance) else { continue };
        for c in &p.steps.credentials {
            if let Some(step) = CredentialStep::find(inst, &c.kind)
                && !steps.iter().any(|s| s.instance == step.instance && s.kind() == step.kind())
            {
                steps.push(step);
            }
        }
    }
    let done = AtomicBool::new(false);
    let carried = std::thread::scope(|s| {
        // The credentials' records (a memory-hard fingerprint each) are computed on the cores while
        // the hosts are locked and checked, time otherwise spent waiting on the network.
        s.spawn(|| records.prepare(&steps, &now.env, secrets, &done));
        let carried = carry_out(&now, req, work, secrets, &records);
        done.store(true, Ordering::SeqCst);
        carried
    });
    let (results, released) = carried.map_err(|d| {
        diags.extend(d);
        std::mem::take(&mut diags)
    })?;
    for (done, failure) in results {
        report.containers.push(done);
        if let Some(d) = failure {
            report.errors.push(d);
        }
    }
    if crate::support::interrupt::requested() {
        report.errors.push(
            Diagnostic::error(None, "interrupted: the steps in flight were finished, nothing more was started")
                .with_help("plan again: the state records keep the steps left to do"),
        );
    }
    report.errors.extend(released);
    diags.finish(report)
}

/// A container's report, and why it failed if it did.
type Outcome = (ContainerReport, Option<Diagnostic>);

/// Under the locks of every folder, checked again, the containers' applies; then the locks
/// released (what could not be is the second result).
fn carry_out(
    now: &Planned,
    req: &Request,
    work: Vec<(&PlannedContainer, &RenderedFile, Location)>,
    secrets: &crate::secrets::SecretStore,
    records: &Records,
) -> Result<(Vec<Outcome>, Diagnostics), Diagnostics> {
    let folders = work.iter().map(|(p, _, loc)| (p.container.as_str(), loc.clone()));
    let locks = LockSet::acquire(folders, &lock_info(), req.hosts)?;
    if let Err(mut d) = unmoved(now, req, &work) {
        d.extend(locks.release(req.hosts.parallelism));
        return Err(d);
    }
    let stamp = crate::support::clock::now_stamp();
    let states: HashMap<(&str, &str), &crate::credentials::StateRecord> = now
        .deployed
        .iter()
        .filter_map(|d| Some(((d.instance.as_str(), d.container.as_str()), d.state.as_ref()?)))
        .collect();
    let jobs: Vec<ContainerApply> = work
        .into_iter()
        .map(|(p, r, loc)| ContainerApply {
            env: &now.env,
            location: loc,
            planned: p,
            rendered: r,
            previous: states.get(&(p.instance.as_str(), p.container.as_str())).copied(),
            secrets,
            stamp: &stamp,
            show_credential_output: req.show_credential_output,
            records,
        })
        .collect();
    let results = run_all(&jobs, req);
    Ok((results, locks.release(req.hosts.parallelism)))
}

/// Runs the containers' applies: in batches (one batch by default), each batch's hosts
/// `parallelism` at once, a host's containers one after the other in plan order. Once more than
/// `max_fail` have failed (or the user interrupted), no container is started. In plan order, each
/// container's report and why it failed.
fn run_all(jobs: &[ContainerApply], req: &Request) -> Vec<Outcome> {
    let failed = AtomicUsize::new(0);
    let stop = || failed.load(Ordering::SeqCst) > req.max_fail || crate::support::interrupt::requested();
    let size = req.batch.map_or(jobs.len(), |b| b.size(jobs.len())).max(1);
    let progress = req.hosts.progress;
    progress.begin("applying: containers", jobs.len());
    let mut out = Vec::with_capacity(jobs.len());
    for (b, batch) in jobs.chunks(size).enumerate() {
        // A host's containers in one group (local folders are all this machine's), by index.
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, job) in batch.iter().enumerate() {
            let key = job.location.host_key().unwrap_or_default();
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, g)) => g.push(b * size + i),
                None => groups.push((key, vec![b * size + i])),
            }
        }
        let results = crate::support::pool::bounded(&groups, req.hosts.parallelism, |(_, group)| {
            let run = |&i: &usize| {
                let job = &jobs[i];
                if stop() {
                    return (i, ContainerReport { label: job.label(), ..ContainerReport::default() }, None);
                }
                let (report, failure) = job.run(progress);
                if failure.is_some() {
                    failed.fetch_add(1, Ordering::SeqCst);
                }
                (i, report, failure)
            };
            group.iter().map(run).collect::<Vec<_>>()
        });
        let mut batch_out: Vec<_> = results.into_iter().flatten().collect();
        // Back in plan order.
        batch_out.sort_by_key(|(i, _, _)| *i);
        out.extend(batch_out.into_iter().map(|(_, report, failure)| (report, failure)));
    }
    out
}

/// Refuses (`Err`, nothing changed) when the plan no longer describes what apply would do.
fn refuse(plan_path: &Path, differences: &[String], diags: &mut Diagnostics) -> Result<(), Diagnostics> {
    if differences.is_empty() {
        return Ok(());
    }
    for d in differences {
        diags.push(Diagnostic::error(None, format!("apply refused: {d}")));
    }
    diags.push(
        Diagnostic::in_file(plan_path, "nothing was changed: the plan no longer describes what apply would do")
            .with_help("make a new plan, review it, and apply that"),
    );
    Err(std::mem::take(diags))
}

/// Under the locks, the deployed files and state records must still be what was planned.
fn unmoved(
    now: &Planned,
    req: &Request,
    work: &[(&PlannedContainer, &RenderedFile, Location)],
) -> Result<(), Diagnostics> {
    let jobs: Vec<_> = work
        .iter()
        .filter_map(|(p, _, _)| {
            let inst = now.env.instance(&p.instance)?;
            Some((inst, inst.container(&p.container)?))
        })
        .collect();
    let (again, mut diags) = deployed::read_all(&req.repo.root, &now.env, &Source::Target, &jobs, req.hosts);
    let again: HashMap<(&str, &str), &deployed::DeployedFile> =
        again.iter().map(|d| ((d.instance.as_str(), d.container.as_str()), d)).collect();
    let mut moved = Vec::new();
    for (p, _, _) in work {
        let d = again.get(&(p.instance.as_str(), p.container.as_str())).copied();
        if d.map_or_else(|| "absent".to_string(), |d| d.digest()) != p.deployed_digest
            || crate::plan::state_digest(d) != p.state_digest
        {
            moved.push(format!("{}: {} changed since the plan", p.container, p.location));
        }
    }
    refuse(req.plan_path, &moved, &mut diags)?;
    if diags.has_errors() { Err(diags) } else { Ok(()) }
}

fn location_of(env: &Environment, repo: &Repository, p: &PlannedContainer) -> Option<Location> {
    let inst = env.instance(&p.instance)?;
    let cont = inst.container(&p.container)?;
    Some(deployed::location(&repo.root, env, &Source::Target, inst, cont))
}

/// A relative nlserver path of a local target is relative to the repository.
fn local_nlserver(env: &mut Environment, repo: &Repository) {
    if env.target.kind == TargetKind::Local && env.nlserver.contains('/') && !env.nlserver.starts_with('/') {
        let abs = repo.root.join(&env.nlserver);
        env.nlserver = abs.canonicalize().unwrap_or(abs).display().to_string();
    }
}

/// The user nlconf runs as: `$USER`, `$LOGNAME`, else the name of its uid in /etc/passwd, else
/// the uid itself (a CI job or a cron entry may have neither variable).
fn holder() -> String {
    if let Some(name) = ["USER", "LOGNAME"].iter().find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty())) {
        return name;
    }
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else { return "unknown user".into() };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 2 && f[2] == uid.to_string())
        .map_or_else(|| format!("uid {uid}"), |f| f[0].to_string())
}

/// Who takes the locks: the user, this host, this process, now.
pub(crate) fn lock_info() -> LockInfo {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    LockInfo { holder: holder(), host, pid: std::process::id(), time: crate::support::clock::now_utc() }
}

#[cfg(test)]
mod tests {
    use super::Batch;

    #[test]
    fn a_batch_takes_at_least_one_container_and_rounds_a_share_up() {
        assert_eq!(Batch::Count(5).size(200), 5);
        assert_eq!(Batch::Count(500).size(200), 500);
        assert_eq!(Batch::Percent(25).size(200), 50);
        assert_eq!(Batch::Percent(10).size(15), 2);
        assert_eq!(Batch::Percent(1).size(3), 1);
        assert_eq!(Batch::Percent(100).size(7), 7);
    }
}
