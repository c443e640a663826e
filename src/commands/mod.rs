//! One module per command.

pub mod diff;
pub mod explain;
pub mod render;
pub mod secret;
pub mod validate;
