//! Where the deployed files are (DESIGN §7): a folder on this machine, or a host reached with the
//! system OpenSSH client (so `~/.ssh/config`, agents and known_hosts apply).

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::env::{Container, Target, TargetKind};

mod local;
mod remote;
mod ssh;

pub use ssh::{CloseOnDrop, close_all};

use local::ConfDir;
pub use local::MAX_DEPLOYED_BYTES;

/// One container's conf folder, resolved.
#[derive(Debug, Clone)]
pub enum Location {
    Local(PathBuf),
    Ssh { destination: String, port: Option<u16>, options: Vec<String>, connect_timeout: u32, dir: String },
}

impl Location {
    /// Where a file of this container lives, for messages.
    pub fn shown(&self, file: &str) -> String {
        match self {
            Location::Local(dir) => dir.join(file).display().to_string(),
            Location::Ssh { destination, dir, .. } => format!("{destination}:{dir}/{file}"),
        }
    }

    /// Reads a file nlconf reads or wrote (a deployed file, a state record): `Ok(None)` when it does
    /// not exist; a symlink, anything but a regular file, or a file over the cap is an error.
    pub fn read(&self, file: &str) -> io::Result<Option<Vec<u8>>> {
        match self {
            Location::Local(dir) => match ConfDir::open(dir) {
                Ok(conf) => conf.read(file, MAX_DEPLOYED_BYTES),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            },
            Location::Ssh { .. } => self.read_many(&[file]).pop().unwrap_or(Ok(None)),
        }
    }

    /// Reads several files of the folder: for each, its bytes or `None` when absent. Over ssh, one
    /// connection reads them all (a review reads a container's state record and file together);
    /// a failure of that connection is every file's.
    pub fn read_many(&self, files: &[&str]) -> Vec<io::Result<Option<Vec<u8>>>> {
        match self {
            // The folder opened once for all of them.
            Location::Local(dir) => match ConfDir::open(dir) {
                Ok(conf) => files.iter().map(|f| conf.read(f, MAX_DEPLOYED_BYTES)).collect(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => files.iter().map(|_| Ok(None)).collect(),
                Err(e) => files.iter().map(|_| Err(io::Error::new(e.kind(), e.to_string()))).collect(),
            },
            Location::Ssh { .. } => read_on_host(&[(self, files)]).pop().unwrap_or_default(),
        }
    }
}

/// Reads the files of several folders of one host (ssh locations sharing a destination) in one
/// round trip: per folder, per file, its bytes or `None` when absent. A failure of the connection
/// is every file's.
pub fn read_on_host(folders: &[(&Location, &[&str])]) -> Vec<Vec<io::Result<Option<Vec<u8>>>>> {
    let failed = |e: &dyn std::fmt::Display| {
        folders.iter().map(|(_, files)| files.iter().map(|_| Err(io::Error::other(e.to_string()))).collect()).collect()
    };
    let Some((first, _)) = folders.first() else { return Vec::new() };
    // Each file as a header line and exactly that many bytes: `-` when absent, `L` for a symlink
    // (in its own name or in `.nlconf`), `S` for anything but a regular file, `B` for a file over
    // the cap, else its size.
    let groups: Vec<(&str, &[&str])> = folders
        .iter()
        .map(|(loc, files)| match loc {
            Location::Ssh { dir, .. } => (dir.as_str(), *files),
            Location::Local(_) => ("", *files),
        })
        .collect();
    let script = remote::read_folders(&groups, MAX_DEPLOYED_BYTES);
    let out = match first.ssh(&script).and_then(|mut cmd| cmd.stdin(Stdio::null()).output()) {
        Ok(o) if o.status.success() => o.stdout,
        Ok(o) => return failed(&ssh_failure(&o.stderr)),
        Err(e) => return failed(&e),
    };
    let mut rest = out.as_slice();
    let mut all = Vec::with_capacity(folders.len());
    for (loc, files) in folders {
        let mut read = Vec::with_capacity(files.len());
        for file in files.iter() {
            let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                return failed(&"ssh: the files changed while they were read; run again");
            };
            let header = std::str::from_utf8(&rest[..nl]).unwrap_or("").trim();
            rest = &rest[nl + 1..];
            let what = match header {
                "-" => {
                    read.push(Ok(None));
                    continue;
                }
                "L" => "is a symlink (or lies behind one)",
                "S" => "is not a regular file",
                "B" => "is larger than the cap on deployed files",
                _ => match header.parse::<usize>() {
                    Ok(n) if n <= rest.len() => {
                        read.push(Ok(Some(rest[..n].to_vec())));
                        rest = &rest[n..];
                        continue;
                    }
                    _ => return failed(&"ssh: the files changed while they were read; run again"),
                },
            };
            read.push(Err(io::Error::other(format!(
                "{} {what}: refused (whoever can write the conf folder could point nlconf elsewhere)",
                loc.shown(file)
            ))));
        }
        all.push(read);
    }
    all
}

