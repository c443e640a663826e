// See Cargo.toml: allocation-heavy parsing across threads is twice as fast with mimalloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(nlconf::app::run(std::env::args_os()))
}
