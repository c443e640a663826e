//! Diagnostics: findings that point into the user's files.
//!
//! Every problem nlconf reports is a `Diagnostic` value: a severity, a place (file, line, column),
//! what is wrong and, where useful, what to do next. Validation collects them all and prints them
//! sorted by file and line, so one run shows every problem.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// A place in a file: 1-based line and column. `line == 0` means "the file as a whole".
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Location {
    pub file: PathBuf,
    pub line: u32,
    pub col: u32,
}

impl Location {
    pub fn new(file: impl Into<PathBuf>, line: u32, col: u32) -> Self {
        Location { file: file.into(), line, col }
    }

    pub fn file(file: impl Into<PathBuf>) -> Self {
        Location { file: file.into(), line: 0, col: 0 }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        match (self.line, self.col) {
            (0, _) => write!(f, "{file}"),
            (line, 0) => write!(f, "{file}:{line}"),
            (line, col) => write!(f, "{file}:{line}:{col}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub location: Option<Location>,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(location: Option<Location>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, location, message: message.into(), help: None }
    }

    pub fn warning(location: Option<Location>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, location, message: message.into(), help: None }
    }

    pub fn at(location: Location, message: impl Into<String>) -> Self {
        Self::error(Some(location), message)
    }

    pub fn in_file(file: &Path, message: impl Into<String>) -> Self {
        Self::error(Some(Location::file(file)), message)
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match &self.location {
            Some(loc) => write!(f, "{loc}: {label}: {}", self.message)?,
            None => write!(f, "{label}: {}", self.message)?,
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// The findings of one run. Errors make the command fail; warnings are printed and do not.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    pub fn error(&mut self, location: Location, message: impl Into<String>) {
        self.push(Diagnostic::at(location, message));
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The end of a stage: `value` with the warnings found, or every finding when one is an error.
    pub fn finish<T>(self, value: T) -> Staged<T> {
        if self.has_errors() { Err(self) } else { Ok(Warned { value, warnings: self }) }
    }

    /// Keeps the warnings of a stage that succeeded and returns its value; the findings of one that
    /// failed are kept too, and `None` returned.
    pub fn take<T>(&mut self, staged: Staged<T>) -> Option<T> {
        match staged {
            Ok(Warned { value, warnings }) => {
                self.extend(warnings);
                Some(value)
            }
            Err(all) => {
                self.extend(all);
                None
            }
        }
    }

    /// Sorted by file, line and column (file-less findings last), duplicates removed.
    pub fn sorted(mut self) -> Vec<Diagnostic> {
        self.items.sort_by(|a, b| {
            let ka = (a.location.is_none(), &a.location, a.severity);
            let kb = (b.location.is_none(), &b.location, b.severity);
            ka.cmp(&kb)
        });
        self.items.dedup();
        self.items
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics { items: vec![d] }
    }
}

impl FromIterator<Diagnostic> for Diagnostics {
    fn from_iter<T: IntoIterator<Item = Diagnostic>>(iter: T) -> Self {
        Diagnostics { items: iter.into_iter().collect() }
    }
}

/// What a stage returns: its value and the warnings found on the way, or, when it failed, every
/// finding (errors and warnings) in `Err`.
pub type Staged<T> = Result<Warned<T>, Diagnostics>;

/// A stage's value with the warnings it found.
#[derive(Debug)]
pub struct Warned<T> {
    pub value: T,
    pub warnings: Diagnostics,
}

/// Longest name (in bytes) that gets a "did you mean" suggestion: the edit distance costs the product
/// of the two lengths, and nobody mistypes a name this long.
pub const MAX_SUGGESTION_NAME: usize = 256;

/// The closest name in `candidates` to `name`, if it is close enough to be a plausible typo.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    if name.len() > MAX_SUGGESTION_NAME {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for cand in candidates {
        if cand.len() > MAX_SUGGESTION_NAME {
            continue;
        }
        let dist = if cand.eq_ignore_ascii_case(name) { 0 } else { levenshtein(&lower, &cand.to_ascii_lowercase()) };
        let limit = (name.chars().count().max(cand.chars().count()) / 3).max(1);
        if dist <= limit && best.is_none_or(|(d, _)| dist < d) {
            best = Some((dist, cand));
        }
    }
    best.map(|(_, c)| c)
}

/// Edit distance counting a swap of two neighbouring letters as one edit (`prdo` -> `prod`).
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests;