fn ssh_failure(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("ssh failed").trim();
    if last.starts_with("ssh:") { last.to_string() } else { format!("ssh: {last}") }
}

/// Quotes a string for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The conf folder of a container: its own `conf_dir`, else the target's, with `{container}` and
/// `{instance}` filled in. A relative local folder is relative to the repository.
pub fn locate(repo_root: &Path, target: &Target, instance: &str, c: &Container) -> Location {
    locate_named(repo_root, target, instance, &c.name, c.host.as_deref(), c.conf_dir.as_deref())
}

/// Like `locate`, for a container known by its name, host and folder only.
pub fn locate_named(
    repo_root: &Path,
    target: &Target,
    instance: &str,
    name: &str,
    host: Option<&str>,
    conf_dir: Option<&str>,
) -> Location {
    let template = conf_dir.unwrap_or(&target.conf_dir);
    let dir = template.replace("{container}", name).replace("{instance}", instance);
    match target.kind {
        TargetKind::Local if repo_root == Path::new(".") => Location::Local(PathBuf::from(dir)),
        TargetKind::Local => Location::Local(repo_root.join(dir)),
        TargetKind::Ssh => {
            let host = host.unwrap_or(name).to_string();
            let destination = match &target.user {
                Some(u) => format!("{u}@{host}"),
                None => host,
            };
            Location::Ssh {
                destination,
                port: target.port,
                options: target.options.clone(),
                connect_timeout: target.connect_timeout,
                dir,
            }
        }
    }
}

#[cfg(test)]
mod tests;

/// Who holds a container's lock, as written in `<conf>/.nlconf/lock`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct LockInfo {
    pub holder: String,
    pub host: String,
    pub pid: u32,
    pub time: String,
}

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {} (pid {}) since {}", self.holder, self.host, self.pid, self.time)
    }
}

pub enum LockError {
    /// Another apply holds it: what its lock file says.
    Held(String),
    Io(io::Error),
}

/// Which part of `write_backed_up` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePart {
    Record,
    Backup,
    File,
}

/// What a command run on a container printed, and how it ended.
pub struct RunResult {
    pub success: bool,
    pub code: Option<i32>,
    pub stderr: String,
}

/// nlconf's own folder inside a conf folder.
pub const WORK_DIR: &str = ".nlconf";
pub const LOCK_FILE: &str = ".nlconf/lock";
pub const BACKUP_DIR: &str = ".nlconf/backups";

impl Location {
    /// Writes `file` atomically: a temporary file in `.nlconf/` of the same folder (never where ACC
    /// reads), synced, given the old file's mode and owner (new files: 0640, the folder's owner),
    /// renamed over the old one, and the folder synced.
    pub fn write_atomic(&self, file: &str, bytes: &[u8]) -> io::Result<()> {
        match self {
            Location::Local(dir) => ConfDir::create(dir)?.write_atomic(file, bytes),
            Location::Ssh { dir, .. } => {
                let script = remote::script(dir, &remote::write_atomic(file));
                self.ssh_with_input(&script, bytes).and_then(|r| {
                    if r.success { Ok(()) } else { Err(io::Error::other(ssh_failure(r.stderr.as_bytes()))) }
                })
            }
        }
    }

