//! nlconf: GitOps for Adobe Campaign Classic instance configuration.

pub mod app;
pub mod apply;
pub mod cli;
pub mod commands;
pub mod credentials;
pub mod deployed;
pub mod diag;
pub mod env;
pub mod import;
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
