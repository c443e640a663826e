//! nlconf's integration tests: one binary, one module per part of the manual.
//!
//! Each test writes a configuration repository into a temporary folder (`harness`), runs the real
//! `nlconf` binary on it, and states the exit code, stdout and stderr an administrator sees.
//! Rendered files, `explain` output and `--help` are insta snapshots under `integration/snapshots/`.

mod apply;
mod bad_input;
mod crash;
mod credentials;
mod editors;
mod explain;
mod fleet;
mod harness;
mod help;
mod hostile;
mod import;
mod layering;
mod leak;
mod live_fleet;
mod pipelines;
mod properties;
mod render;
mod review;
mod rough_edges;
mod secrets;
mod ssh;
mod untrusted_repo;
mod validate;