    /// Writes the state record `record` first (when given), then backs up `file` and writes it
    /// atomically, as `write_atomic` and `backup` do; over ssh in one round trip. A failure says
    /// which of the three failed.
    pub fn write_backed_up(
        &self,
        file: &str,
        bytes: &[u8],
        backup: (&str, usize),
        record: Option<(&str, &[u8])>,
    ) -> Result<(), (WritePart, io::Error)> {
        let (stamp, keep) = backup;
        let Location::Ssh { dir, .. } = self else {
            if let Some((state, json)) = record {
                self.write_atomic(state, json).map_err(|e| (WritePart::Record, e))?;
            }
            self.backup(file, stamp, keep).map_err(|e| (WritePart::Backup, e))?;
            return self.write_atomic(file, bytes).map_err(|e| (WritePart::File, e));
        };
        let script = remote::script(dir, &remote::write_backed_up(file, stamp, keep, record.map(|r| r.0)));
        let mut input = Vec::new();
        if let Some((_, json)) = record {
            let value: serde_json::Value =
                serde_json::from_slice(json).map_err(|e| (WritePart::Record, io::Error::other(e)))?;
            input = serde_json::to_vec(&value).map_err(|e| (WritePart::Record, io::Error::other(e)))?;
            input.push(b'\n');
        }
        input.extend_from_slice(bytes);
        // A connection that fails fails the first part.
        let first = if record.is_some() { WritePart::Record } else { WritePart::Backup };
        let out = self.ssh(&script).and_then(|mut cmd| run_with_input(&mut cmd, &input)).map_err(|e| (first, e))?;
        let said = String::from_utf8_lossy(&out.stdout);
        let done = |part: &str| said.lines().any(|l| l == format!("done {part}"));
        if out.status.success() && done("file") {
            return Ok(());
        }
        let part = if record.is_some() && !done("record") {
            WritePart::Record
        } else if !done("backup") {
            WritePart::Backup
        } else {
            WritePart::File
        };
        Err((part, io::Error::other(ssh_failure(&out.stderr))))
    }

    /// Copies the current `file` to `.nlconf/backups/<file>.<stamp>` and keeps the newest `keep`.
    pub fn backup(&self, file: &str, stamp: &str, keep: usize) -> io::Result<()> {
        match self {
            Location::Local(dir) => ConfDir::open(dir)?.backup(file, stamp, keep),
            Location::Ssh { dir, .. } => {
                let script = remote::script(dir, &remote::backup(file, stamp, keep));
                let r = self.ssh_with_input(&script, b"")?;
                if r.success { Ok(()) } else { Err(io::Error::other(ssh_failure(r.stderr.as_bytes()))) }
            }
        }
    }

    /// Takes the container's lock, failing at once when another apply holds it.
    pub fn lock(&self, info: &LockInfo) -> Result<(), LockError> {
        let json = serde_json::to_vec_pretty(info).map_err(|e| LockError::Io(io::Error::other(e)))?;
        match self {
            Location::Local(dir) => ConfDir::create(dir).map_err(LockError::Io)?.lock(&json),
            Location::Ssh { dir, .. } => {
                let script = remote::script(dir, remote::LOCK);
                let mut cmd = self.ssh(&script).map_err(LockError::Io)?;
                let out = run_with_input(&mut cmd, &json).map_err(LockError::Io)?;
                match out.status.code() {
                    Some(0) => Ok(()),
                    Some(3) => Err(LockError::Held(String::from_utf8_lossy(&out.stdout).into_owned())),
                    _ => Err(LockError::Io(io::Error::other(ssh_failure(&out.stderr)))),
                }
            }
        }
    }

    pub fn unlock(&self) -> io::Result<()> {
        match self {
            Location::Local(dir) => match ConfDir::open(dir) {
                Ok(conf) => conf.unlock(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e),
            },
            Location::Ssh { dir, .. } => {
                let r = self.ssh_with_input(&remote::script(dir, remote::UNLOCK), b"")?;
                if r.success { Ok(()) } else { Err(io::Error::other(ssh_failure(r.stderr.as_bytes()))) }
            }
        }
    }

    /// Runs a program on the container, in its conf folder, without a shell on this side. The
    /// argument at `secret_arg` travels over stdin to the remote side, never in an ssh command line.
    pub fn run(&self, argv: &[zeroize::Zeroizing<String>], secret_arg: Option<usize>) -> io::Result<RunResult> {
        match self {
            Location::Local(dir) => {
                let Some((program, args)) = argv.split_first() else { return Err(io::Error::other("empty command")) };
                let dir = dir.canonicalize()?;
                let mut cmd = Command::new(program.as_str());
                cmd.args(args.iter().map(|a| a.as_str())).current_dir(&dir).env("NLCONF_CONF_DIR", &dir);
                ssh::own_group(&mut cmd);
                let out = cmd.stdin(Stdio::null()).output()?;
                Ok(RunResult {
                    success: out.status.success(),
                    code: out.status.code(),
                    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                })
            }
            Location::Ssh { .. } => {
                let (script, input) = self.remote_command(argv, secret_arg, None)?;
                self.ssh_with_input(&script, &input)
            }
        }
    }

