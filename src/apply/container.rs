//! One container's apply: back up and write its file atomically, run the credential step, record
//! it, run the reload and restart steps. The state record says what is still to do before anything
//! is done, so that a step that fails (or an apply that dies) is run again by the next plan.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use zeroize::Zeroizing;

use super::report::ContainerReport;
use crate::credentials::{AppliedCredential, CredentialStep, STATE_SCHEMA, StateRecord, state_file};
use crate::diag::{Diagnostic, Location as DiagLocation};
use crate::env::Environment;
use crate::plan::PlannedContainer;
use crate::render::{MASK, RenderedFile};
use crate::secrets::SecretStore;
use crate::support::progress::Progress;
use crate::target::{Location, WritePart};

/// Backups kept per file in `.nlconf/backups/`.
pub const KEEP_BACKUPS: usize = 10;

/// Everything one container's apply needs.
pub struct ContainerApply<'a> {
    pub env: &'a Environment,
    pub location: Location,
    pub planned: &'a PlannedContainer,
    pub rendered: &'a RenderedFile,
    /// What the last apply recorded here.
    pub previous: Option<&'a StateRecord>,
    pub secrets: &'a SecretStore,
    /// The backup timestamp shared by the whole run.
    pub stamp: &'a str,
    /// Show what nlserver printed when a step whose command line held a secret failed.
    pub show_credential_output: bool,
    /// The records of the credentials applied in this run, shared by an instance's containers.
    pub records: &'a Records,
}

/// What a credential step records once it has run, computed once per instance and step in a run:
/// its fingerprint is a memory-hard KDF (tens of milliseconds of a core each), and every container
/// of an instance holds the same credentials, so its containers share one record (and its salt).
#[derive(Default)]
pub struct Records {
    /// Per instance and step kind.
    cells: Mutex<HashMap<(String, String), Arc<RecordCell>>>,
}

/// A record once computed; `None` when the secrets could not be decrypted.
type RecordCell = OnceLock<Option<AppliedCredential>>;

impl Records {
    /// Computes the records of `steps` on the cores, until `done` is set.
    pub fn prepare(&self, steps: &[CredentialStep], env: &Environment, secrets: &SecretStore, done: &AtomicBool) {
        use rayon::prelude::*;
        steps.par_iter().for_each(|step| {
            if !done.load(Ordering::SeqCst) {
                self.get(step, env, secrets);
            }
        });
    }

    pub(crate) fn get(
        &self,
        step: &CredentialStep,
        env: &Environment,
        secrets: &SecretStore,
    ) -> Option<AppliedCredential> {
        let cell = {
            let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
            let key = (step.instance.to_string(), step.kind().to_string());
            Arc::clone(cells.entry(key).or_default())
        };
        cell.get_or_init(|| step.record(env, secrets)).clone()
    }
}

