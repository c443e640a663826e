//! What the stages stand on, none of it specific to Adobe Campaign: file formats (YAML with
//! positions, byte-preserving YAML edits, XML with positions), the file system, git and the clock.

pub mod clock;
pub mod digest;
pub mod fs;
pub mod git;
pub mod interrupt;
pub mod pool;
pub mod progress;
#[cfg(test)]
pub(crate) mod testing;
pub mod xml;
pub mod yaml;
pub mod yamledit;

/// "1 file", "2 files".
pub fn count(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}
