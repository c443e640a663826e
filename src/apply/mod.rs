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

pub use container::{ContainerApply, KEEP_BACKUPS};
pub use lock::LockSet;
pub use report::{ApplyReport, ContainerReport, Reporter};

use std::path::Path;

use crate::deployed::{self, Source};
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
}

/// Carries out the plan. `Err` when it was refused (nothing was written); otherwise the report,
/// whose `errors` say why it stopped if it did.
pub fn apply(
    env: Environment,
    templates: &Templates,
    req: &Request,
    reporter: &mut dyn Reporter,
) -> Staged<ApplyReport> {
    let review = compute::Request {
        repo: req.repo,
        source: &Source::Target,
        options: Options { semantic: false, context: 3 },
        identities: Some(req.identities),
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
    let work: Vec<(&PlannedContainer, &RenderedFile, Location)> = req
        .plan
        .containers
        .iter()
        .filter(|p| !p.steps.is_empty())
        .filter_map(|p| {
            let r = now.rendered.iter().find(|r| r.instance == p.instance && r.container == p.container)?;
            Some((p, r, location_of(&now.env, req.repo, p)?))
        })
        .collect();
    let locks = LockSet::acquire(work.iter().map(|(p, _, loc)| (p.container.as_str(), loc.clone())), &lock_info())
        .map_err(|d| {
            diags.extend(d);
            std::mem::take(&mut diags)
        })?;
    if let Err(d) = unmoved(&now, req, &work) {
        diags.extend(d);
        diags.extend(locks.release());
        return Err(diags);
    }
    let stamp = crate::support::clock::now_stamp();
    let no_secrets = crate::secrets::SecretStore::default();
    let secrets = now.secrets.as_ref().unwrap_or(&no_secrets);
    let mut stopped = false;
    for (p, r, loc) in work {
        let one = ContainerApply {
            env: &now.env,
            location: loc,
            planned: p,
            rendered: r,
            previous: previous_state(&now, p),
            secrets,
            stamp: &stamp,
            show_credential_output: req.show_credential_output,
        };
        if stopped {
            report.containers.push(ContainerReport { label: one.label(), ..ContainerReport::default() });
            continue;
        }
        let (done, failure) = one.run(reporter);
        report.containers.push(done);
        if let Some(d) = failure {
            report.errors.push(d);
            stopped = true;
        }
    }
    report.errors.extend(locks.release());
    diags.finish(report)
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
    let (again, mut diags) = deployed::read_all(&req.repo.root, &now.env, &Source::Target, &jobs);
    let mut moved = Vec::new();
    for (p, _, _) in work {
        let d = again.iter().find(|d| d.instance == p.instance && d.container == p.container);
        if d.map_or_else(|| "absent".to_string(), |d| d.digest()) != p.deployed_digest
            || crate::plan::state_digest(d) != p.state_digest
        {
            moved.push(format!("{}: {} changed since the plan", p.container, p.location));
        }
    }
    refuse(req.plan_path, &moved, &mut diags)?;
    if diags.has_errors() { Err(diags) } else { Ok(()) }
}

fn previous_state<'a>(now: &'a Planned, p: &PlannedContainer) -> Option<&'a crate::credentials::StateRecord> {
    now.deployed.iter().find(|d| d.instance == p.instance && d.container == p.container).and_then(|d| d.state.as_ref())
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
