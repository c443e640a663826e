//! One loader fuzzed: each case runs in a thread of its own, and fails if it panics, runs past
//! `CASE_TIMEOUT` (a hang) or breaks the loader's property (an error without a location).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestError, TestRunner};

/// Cases per loader in `cargo test`; `NLCONF_FUZZ_CASES` sets another number (`make fuzz`).
const DEFAULT_CASES: u32 = 256;

/// Generous for a debug build on busy cores: a case takes milliseconds.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(5);

/// The stack of the binary's main thread, where the loaders run in `nlconf`.
const CASE_STACK: usize = 8 << 20;

pub fn cases() -> u32 {
    match std::env::var("NLCONF_FUZZ_CASES") {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("NLCONF_FUZZ_CASES={v}: expected a number of cases")),
        Err(_) => DEFAULT_CASES,
    }
}

/// How a loader answered an input.
pub enum Verdict {
    /// It returned its value.
    Accepted,
    /// It returned findings, each pointing into the input.
    Rejected,
}

/// What a case broke, if anything.
enum Broken {
    Panic(String),
    Hang,
    Property(String),
}

/// Runs `check` on `cases` inputs from `strategy`, and fails with the smallest input proptest finds
/// that breaks the property. Prints the counts (`cargo test --test fuzz -- --nocapture`).
pub fn fuzz<S>(
    loader: &str,
    cases: u32,
    strategy: S,
    check: impl Fn(S::Value) -> Result<Verdict, String> + Send + Sync + 'static,
) where
    S: Strategy,
    S::Value: Send + 'static,
{
    let check = Arc::new(check);
    let counts = Counts::default();
    let config = Config {
        cases,
        // A hang costs CASE_TIMEOUT per shrinking step: stop shrinking after a minute.
        max_shrink_time: 60_000,
        // Found failures are replayed first on the next run (and by `make test` once committed).
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct("tests/proptest-regressions/fuzz.txt"))),
        ..Config::default()
    };
    let started = Instant::now();
    let result = TestRunner::new(config).run(&strategy, |input| {
        counts.cases.fetch_add(1, Ordering::Relaxed);
        let check = Arc::clone(&check);
        match bounded(move || check(input)) {
            Ok(Verdict::Accepted) => counts.accepted.fetch_add(1, Ordering::Relaxed),
            Ok(Verdict::Rejected) => counts.rejected.fetch_add(1, Ordering::Relaxed),
            Err(Broken::Panic(message)) => {
                counts.panics.fetch_add(1, Ordering::Relaxed);
                return Err(TestCaseError::fail(format!("panicked: {message}")));
            }
            Err(Broken::Hang) => {
                counts.hangs.fetch_add(1, Ordering::Relaxed);
                return Err(TestCaseError::fail(format!("no answer after {CASE_TIMEOUT:?} (a hang)")));
            }
            Err(Broken::Property(message)) => {
                counts.unlocated.fetch_add(1, Ordering::Relaxed);
                return Err(TestCaseError::fail(message));
            }
        };
        Ok(())
    });
    eprintln!(
        "fuzz {loader}: {} cases ({} accepted, {} rejected with a location) in {:.1} s: {} panics, {} hangs, {} errors without a location",
        counts.cases.load(Ordering::Relaxed),
        counts.accepted.load(Ordering::Relaxed),
        counts.rejected.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
        counts.panics.load(Ordering::Relaxed),
        counts.hangs.load(Ordering::Relaxed),
        counts.unlocated.load(Ordering::Relaxed),
    );
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, input)) => panic!("fuzz {loader}: {why}\nminimal input: {input:?}"),
        Err(TestError::Abort(why)) => panic!("fuzz {loader}: aborted: {why}"),
    }
}

#[derive(Default)]
struct Counts {
    cases: AtomicUsize,
    accepted: AtomicUsize,
    rejected: AtomicUsize,
    panics: AtomicUsize,
    hangs: AtomicUsize,
    unlocated: AtomicUsize,
}

/// Runs one case in its own thread. A hung thread is left behind: the run fails anyway.
fn bounded(case: impl FnOnce() -> Result<Verdict, String> + Send + 'static) -> Result<Verdict, Broken> {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("fuzz-case".into())
        .stack_size(CASE_STACK)
        .spawn(move || {
            let _ = tx.send(case());
        })
        .expect("start a thread for the case");
    match rx.recv_timeout(CASE_TIMEOUT) {
        Ok(outcome) => {
            let _ = thread.join();
            outcome.map_err(Broken::Property)
        }
        Err(RecvTimeoutError::Disconnected) => {
            let payload = thread.join().expect_err("a case that sent nothing panicked");
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(not a string)".into());
            Err(Broken::Panic(message))
        }
        Err(RecvTimeoutError::Timeout) => Err(Broken::Hang),
    }
}
