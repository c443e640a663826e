//! What an apply did, container by container, and how its progress is shown while it runs.

use crate::diag::Diagnostics;

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
                (None, true) => format!("  {label}: not started (apply stopped before it)"),
            });
        }
        let done = self.containers.iter().filter(|c| c.failed.is_none() && !c.done.is_empty()).count();
        let failed = self.containers.iter().filter(|c| c.failed.is_some()).count();
        let not_started = self.containers.len() - done - failed;
        let mut total = format!("{done} of {} containers done", self.containers.len());
        if failed + not_started > 0 {
            total.push_str(&format!(", {failed} failed, {not_started} not started"));
        }
        out.push(total);
        out
    }
}
