//! The fuzzing harness (issue 13): every loader of nlconf fed arbitrary bytes and mutations of the
//! repository's own files, on stable Rust (proptest), as a test binary of its own.
//!
//! The property, for every input and every loader: it answers (its value, or its findings) without
//! panicking and within `case::CASE_TIMEOUT`, and every error it reports points into the input: a
//! file, and a line wherever the loader knows one. The real binary is held to the same on a fuzzed
//! environment: `validate` exits 0 or 1, never panics, and its errors read `path:line:col: error:`.
//!
//! | loader | entry point | seeds |
//! |---|---|---|
//! | environment YAML | `support::yaml::parse`, `env::load` (+ built-in rendering), `nlconf validate` | `environments/`, the test fixtures |
//! | recipients | `secrets::RecipientSet::parse` | `recipients` files, `demo/keys/*.pub` |
//! | armor | `secrets::Ciphertext::parse` | the `!age` values of the seed YAML |
//! | deployed XML | `support::xml::parse`, `deployed::read_one` | `demo/deployed/`, the import fixtures |
//! | state records | `serde_json` into `credentials::StateRecord`, `deployed::read_one` | a record of the fixture |
//! | plan files | `plan::file::read` | a plan of the fixture, made by the library |
//! | templates | `render::Templates::load`, `render_environment` | `templates/` |
//!
//! `cargo test` runs 256 cases per loader (a sixteenth of that for the binary); `NLCONF_FUZZ_CASES`
//! sets another number, and `make fuzz` runs 20,000 in a release build. Each test prints its counts
//! (`cargo test --test fuzz -- --nocapture`). A failure shows the smallest input found, as a byte
//! string, and is replayed first on later runs (`tests/proptest-regressions/fuzz.txt`).

mod case;
mod cli;
mod formats;
mod input;
mod seeds;
mod stages;

use std::path::Path;

use nlconf::diag::{Diagnostic, Location};

use case::Verdict;

/// The findings of a loader that refused its input: each error must name a file, and `rule` checks
/// the rest of its location (the line, where the loader knows it).
fn located<'a>(
    findings: impl IntoIterator<Item = &'a Diagnostic>,
    rule: impl Fn(&Diagnostic, &Location) -> Result<(), String>,
) -> Result<Verdict, String> {
    let mut errors = 0;
    for d in findings.into_iter().filter(|d| d.is_error()) {
        errors += 1;
        let Some(location) = &d.location else { return Err(format!("an error without a location: {d}")) };
        if location.file.as_os_str().is_empty() {
            return Err(format!("an error without a file: {d}"));
        }
        rule(d, location)?;
    }
    if errors == 0 { Err("refused without an error".into()) } else { Ok(Verdict::Rejected) }
}

/// A line of `text`, or the one just past its end (where "missing ..." errors point). A lone `\r`
/// ends a line too (it does in YAML and XML).
fn line_in(what: &str, line: usize, text: &str) -> Result<(), String> {
    let lines = text.replace("\r\n", "\n").split(['\n', '\r']).count();
    if line == 0 || line > lines + 1 {
        return Err(format!("{what}: line {line}, but the input has {lines} lines"));
    }
    Ok(())
}

/// An error in `file` names a line of `text`; errors in other files need only name the file.
fn line_of(file: &Path, text: &str) -> impl Fn(&Diagnostic, &Location) -> Result<(), String> {
    move |d, location| {
        if location.file == file { line_in(&d.to_string(), location.line as usize, text) } else { Ok(()) }
    }
}
