//! An `ssh` stand-in for `make bench` (bench/ssh.sh puts it first on PATH, named `ssh`): it costs
//! what a network costs, and runs the remote script on this machine.
//!
//! - a new connection (a master, `-o ControlMaster=yes`, or a command without a live control
//!   socket) sleeps `SSH_STANDIN_HANDSHAKE` seconds (default 0.150) and appends a line to
//!   `SSH_STANDIN_LOG`;
//! - every command sleeps `SSH_STANDIN_RTT` seconds (default 0.030), a session's round trip, then
//!   runs its script with `sh -c`, stdin, stdout and stderr passed through;
//! - `-O exit` removes the control "socket" (a plain file here).
//!
//! The destination is ignored: every host is this machine. A compiled stand-in (not a shell
//! script) so that the benchmark's own processes cost little of the machine's CPU.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::time::Duration;

fn seconds(var: &str, default: f64) -> Duration {
    let s = std::env::var(var).ok().and_then(|v| v.parse::<f64>().ok()).unwrap_or(default);
    Duration::from_secs_f64(s.max(0.0))
}

fn log_connection(destination: &str) {
    if let Some(path) = std::env::var_os("SSH_STANDIN_LOG") {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path);
        if let Ok(mut f) = file {
            let _ = writeln!(f, "connect {destination}");
        }
    }
}

fn main() {
    let handshake = seconds("SSH_STANDIN_HANDSHAKE", 0.150);
    let rtt = seconds("SSH_STANDIN_RTT", 0.030);
    let mut args = std::env::args().skip(1);
    let (mut master, mut control, mut op, mut no_command) = (None::<String>, None::<String>, None::<String>, false);
    let mut rest = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            // ssh takes the first value given for an option.
            "-o" => {
                let o = args.next().unwrap_or_default();
                if let Some(v) = o.strip_prefix("ControlMaster=") {
                    master.get_or_insert(v.to_string());
                } else if let Some(v) = o.strip_prefix("ControlPath=") {
                    control.get_or_insert(v.to_string());
                }
            }
            "-p" | "-i" | "-l" | "-F" | "-J" => {
                args.next();
            }
            "-O" => op = args.next(),
            "-S" => control = args.next(),
            "-N" => no_command = true,
            "-M" => master = Some("yes".into()),
            "--" => {
                rest.extend(args.by_ref());
                break;
            }
            s if s.starts_with('-') => {}
            _ => {
                rest.push(a);
                rest.extend(args.by_ref());
                break;
            }
        }
    }
    let destination = rest.first().cloned().unwrap_or_default();
    let script = rest.get(1..).map(|s| s.join(" ")).unwrap_or_default();
    if op.as_deref() == Some("exit") {
        if let Some(c) = control {
            let _ = std::fs::remove_file(c);
        }
        return;
    }
    if master.as_deref() == Some("yes") {
        std::thread::sleep(handshake);
        log_connection(&destination);
        if let Some(c) = control {
            let _ = std::fs::write(c, b"");
        }
        return;
    }
    if !control.as_deref().is_some_and(|c| std::path::Path::new(c).exists()) {
        std::thread::sleep(handshake);
        log_connection(&destination);
    }
    std::thread::sleep(rtt);
    if no_command {
        return;
    }
    let err = std::process::Command::new("sh").arg("-c").arg(script).exec();
    eprintln!("ssh stand-in: cannot run sh: {err}");
    std::process::exit(255);
}
