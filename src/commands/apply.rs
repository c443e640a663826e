//! `nlconf apply PLANFILE [--force-unlock]`: carries out exactly the reviewed plan, or nothing.
//!
//! Order: re-render and re-read everything and refuse if anything differs from the plan; take the
//! lock of every container folder involved (failing at once if another apply holds one); check the
//! deployed files again under the locks; then container by container: back up and write each file
//! atomically, run the credential step, record it, run the reload/restart steps; release the locks.

use std::io::IsTerminal;
use std::path::Path;

use zeroize::Zeroizing;

use crate::app::{Ctx, Status};
use crate::commands::diff;
use crate::credentials::{CredentialStep, STATE_SCHEMA, StateRecord, state_file};
use crate::deployed::{self, Source};
use crate::diag::{Diagnostic, Location as DiagLocation};
use crate::plan::{PlanFile, PlannedContainer};
use crate::render::{MASK, RenderedFile};
use crate::review::Options;
use crate::secrets::SecretStore;
use crate::target::{Location, LockError, LockInfo};

/// Backups kept per file in `.nlconf/backups/`.
pub const KEEP_BACKUPS: usize = 10;

/// How far apply got on a container.
#[derive(Default)]
struct Progress {
    done: Vec<String>,
    failed: Option<String>,
}

pub fn run(ctx: &mut Ctx, plan_path: &Path, force_unlock: bool) -> Status {
    let plan = match super::plan::read_plan(plan_path) {
        Ok(p) => p,
        Err(d) => {
            ctx.diags.push(d);
            return Status::Failed;
        }
    };
    let Some(repo) = ctx.repo() else { return Status::Failed };
    if ctx.identities("apply").is_none() {
        return Status::Failed;
    }
    let opts = Options { semantic: false, context: 3 };
    let Some(mut c) = diff::against_deployed(ctx, &repo, &plan.environment, &Source::Target, &opts) else {
        return Status::Failed;
    };
    let now = PlanFile::new(&c.env, std::mem::take(&mut c.inputs), &c.rendered, &c.deployed, &c.steps);
    if refuse(ctx, &plan.differences(&now)) {
        return Status::Failed;
    }
    if !plan.has_changes() {
        ctx.ui.out(&format!("apply {}: nothing to do", plan.environment));
        return Status::Ok;
    }
    let values = c.values.take().unwrap_or_default();
    // A relative nlserver path of a local target is relative to the repository.
    let env = &mut c.env;
    if env.target.kind == crate::env::TargetKind::Local && env.nlserver.contains('/') && !env.nlserver.starts_with('/')
    {
        let abs = repo.root.join(&env.nlserver);
        env.nlserver = abs.canonicalize().unwrap_or(abs).display().to_string();
    }
    let work: Vec<(&PlannedContainer, &RenderedFile)> = plan
        .containers
        .iter()
        .filter(|p| !p.steps.is_empty())
        .filter_map(|p| {
            c.rendered.iter().find(|r| r.instance == p.instance && r.container == p.container).map(|r| (p, r))
        })
        .collect();
    let location_of = |p: &PlannedContainer| {
        let inst = c.env.instance(&p.instance)?;
        let cont = inst.container(&p.container)?;
        Some(deployed::location(&repo.root, &c.env, &Source::Target, inst, cont))
    };

    // Lock every folder involved, in plan order; a folder may hold several instances' files.
    let info = LockInfo {
        holder: std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into()),
        host: hostname(),
        pid: std::process::id(),
        time: crate::support::clock::now_utc(),
    };
    let mut locked: Vec<(String, Location)> = Vec::new();
    for (p, _) in &work {
        let Some(loc) = location_of(p) else { continue };
        let key = loc.shown("");
        if locked.iter().any(|(k, _)| *k == key) {
            continue;
        }
        let lock_file = DiagLocation::file(loc.shown(crate::target::LOCK_FILE));
        if force_unlock && let Err(e) = loc.unlock() {
            ctx.diags.push(
                Diagnostic::error(Some(lock_file.clone()), format!("{}: cannot remove the lock: {e}", p.container))
                    .with_help("remove it by hand on the container once no apply runs there"),
            );
        }
        match loc.lock(&info) {
            Ok(()) => locked.push((key, loc)),
            Err(e) => {
                let held = "wait for it to finish; if it died, check the containers and run apply with --force-unlock";
                // A held lock is named by its holder (or its path); a failure to take one, by its path.
                let (at, msg, help) = match e {
                    LockError::Held(text) => match serde_json::from_str::<LockInfo>(&text) {
                        Ok(holder) => (None, format!("{}: another apply holds the lock: {holder}", p.container), held),
                        Err(_) => (
                            None,
                            format!("{}: the folder is locked ({})", p.container, loc.shown(crate::target::LOCK_FILE)),
                            held,
                        ),
                    },
                    LockError::Io(e) => (
                        Some(lock_file),
                        format!("{}: cannot take the lock: {e}", p.container),
                        "check that the conf folder exists and that nlconf's user may write there (ssh targets: that `ssh` to the host works without a prompt)",
                    ),
                };
                ctx.diags.push(Diagnostic::error(at, msg).with_help(help));
                release(ctx, &locked);
                return Status::Failed;
            }
        }
    }

    // Under the locks, the deployed files must still be what was planned.
    let jobs: Vec<_> = work
        .iter()
        .filter_map(|(p, _)| {
            let inst = c.env.instance(&p.instance)?;
            Some((inst, inst.container(&p.container)?))
        })
        .collect();
    let (again, diags) = deployed::read_all(&repo.root, &c.env, &Source::Target, &jobs);
    let mut moved = Vec::new();
    for (p, _) in &work {
        let d = again.iter().find(|d| d.instance == p.instance && d.container == p.container);
        if d.map_or_else(|| "absent".to_string(), |d| d.digest()) != p.deployed_digest
            || crate::plan::state_digest(d) != p.state_digest
        {
            moved.push(format!("{}: {} changed since the plan", p.container, p.location));
        }
    }
    if diags.has_errors() || !moved.is_empty() {
        ctx.diags.extend(diags);
        refuse(ctx, &moved);
        release(ctx, &locked);
        return Status::Failed;
    }

    let stamp = crate::support::clock::now_stamp();
    let live = std::io::stderr().is_terminal() && !ctx.ui.quiet;
    let mut progress: Vec<(String, Progress)> = Vec::new();
    let mut stopped = false;
    for (p, r) in &work {
        let label = format!("{} ({})", p.container, p.instance);
        let mut prog = Progress::default();
        if !stopped {
            let Some(loc) = location_of(p) else { continue };
            let previous = c
                .deployed
                .iter()
                .find(|d| d.instance == p.instance && d.container == p.container)
                .and_then(|d| d.state.as_ref());
            stopped = !apply_container(ctx, &c.env, &loc, p, r, previous, &values, &stamp, &mut prog, &label, live);
        }
        progress.push((label, prog));
    }
    release(ctx, &locked);
    report(ctx, &plan.environment, &progress);
    if stopped { Status::Failed } else { Status::Ok }
}