impl ContainerApply<'_> {
    pub fn label(&self) -> String {
        format!("{} ({})", self.planned.container, self.planned.instance)
    }

    /// Runs the planned steps in order, stopping at the first that fails: the report says what was
    /// done, and the diagnostic why it stopped.
    pub fn run(&self, reporter: &dyn Progress) -> (ContainerReport, Option<Diagnostic>) {
        let label = self.label();
        let mut report = ContainerReport { label: label.clone(), ..ContainerReport::default() };
        match self.steps(&mut report, reporter) {
            Ok(()) => {
                reporter.finished(&label, true);
                (report, None)
            }
            Err(what) => {
                reporter.finished(&label, false);
                report.failed = Some(what.clone());
                let file = format!("config-{}.xml", self.planned.instance);
                let d = Diagnostic::error(
                    Some(DiagLocation::file(self.location.shown(&file))),
                    format!("{}: {what}", self.planned.container),
                )
                .with_help("the state record keeps the steps left to do: fix the cause, then plan and apply again");
                (report, Some(d))
            }
        }
    }

    fn steps(&self, report: &mut ContainerReport, reporter: &dyn Progress) -> Result<(), String> {
        let (env, loc, p, label) = (self.env, &self.location, self.planned, report.label.clone());
        let file = format!("config-{}.xml", p.instance);
        let mut record = StateRecord {
            schema: STATE_SCHEMA.into(),
            environment: env.name.clone(),
            instance: p.instance.clone(),
            container: p.container.clone(),
            credentials: self.previous.map(|s| s.credentials.clone()).unwrap_or_default(),
            pending: p.steps.post.clone(),
            secret_attributes: self.previous.map(|s| s.secret_attributes.clone()).unwrap_or_default(),
            applied_at: crate::support::clock::now_utc(),
            nlconf_version: env!("CARGO_PKG_VERSION").into(),
        };
        // The secrets' attributes in the file about to be written: until it is, the old file's are
        // still there too.
        let written = if p.steps.write_file {
            let tree = self.rendered.tree().map_err(|d| d.message)?;
            crate::review::mask::secret_attributes(&self.rendered.content, &tree)
        } else {
            record.secret_attributes.clone()
        };
        for a in &written {
            if !record.secret_attributes.contains(a) {
                record.secret_attributes.push(a.clone());
            }
        }
        let state = state_file(&p.instance);
        let json = |record: &StateRecord| serde_json::to_vec_pretty(record).unwrap_or_default();
        let save = |record: &StateRecord| {
            loc.write_atomic(&state, &json(record)).map_err(|e| format!("cannot write the state record: {e}"))
        };
        // The steps left to do are recorded before the file is written (over ssh, with it).
        let first = (!record.pending.is_empty()).then(|| json(&record));
        if p.steps.write_file {
            reporter.step(&label, &format!("writing {file}"));
            let content = crate::render::reveal(self.rendered, |id| self.secrets.get(id), "");
            let record_first = first.as_deref().map(|j| (state.as_str(), j));
            loc.write_backed_up(&file, content.as_bytes(), (self.stamp, KEEP_BACKUPS), record_first).map_err(
                |(part, e)| match part {
                    WritePart::Record => format!("cannot write the state record: {e}"),
                    WritePart::Backup => format!("cannot back up {file}: {e}"),
                    WritePart::File => format!("cannot write {file}: {e}"),
                },
            )?;
            report.done.push(format!("wrote {file}"));
            // Saved with the steps that follow, or now when none does.
            let changed = record.secret_attributes != written;
            record.secret_attributes = written;
            if changed && p.steps.post.is_empty() {
                save(&record)?;
            }
        } else if first.is_some() {
            save(&record)?;
        }
        for planned in &p.steps.credentials {
            let Some(step) = env.instance(&p.instance).and_then(|i| CredentialStep::find(i, &planned.kind)) else {
                return Err(format!("the plan's `{}` credential step is not in the repository", planned.kind));
            };
            reporter.step(&label, &format!("setting {}", step.what()));
            let argv =
                step.argv(&env.nlserver, self.secrets).ok_or(format!("{} could not be decrypted", step.what()))?;
            let shown = step.shown(&env.nlserver);
            // What to record once it has run, ready before it runs.
            let applied =
                self.records.get(&step, env, self.secrets).ok_or(format!("{} could not be recorded", step.what()))?;
            let mut next = record.clone();
            next.credentials.insert(planned.kind.clone(), applied);
            next.applied_at = crate::support::clock::now_utc();
            let done = step.done().to_string();
            self.run_nlserver(report, done, (&argv, Some(step.secret_arg())), &shown, (&state, &json(&next)))?;
            record = next;
        }
        for args in &p.steps.post {
            let shown = format!("{} {}", env.nlserver, args.join(" "));
            reporter.step(&label, &format!("running {shown}"));
            let argv: Vec<Zeroizing<String>> =
                std::iter::once(env.nlserver.clone()).chain(args.iter().cloned()).map(Zeroizing::new).collect();
            let mut next = record.clone();
            next.pending.retain(|q| q != args);
            let done = format!("ran {}", args.join(" "));
            self.run_nlserver(report, done, (&argv, None), &shown, (&state, &json(&next)))?;
            record = next;
        }
        Ok(())
    }

    /// Runs an nlserver command (`argv`, and which argument is a secret) and, once it has run,
    /// writes `record` (file, JSON), which says so; `done` goes into the report once the command has
    /// run, even if its record could not be written. A failure says how the command ended, with
    /// what it printed (scrubbed). What a command whose arguments held a secret printed is not
    /// shown: nlserver (or a wrapper) may echo the argument in any form (quoted, escaped, encoded,
    /// cut), which no scrubbing can catch.
    fn run_nlserver(
        &self,
        report: &mut ContainerReport,
        done: String,
        (argv, secret_arg): (&[Zeroizing<String>], Option<usize>),
        shown: &str,
        record: (&str, &[u8]),
    ) -> Result<(), String> {
        let (res, recorded) = self
            .location
            .run_then_record(argv, secret_arg, record)
            .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
        if !res.success {
            let code = res.code.map_or_else(|| "a signal".to_string(), |c| format!("exit {c}"));
            if secret_arg.is_some() && !self.show_credential_output {
                return Err(format!(
                    "`{shown}` failed ({code}); what nlserver printed is not shown, since its command line held a secret: run that command by hand on the container (with the secret) to see it, or apply again at a terminal with --show-credential-output"
                ));
            }
            return Err(format!("`{shown}` failed ({code}): {}", scrub(&res.stderr, self.secrets)));
        }
        report.done.push(done);
        match recorded {
            Some(Err(e)) => Err(format!("cannot write the state record: {e}")),
            _ => Ok(()),
        }
    }
}

/// Replaces any secret that a failing program may have echoed.
fn scrub(text: &str, secrets: &SecretStore) -> String {
    // Each intermediate copy may hold a secret until it is replaced: all are wiped when dropped.
    let mut out = Zeroizing::new(text.to_string());
    for v in secrets.ids().into_iter().filter_map(|id| secrets.get(id)) {
        let s = v.expose();
        if s.len() >= 4 {
            out = Zeroizing::new(out.replace(s, MASK));
            let b64 = Zeroizing::new(base64::Engine::encode(&base64::prelude::BASE64_STANDARD, s.as_bytes()));
            out = Zeroizing::new(out.replace(b64.as_str(), MASK));
        }
    }
    out.trim().to_string()
}
