//! Where the deployed files are (DESIGN §7): a folder on this machine, or a host reached with the
//! system OpenSSH client (so `~/.ssh/config`, agents and known_hosts apply).

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::env::{Container, Environment, TargetKind};

/// One container's conf folder, resolved.
#[derive(Debug, Clone)]
pub enum Location {
    Local(PathBuf),
    Ssh { destination: String, port: Option<u16>, options: Vec<String>, dir: String },
}

impl Location {
    /// Where a file of this container lives, for messages.
    pub fn shown(&self, file: &str) -> String {
        match self {
            Location::Local(dir) => dir.join(file).display().to_string(),
            Location::Ssh { destination, dir, .. } => format!("{destination}:{dir}/{file}"),
        }
    }

    /// Reads a file: `Ok(None)` when it does not exist.
    pub fn read(&self, file: &str) -> io::Result<Option<Vec<u8>>> {
        match self {
            Location::Local(dir) => match std::fs::read(dir.join(file)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            },
            Location::Ssh { dir, .. } => {
                let path = format!("{dir}/{file}");
                let script = format!("if test -e {p}; then exec cat -- {p}; else exit 3; fi", p = shell_quote(&path));
                let out = self.ssh(&script).stdin(Stdio::null()).output()?;
                match out.status.code() {
                    Some(0) => Ok(Some(out.stdout)),
                    Some(3) => Ok(None),
                    _ => Err(io::Error::other(ssh_failure(&out.stderr))),
                }
            }
        }
    }

    /// An `ssh` command to this container's host running `script` in the remote shell.
    pub fn ssh(&self, script: &str) -> Command {
        let mut cmd = Command::new("ssh");
        if let Location::Ssh { destination, port, options, .. } = self {
            cmd.arg("-o").arg("BatchMode=yes");
            if let Some(p) = port {
                cmd.arg("-p").arg(p.to_string());
            }
            for o in options {
                cmd.arg("-o").arg(o);
            }
            cmd.arg("--").arg(destination).arg(script);
        }
        cmd
    }
}

fn ssh_failure(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("ssh failed");
    format!("ssh: {}", last.trim())
}

/// Quotes a string for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The conf folder of a container: its own `conf_dir`, else the target's, with `{container}` and
/// `{instance}` filled in. A relative local folder is relative to the repository.
pub fn locate(repo_root: &Path, env: &Environment, instance: &str, c: &Container) -> Location {
    let template = c.conf_dir.as_deref().unwrap_or(&env.target.conf_dir);
    let dir = template.replace("{container}", &c.name).replace("{instance}", instance);
    match env.target.kind {
        TargetKind::Local if repo_root == Path::new(".") => Location::Local(PathBuf::from(dir)),
        TargetKind::Local => Location::Local(repo_root.join(dir)),
        TargetKind::Ssh => {
            let host = c.host.clone().unwrap_or_else(|| c.name.clone());
            let destination = match &env.target.user {
                Some(u) => format!("{u}@{host}"),
                None => host,
            };
            Location::Ssh { destination, port: env.target.port, options: env.target.options.clone(), dir }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_for_the_shell() {
        assert_eq!(shell_quote("/a b/it's"), "'/a b/it'\\''s'");
    }
}