fn refuse(ctx: &mut Ctx, differences: &[String]) -> bool {
    for d in differences {
        ctx.diags.push(Diagnostic::error(None, format!("apply refused: {d}")));
    }
    if !differences.is_empty() {
        ctx.diags.push(
            Diagnostic::error(None, "nothing was changed: the plan no longer describes what apply would do")
                .with_help("make a new plan, review it, and apply that"),
        );
    }
    !differences.is_empty()
}

fn release(ctx: &mut Ctx, locked: &[(String, Location)]) {
    for (key, loc) in locked {
        if let Err(e) = loc.unlock() {
            ctx.diags.push(
                Diagnostic::error(None, format!("{key}: cannot release the lock: {e}"))
                    .with_help("remove .nlconf/lock in that folder once you have checked the container, or use --force-unlock next time"),
            );
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Replaces any secret that a failing program may have echoed.
fn scrub(text: &str, values: &SecretStore) -> String {
    // Each intermediate copy may hold a secret until it is replaced: all are wiped when dropped.
    let mut out = Zeroizing::new(text.to_string());
    for v in values.ids().into_iter().filter_map(|id| values.get(id)) {
        let s = v.expose();
        if s.len() >= 4 {
            out = Zeroizing::new(out.replace(s, MASK));
            let b64 = Zeroizing::new(base64::Engine::encode(&base64::prelude::BASE64_STANDARD, s.as_bytes()));
            out = Zeroizing::new(out.replace(b64.as_str(), MASK));
        }
    }
    out.trim().to_string()
}

#[allow(clippy::too_many_arguments)]
fn apply_container(
    ctx: &mut Ctx,
    env: &crate::env::Environment,
    loc: &Location,
    p: &PlannedContainer,
    r: &RenderedFile,
    previous: Option<&StateRecord>,
    values: &SecretStore,
    stamp: &str,
    prog: &mut Progress,
    label: &str,
    live: bool,
) -> bool {
    let show = |ctx: &Ctx, what: &str| {
        if live {
            eprint!("\r\x1b[2K{label}: {what}");
        } else {
            ctx.ui.note(&format!("{label}: {what}"));
        }
    };
    let file = format!("config-{}.xml", p.instance);
    let fail = |ctx: &mut Ctx, prog: &mut Progress, what: String| {
        if live {
            eprintln!();
        }
        prog.failed = Some(what.clone());
        ctx.diags.push(
            Diagnostic::error(Some(DiagLocation::file(loc.shown(&file))), format!("{}: {what}", p.container))
                .with_help("the state record keeps the steps left to do: fix the cause, then plan and apply again"),
        );
        false
    };
    // The state record says what is still to do, before anything is done: if apply dies or a step
    // fails, the next plan runs the unfinished steps again.
    let mut record = StateRecord {
        schema: STATE_SCHEMA.into(),
        environment: env.name.clone(),
        instance: p.instance.clone(),
        container: p.container.clone(),
        credentials: previous.and_then(|s| s.credentials.clone()),
        pending: p.steps.post.clone(),
        secret_attributes: previous.map(|s| s.secret_attributes.clone()).unwrap_or_default(),
        applied_at: crate::support::clock::now_utc(),
        nlconf_version: env!("CARGO_PKG_VERSION").into(),
    };
    // The secrets' attributes in the file about to be written: until it is, the old file's are
    // still there too.
    let written = if p.steps.write_file {
        match r.tree() {
            Ok(tree) => crate::review::mask::secret_attributes(&r.content, &tree),
            Err(d) => return fail(ctx, prog, d.message),
        }
    } else {
        record.secret_attributes.clone()
    };
    for a in &written {
        if !record.secret_attributes.contains(a) {
            record.secret_attributes.push(a.clone());
        }
    }
    let save = |record: &StateRecord| {
        let json = serde_json::to_vec_pretty(record).unwrap_or_default();
        loc.write_atomic(&state_file(&p.instance), &json)
    };
    if !record.pending.is_empty()
        && let Err(e) = save(&record)
    {
        return fail(ctx, prog, format!("cannot write the state record: {e}"));
    }
    if p.steps.write_file {
        show(ctx, &format!("writing {file}"));
        if let Err(e) = loc.backup(&file, stamp, crate::commands::apply::KEEP_BACKUPS) {
            return fail(ctx, prog, format!("cannot back up {file}: {e}"));
        }
        let content = crate::render::reveal(r, |i| values.get(i), "");
        if let Err(e) = loc.write_atomic(&file, content.as_bytes()) {
            return fail(ctx, prog, format!("cannot write {file}: {e}"));
        }
        prog.done.push(format!("wrote {file}"));
        // Saved with the steps that follow, or now when none does.
        let changed = record.secret_attributes != written;
        record.secret_attributes = written;
        if changed
            && p.steps.post.is_empty()
            && let Err(e) = save(&record)
        {
            return fail(ctx, prog, format!("cannot write the state record: {e}"));
        }
    }
    if p.steps.credentials.is_some()
        && let Some(step) = env.instance(&p.instance).and_then(CredentialStep::of)
    {
        show(ctx, "setting the IMS technical-account credentials");
        let Some(argv) = step.argv(&env.nlserver, values) else {
            return fail(ctx, prog, "the credentials could not be decrypted".into());
        };
        match loc.run(&argv, Some(3)) {
            Ok(res) if res.success => {}
            Ok(res) => {
                let code = res.code.map_or_else(|| "a signal".to_string(), |c| format!("exit {c}"));
                return fail(
                    ctx,
                    prog,
                    format!("`{}` failed ({code}): {}", step.shown(&env.nlserver), scrub(&res.stderr, values)),
                );
            }
            Err(e) => return fail(ctx, prog, format!("cannot run `{}`: {e}", step.shown(&env.nlserver))),
        }
        prog.done.push("set the credentials".into());
        record.credentials = step.record(env, values);
        record.applied_at = crate::support::clock::now_utc();
        if let Err(e) = save(&record) {
            return fail(ctx, prog, format!("cannot write the state record: {e}"));
        }
    }
    for args in &p.steps.post {
        let shown = format!("{} {}", env.nlserver, args.join(" "));
        show(ctx, &format!("running {shown}"));
        let argv: Vec<Zeroizing<String>> =
            std::iter::once(env.nlserver.clone()).chain(args.iter().cloned()).map(Zeroizing::new).collect();
        match loc.run(&argv, None) {
            Ok(res) if res.success => {
                prog.done.push(format!("ran {}", args.join(" ")));
                record.pending.retain(|q| q != args);
                if let Err(e) = save(&record) {
                    return fail(ctx, prog, format!("cannot write the state record: {e}"));
                }
            }
            Ok(res) => {
                let code = res.code.map_or_else(|| "a signal".to_string(), |c| format!("exit {c}"));
                return fail(ctx, prog, format!("`{shown}` failed ({code}): {}", scrub(&res.stderr, values)));
            }
            Err(e) => return fail(ctx, prog, format!("cannot run `{shown}`: {e}")),
        }
    }
    if live {
        eprintln!("\r\x1b[2K{label}: done");
    }
    true
}

fn report(ctx: &Ctx, env: &str, progress: &[(String, Progress)]) {
    let done: Vec<&str> =
        progress.iter().filter(|(_, p)| p.failed.is_none() && !p.done.is_empty()).map(|(l, _)| l.as_str()).collect();
    ctx.ui.out(&format!("apply {env}:"));
    for (label, p) in progress {
        let line = match (&p.failed, p.done.is_empty()) {
            (Some(why), true) => format!("  {label}: failed, nothing changed there: {why}"),
            (Some(why), false) => format!("  {label}: PARTIAL: {}; then failed: {why}", p.done.join(", ")),
            (None, false) => format!("  {label}: done: {}", p.done.join(", ")),
            (None, true) => format!("  {label}: untouched (apply stopped before it)"),
        };
        ctx.ui.out(&line);
    }
    ctx.ui.out(&format!("{} of {} containers done", done.len(), progress.len()));
}