    /// Runs a program as `run` does; when it succeeds, writes the state record `record` (`file`,
    /// JSON) that says so. Over ssh both in one round trip. The second result is the record's
    /// writing, when the program succeeded.
    pub fn run_then_record(
        &self,
        argv: &[zeroize::Zeroizing<String>],
        secret_arg: Option<usize>,
        record: (&str, &[u8]),
    ) -> io::Result<(RunResult, Option<io::Result<()>>)> {
        let (file, json) = record;
        if let Location::Local(_) = self {
            let r = self.run(argv, secret_arg)?;
            let recorded = r.success.then(|| self.write_atomic(file, json));
            return Ok((r, recorded));
        }
        let (script, input) = self.remote_command(argv, secret_arg, Some((file, json)))?;
        let mut cmd = self.ssh(&script)?;
        let out = run_with_input(&mut cmd, &input)?;
        let said = String::from_utf8_lossy(&out.stdout);
        let ran = said.lines().any(|l| l == "ran");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let result = RunResult { success: out.status.success() && ran, code: out.status.code(), stderr };
        // Why the record failed is said on stdout: stderr is the command's, and a credential
        // step's command may echo its secret.
        let recorded = ran.then(|| match said.split_once("not recorded: ") {
            None if said.lines().any(|l| l == "recorded") => Ok(()),
            None => Err(io::Error::other("the connection ended before the record was written")),
            Some((_, why)) => Err(io::Error::other(why.trim().to_string())),
        });
        Ok((result, recorded))
    }

    /// The remote script that runs `argv` in the conf folder (the secret argument read from stdin),
    /// then, with `record`, writes it (`remote::run_and_record`); and its stdin.
    fn remote_command(
        &self,
        argv: &[zeroize::Zeroizing<String>],
        secret_arg: Option<usize>,
        record: Option<(&str, &[u8])>,
    ) -> io::Result<(String, zeroize::Zeroizing<Vec<u8>>)> {
        let Location::Ssh { dir, .. } = self else { return Err(io::Error::other("not an ssh location")) };
        let d = shell_quote(dir);
        let mut script = format!("cd {d} && export NLCONF_CONF_DIR={d} || exit 1; ");
        // A record travels as one line: compact JSON holds no newline.
        let line = match record {
            Some((_, json)) => {
                let value: serde_json::Value = serde_json::from_slice(json).map_err(io::Error::other)?;
                serde_json::to_vec(&value).map_err(io::Error::other)?
            }
            None => Vec::new(),
        };
        let mut input = zeroize::Zeroizing::new(Vec::new());
        let secret = match secret_arg {
            Some(i) => Some(argv.get(i).ok_or_else(|| io::Error::other("no such argument"))?),
            None => None,
        };
        // Sized up front: growing would leave an unwiped copy of the credential.
        input.reserve_exact(secret.map_or(0, |s| s.len() + 1) + line.len() + 1);
        if let Some(secret) = secret {
            if secret.contains('\n') {
                return Err(io::Error::other("an argument holds a newline"));
            }
            input.extend_from_slice(secret.as_bytes());
            input.push(b'\n');
            script.push_str("IFS= read -r a || exit 1; ");
        }
        let mut command = String::from("exec");
        for (i, a) in argv.iter().enumerate() {
            command.push(' ');
            if Some(i) == secret_arg { command.push_str("\"$a\"") } else { command.push_str(&shell_quote(a)) }
        }
        match record {
            None => script.push_str(&command),
            Some((file, _)) => {
                input.extend_from_slice(&line);
                input.push(b'\n');
                script.push_str("IFS= read -r nl_state || exit 1; ");
                script.push_str(&remote::run_and_record(dir, &command, file));
            }
        }
        Ok((script, input))
    }

    fn ssh_with_input(&self, script: &str, input: &[u8]) -> io::Result<RunResult> {
        let mut cmd = self.ssh(script)?;
        let out = run_with_input(&mut cmd, input)?;
        Ok(RunResult {
            success: out.status.success(),
            code: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

fn run_with_input(cmd: &mut Command, input: &[u8]) -> io::Result<std::process::Output> {
    use std::io::Write;
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        // A remote side that exits early closes the pipe: its exit status says why.
        let _ = stdin.write_all(input);
    }
    child.wait_with_output()
}
