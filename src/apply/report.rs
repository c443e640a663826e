//! What an apply did, container by container, and how its progress is shown while it runs.

use crate::diag::Diagnostics;

/// Told of each step as apply runs it: a live line on a terminal, plain lines elsewhere.
pub trait Reporter {
    /// `container` is starting `what` (e.g. `writing config-mkt_prod.xml`).
    fn step(&mut self, container: &str, what: &str);
    /// `container` is finished, successfully or not.
    fn finished(&mut self, container: &str, ok: bool);
}

/// How far apply got on one container.
#[derive(Debug, Default)]
pub struct ContainerReport {
    /// `app1 (mkt_prod)`
    pub label: String,
    pub done: Vec<String>,
    pub failed: Option<String>,
}

/// The end of an apply: what each container of the plan that had work got.
#[derive(Debug, Default)]
pub struct ApplyReport {
    pub environment: String,
    /// The plan had nothing to do: no lock was taken, nothing ran.
    pub nothing_to_do: bool,
    /// The plan was carried out before: nothing ran.
    pub already_applied: bool,
    pub containers: Vec<ContainerReport>,
    /// Why apply stopped (a step that failed, a lock it could not release), with where.
    pub errors: Diagnostics,
}

impl ApplyReport {
    pub fn failed(&self) -> bool {
        self.errors.has_errors()
    }

    /// The report as a person reads it: one line per container, then the count.
    pub fn lines(&self) -> Vec<String> {
        if self.nothing_to_do {
            return vec![format!("apply {}: nothing to do", self.environment)];
        }
        if self.already_applied {
            return vec![format!(
                "apply {}: already applied (every planned file is deployed and every step recorded as done)",
                self.environment
            )];
        }
        let mut out = vec![format!("apply {}:", self.environment)];
        for c in &self.containers {
            let label = &c.label;
            out.push(match (&c.failed, c.done.is_empty()) {
                (Some(why), true) => format!("  {label}: failed, nothing changed there: {why}"),
                (Some(why), false) => format!("  {label}: PARTIAL: {}; then failed: {why}", c.done.join(", ")),
                (None, false) => format!("  {label}: done: {}", c.done.join(", ")),
                (None, true) => format!("  {label}: untouched (apply stopped before it)"),
            });
        }
        let done = self.containers.iter().filter(|c| c.failed.is_none() && !c.done.is_empty()).count();
        out.push(format!("{done} of {} containers done", self.containers.len()));
        out
    }
}
