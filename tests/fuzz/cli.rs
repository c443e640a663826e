//! The real binary on a fuzzed environment: `nlconf validate` exits 0 or 1 (never 101, an abort or a
//! signal), never prints a panic, and each error it prints starts with `path:line:col`.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::case::{Verdict, cases, fuzz};
use crate::input::{self, inputs};
use crate::seeds;
use crate::stages::Fixture;

/// A process per case: a sixteenth of the library cases (at least 16).
fn cli_cases() -> u32 {
    (cases() / 16).max(16)
}

/// Below `case::CASE_TIMEOUT`, so that the process is killed and reported, not left behind.
const RUN_TIMEOUT: Duration = Duration::from_secs(4);

#[test]
fn validate_exits_1_with_located_errors() {
    let files = Arc::new(seeds::environment_files());
    let seeds = files.iter().map(|f| f.bytes.clone()).collect();
    fuzz("environment YAML (nlconf validate)", cli_cases(), inputs(&input::YAML, seeds), move |input| {
        let seed = &files[input.seed];
        let fixture = Fixture::new(seed.layout, &[(&seed.path, &input.bytes)]);
        let out = tempfile::tempdir().expect("create a folder for the output");
        let (stdout, stderr) = (out.path().join("stdout"), out.path().join("stderr"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_nlconf"))
            .arg("-C")
            .arg(&fixture.repo.root)
            .args(["--color", "never", "validate"])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("create the stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("create the stderr file"))
            .spawn()
            .expect("run nlconf");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for nlconf") {
                break status;
            }
            if started.elapsed() > RUN_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("nlconf validate still running after {RUN_TIMEOUT:?} (a hang)"));
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let stderr = std::fs::read_to_string(&stderr).expect("read stderr");
        if stderr.contains("panicked") {
            return Err(format!("nlconf validate panicked:\n{stderr}"));
        }
        match status.code() {
            Some(0) => Ok(Verdict::Accepted),
            Some(1) => errors_located(&stderr).map(|()| Verdict::Rejected),
            _ => Err(format!("nlconf validate ended with {status}:\n{stderr}")),
        }
    });
}

/// Every `error:` line names a place; at least one names a line and column.
fn errors_located(stderr: &str) -> Result<(), String> {
    let mut with_line = 0;
    let mut errors = 0;
    for line in stderr.lines() {
        let Some(place) =
            line.split_once(": error: ").map(|(place, _)| place).or(line.strip_prefix("error: ").map(|_| ""))
        else {
            continue;
        };
        errors += 1;
        if place.is_empty() {
            return Err(format!("an error without a location:\n{stderr}"));
        }
        let mut parts = place.rsplitn(3, ':');
        let (col, line, path) = (parts.next(), parts.next(), parts.next());
        if let (Some(col), Some(line), Some(path)) = (col, line, path)
            && !path.is_empty()
            && col.parse::<u32>().is_ok_and(|c| c > 0)
            && line.parse::<u32>().is_ok_and(|l| l > 0)
        {
            with_line += 1;
        }
    }
    match (errors, with_line) {
        (0, _) => Err(format!("exit 1 without an error:\n{stderr}")),
        (_, 0) => Err(format!("no error names a line and column:\n{stderr}")),
        _ => Ok(()),
    }
}
