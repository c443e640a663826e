//! One module per command.

pub mod apply;
pub mod diff;
pub mod explain;
pub mod import;
pub mod ims;
pub mod plan;
pub mod render;
pub mod secret;
pub mod validate;
