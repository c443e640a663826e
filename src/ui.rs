//! Terminal output: diagnostics on stderr, results on stdout, color when wanted.

use std::io::Write;

use crate::diag::{Diagnostic, Diagnostics, Severity};

/// How to print: decided once from the command line (`cli::parse`).
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// Color on stderr (diagnostics, notes).
    pub color_err: bool,
    /// Color on stdout (the review).
    pub color_out: bool,
    /// Print only errors (and the results a command exists to print).
    pub quiet: bool,
    /// Print the time each stage took.
    pub verbose: bool,
}

pub struct Ui {
    /// Color on stderr (diagnostics, notes).
    pub color: bool,
    /// Color on stdout (the review), decided like `color` for that stream.
    pub color_out: bool,
    pub quiet: bool,
    pub verbose: bool,
}

impl Ui {
    pub fn new(o: Output) -> Ui {
        Ui { color: o.color_err, color_out: o.color_out, quiet: o.quiet, verbose: o.verbose }
    }

    pub fn paint(&self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    }

    /// Prints diagnostics sorted by file and line, warnings only unless quiet.
    /// (In one write: stderr is unbuffered, and a fleet's secrets encrypted by hand are hundreds of
    /// warnings, a system call each.)
    pub fn report(&self, diags: Diagnostics) {
        let mut text = String::new();
        for d in diags.sorted() {
            if d.severity == Severity::Warning && self.quiet {
                continue;
            }
            text.push_str(&self.format(&d));
            text.push('\n');
        }
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }

    fn format(&self, d: &Diagnostic) -> String {
        let (label, code) = match d.severity {
            Severity::Error => ("error", "1;31"),
            Severity::Warning => ("warning", "1;33"),
        };
        let mut s = match &d.location {
            Some(loc) => format!("{}: {}: {}", self.paint("1", &loc.to_string()), self.paint(code, label), d.message),
            None => format!("{}: {}", self.paint(code, label), d.message),
        };
        if let Some(help) = &d.help {
            s.push_str(&format!("\n  {}: {help}", self.paint("1;36", "help")));
        }
        s
    }

    /// Results on stdout, as they are (a review ends with its own newline).
    pub fn print(&self, text: &str) {
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }

    /// A line of results on stdout.
    pub fn out(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }

    /// A progress or summary line on stderr, hidden by -q.
    pub fn note(&self, line: &str) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }

    /// With -v, how long a stage took: "rendered 1000 files in 41 ms".
    pub fn timing(&self, what: &str, started: std::time::Instant) {
        self.took(what, started.elapsed());
    }

    /// With -v, a stage's timings.
    pub fn timings(&self, timings: &crate::support::clock::Timings) {
        for (what, took) in timings.iter() {
            self.took(what, took);
        }
    }

    /// With -v, how long something took.
    pub fn took(&self, what: &str, took: std::time::Duration) {
        if self.verbose {
            self.note(&format!("{what} in {} ms", took.as_millis()));
        }
    }
}

pub use crate::support::count;
