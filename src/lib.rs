//! nlconf: GitOps for Adobe Campaign Classic instance configuration.
//!
//! The pipeline, one module per stage: `cli` (arguments) -> `repo` (files found) -> `env` (YAML
//! merged with provenance, validated against `schema`) -> `render` (one file per container, secrets as
//! placeholders). `app` runs a command and maps its outcome to an exit code.

pub mod app;
pub mod carry;
pub mod cli;
pub mod commands;
pub mod credentials;
pub mod deployed;
pub mod diag;
pub mod env;
pub mod fsutil;
pub mod gitrev;
pub mod import;
pub mod plan;
pub mod render;
pub mod repo;
pub mod review;
pub mod schema;
pub mod secrets;
pub mod target;
pub mod ui;
pub mod xml;
pub mod yaml;
pub mod yamledit;
