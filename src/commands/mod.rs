//! One module per command.

pub mod diff;
pub mod explain;
pub mod ims;
pub mod render;
pub mod secret;
pub mod validate;
