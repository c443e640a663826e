//! Terminal output: diagnostics on stderr, results on stdout, color when wanted.

use std::io::{IsTerminal, Write};

use crate::cli::ColorArg;
use crate::diag::{Diagnostic, Diagnostics, Severity};

pub struct Ui {
    /// Color on stderr (diagnostics, notes).
    pub color: bool,
    /// Color on stdout (the review), decided like `color` for that stream.
    pub color_out: bool,
    pub quiet: bool,
    pub verbose: bool,
}

impl Ui {
    pub fn new(color: ColorArg, quiet: bool, verbose: bool) -> Ui {
        let wanted = |is_terminal: bool| match color {
            ColorArg::Always => true,
            ColorArg::Never => false,
            ColorArg::Auto => std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && is_terminal,
        };
        Ui {
            color: wanted(std::io::stderr().is_terminal()),
            color_out: wanted(std::io::stdout().is_terminal()),
            quiet,
            verbose,
        }
    }

    pub fn paint(&self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    }

    /// Prints diagnostics sorted by file and line, warnings only unless quiet.
    pub fn report(&self, diags: Diagnostics) {
        let mut err = std::io::stderr().lock();
        for d in diags.sorted() {
            if d.severity == Severity::Warning && self.quiet {
                continue;
            }
            let _ = writeln!(err, "{}", self.format(&d));
        }
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
        if self.verbose {
            self.note(&format!("{what} in {} ms", started.elapsed().as_millis()));
        }
    }
}

/// "1 file", "2 files".
pub fn count(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}
