//! Adopting a running environment (DESIGN §10): after `import` (or a YAML written by hand to match),
//! record on each container that what is deployed is what the YAML says, without running nlserver,
//! so that the first plan has nothing to do. A container is adopted when its deployed file equals the
//! rendered one but for formatting, and every credential's non-secret fields as deployed equal the
//! YAML's; its state record is then written (as if the credential steps had run), and a file that
//! differs in formatting only is written in nlconf's form, both under the container's lock. nlconf
//! cannot check the secrets themselves against the deployed ciphertexts: only nlserver can read those.

use crate::credentials::{CredentialStep, STATE_SCHEMA, StateRecord, state_file};
use crate::deployed::{self, Hosts, Source};
use crate::diag::{Diagnostic, Diagnostics, Staged, Warned};
use crate::env::Environment;
use crate::plan::compute::{self, Planned};
use crate::render::Templates;
use crate::repo::Repository;
use crate::review::{FileStatus, Options};
use crate::secrets::Identities;

use super::{KEEP_BACKUPS, LockSet, Records, lock_info};

/// What adopt did on each container.
#[derive(Debug, Default)]
pub struct AdoptReport {
    /// `app1 (mkt_prod): recorded ims, dblogin` and the like.
    pub adopted: Vec<String>,
    /// Containers left alone, with the reason.
    pub refused: Vec<String>,
    pub errors: Diagnostics,
}

/// Adopts the containers of `instances` (all when empty).
pub fn adopt(
    env: Environment,
    templates: &Templates,
    repo: &Repository,
    ids: &Identities,
    instances: &[String],
    hosts: &Hosts,
) -> Staged<AdoptReport> {
    let review = compute::Request {
        repo,
        source: &Source::Target,
        options: Options { semantic: false, context: 3 },
        identities: Some(ids),
        hosts,
    };
    let Warned { value: now, warnings: mut diags } = compute::against_deployed(env, templates, &review)?;
    for name in instances {
        if now.env.instance(name).is_none() {
            diags.push(Diagnostic::error(None, format!("environment `{}` has no instance `{name}`", now.env.name)));
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    let mut report = AdoptReport::default();
    let chosen = |i: &str| instances.is_empty() || instances.iter().any(|n| n == i);
    let mut ready = Vec::new();
    for (k, f) in now.review.files.iter().enumerate().filter(|(_, f)| chosen(&f.instance)) {
        let label = format!("{} ({})", f.container, f.instance);
        match why_not(&now, k) {
            Some(why) => report.refused.push(format!("{label}: {why}")),
            None => ready.push(k),
        }
    }
    let locations: Vec<_> = ready
        .iter()
        .filter_map(|&k| {
            let f = &now.rendered[k];
            let inst = now.env.instance(&f.instance)?;
            Some((
                f.container.as_str(),
                deployed::location(&repo.root, &now.env, &Source::Target, inst, inst.container(&f.container)?),
            ))
        })
        .collect();
    let locks = LockSet::acquire(locations.iter().map(|(c, l)| (*c, l.clone())), &lock_info(), hosts).map_err(|d| {
        diags.extend(d);
        std::mem::take(&mut diags)
    })?;
    let stamp = crate::support::clock::now_stamp();
    let records = Records::default();
    for (&k, (_, loc)) in ready.iter().zip(&locations) {
        let f = &now.rendered[k];
        let label = format!("{} ({})", f.container, f.instance);
        match record(&now, k, loc, &stamp, &records) {
            Ok(done) => report.adopted.push(format!("{label}: {done}")),
            Err(e) => report.errors.push(
                Diagnostic::in_file(std::path::Path::new(&loc.shown(&f.file_name)), format!("{label}: {e}"))
                    .with_help("nothing else was changed on that container; fix the cause and run adopt again"),
            ),
        }
    }
    report.errors.extend(locks.release(hosts.parallelism));
    diags.finish(report)
}

/// Why container `k` cannot be adopted, if it cannot.
fn why_not(now: &Planned, k: usize) -> Option<String> {
    let (f, d) = (&now.review.files[k], &now.deployed[k]);
    if d.digest == "absent" {
        return Some("no deployed file: nothing to adopt (plan and apply create it)".into());
    }
    if f.status != FileStatus::Unchanged && !f.invisible_to_acc() {
        return Some("the deployed file differs from the YAML (see nlconf diff --semantic)".into());
    }
    let inst = now.env.instance(&f.instance)?;
    for step in CredentialStep::of(inst) {
        if let Some(why) = step.deployed_differs(&d.facts) {
            return Some(format!("{}: {why}", step.what()));
        }
    }
    if d.state.as_ref().is_some_and(|s| !s.pending.is_empty()) {
        return Some("an apply left steps to do here: plan and apply instead".into());
    }
    None
}

/// Writes container `k`'s state record (and its file, when it differs in formatting only).
fn record(
    now: &Planned,
    k: usize,
    loc: &crate::target::Location,
    stamp: &str,
    records: &Records,
) -> Result<String, String> {
    let (f, d) = (&now.rendered[k], &now.deployed[k]);
    // Under the lock, the container must still be what was compared.
    let inst = now.env.instance(&f.instance).ok_or("no such instance")?;
    let cont = inst.container(&f.container).ok_or("no such container")?;
    let again = deployed::read_one(loc, inst, cont).map_err(|e| e.message)?;
    if again.digest != d.digest || crate::plan::state_digest(Some(&again)) != crate::plan::state_digest(Some(d)) {
        return Err("it changed while adopt ran: run adopt again".into());
    }
    let store = now.secrets.as_ref().ok_or("no secrets were decrypted")?;
    let mut record = StateRecord {
        schema: STATE_SCHEMA.into(),
        environment: now.env.name.clone(),
        instance: f.instance.clone(),
        container: f.container.clone(),
        credentials: Default::default(),
        pending: Vec::new(),
        secret_attributes: Vec::new(),
        applied_at: crate::support::clock::now_utc(),
        nlconf_version: env!("CARGO_PKG_VERSION").into(),
    };
    let mut kinds = Vec::new();
    for step in CredentialStep::of(inst) {
        let applied = records.get(&step, &now.env, store).ok_or(format!("{} could not be decrypted", step.what()))?;
        record.credentials.insert(step.kind().to_string(), applied);
        kinds.push(step.kind());
    }
    let tree = f.tree().map_err(|d| d.message)?;
    record.secret_attributes = crate::review::mask::secret_attributes(&f.content, &tree);
    let file = &f.file_name;
    let mut done = Vec::new();
    if now.review.files[k].status != FileStatus::Unchanged {
        loc.backup(file, stamp, KEEP_BACKUPS).map_err(|e| format!("cannot back up {file}: {e}"))?;
        let content = crate::render::reveal(f, |id| store.get(id), "");
        loc.write_atomic(file, content.as_bytes()).map_err(|e| format!("cannot write {file}: {e}"))?;
        done.push(format!("rewrote {file} in nlconf's form (formatting only)"));
    }
    let json = serde_json::to_vec_pretty(&record).map_err(|e| e.to_string())?;
    loc.write_atomic(&state_file(&f.instance), &json).map_err(|e| format!("cannot write the state record: {e}"))?;
    done.push(if kinds.is_empty() {
        "recorded (no credential step)".to_string()
    } else {
        format!("recorded {}", kinds.join(", "))
    });
    Ok(done.join(", "))
}
