use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(nlconf::app::run(std::env::args_os()))
}
