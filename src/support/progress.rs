//! How a stage that works on hosts tells what it is doing (DESIGN §7.1): the command shows it (a
//! live line per host in flight and `done/total` on a terminal, plain lines otherwise), or nothing.
//! Called from several threads at once.

pub trait Progress: Sync {
    /// `total` items (hosts, containers) are about to be worked on, doing `what`.
    fn begin(&self, what: &str, total: usize);
    /// `who` (a container) is starting `what`: a step worth a line in a log.
    fn step(&self, who: &str, what: &str);
    /// `who` (a host) is doing `what`: shown live, not worth a line in a log.
    fn status(&self, who: &str, what: &str);
    /// `who` is finished, successfully or not.
    fn finished(&self, who: &str, ok: bool);
}

/// Shows nothing.
pub struct Silent;

impl Progress for Silent {
    fn begin(&self, _: &str, _: usize) {}
    fn step(&self, _: &str, _: &str) {}
    fn status(&self, _: &str, _: &str) {}
    fn finished(&self, _: &str, _: bool) {}
}
