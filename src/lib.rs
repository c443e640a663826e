//! nlconf: GitOps for Adobe Campaign Classic instance configuration.
//!
//! The program is a pipeline of typed stages; each takes the previous stage's types and returns its
//! own, as `Staged<T>` (the value and its warnings, or every finding with file:line:col):
//!
//! ```text
//! cli (arguments, resolved once)
//!  -> repo        Repository: the files found
//!  -> env         Environment: YAML merged with provenance, validated against `schema`
//!  -> secrets     SecretStore: each !age value decrypted once, named by SecretId, wiped on drop
//!  -> render      RenderedFile: one config-<instance>.xml per container, secrets as placeholders,
//!                 nlserver's attributes carried over from the deployed file (render::carry)
//!  -> deployed    DeployedFile: what a container holds, read through `target` (local or ssh)
//!  -> review      FileReview: old and new compared, every secret masked (review::base: a git revision)
//!  -> plan        Planned (plan::compute, one parallel pass per container) and PlanFile (plan::file)
//!  -> apply       ApplyReport: locks, re-check, atomic writes, credential steps, reload, state
//! ```
//!
//! Beside the pipeline: `credentials` (the nlserver credential step and its state record),
//! `import` (deployed files to YAML), `manage` (secret set/rekey/check), `diag` (findings),
//! `support` (YAML, XML, file system, git, clock, digests) and `ui` (printing). `commands` are thin:
//! arguments to a stage's request, one stage call, printing; `app` runs one and picks the exit code.
//! No stage depends on `commands` or `app`.

pub mod app;
pub mod apply;
pub mod cli;
pub mod commands;
pub mod credentials;
pub mod deployed;
pub mod diag;
pub mod env;
pub mod import;
pub mod init;
pub mod manage;
pub mod plan;
pub mod render;
pub mod repo;
pub mod review;
pub mod schema;
pub mod secrets;
pub mod support;
pub mod target;
pub mod ui;
