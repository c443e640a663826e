//! One SSH connection per host per run (DESIGN §7.1). The first command for a host opens a master
//! connection (OpenSSH multiplexing: `ControlMaster`), whose control socket lives in a private 0700
//! folder nlconf creates for the run; every later read, lock, write and command on that host is a
//! session over it, which costs a round trip instead of a handshake. At the end of the run
//! (`close_all`, also on the error paths) the masters are told to exit and the folder is removed.
//! A master outlives a killed nlconf by `ControlPersist` at most.
//!
//! The user's ssh config, agent and known_hosts apply as for any ssh command; nlconf's own
//! multiplexing options come first on the command line, so they win over the user's.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use super::Location;

/// How long a master waits for a next session before it exits by itself: only an nlconf that was
/// killed leaves it waiting.
const PERSIST_SECONDS: u32 = 120;

/// A host as ssh sees it: destination, port and options (two folders on one host share it).
type HostKey = String;

#[derive(Default)]
struct Connections {
    /// The private folder of the control sockets, once created.
    dir: Mutex<Option<PathBuf>>,
    /// Per host: its master's control socket, or why it could not connect (asked once per run).
    /// Each is numbered in order of first use (its socket's name).
    hosts: Mutex<HashMap<HostKey, (usize, Arc<MasterCell>)>>,
}

/// A host's master connection, once asked for: its socket, or why it could not connect.
type MasterCell = OnceLock<Result<Master, String>>;

#[derive(Clone)]
struct Master {
    socket: PathBuf,
    /// The arguments that reach this host (to tell the master to exit).
    base: Vec<String>,
}

static CONNECTIONS: LazyLock<Connections> = LazyLock::new(Connections::default);

impl Location {
    /// The arguments of every ssh command to this container's host: the batch mode, the port, the
    /// target's options, the bounds that keep a dead host from hanging the run. ssh takes the first
    /// value given for an option: nlconf's multiplexing options, added before these, win.
    fn ssh_base(&self) -> Vec<String> {
        let mut args = vec!["-o".to_string(), "BatchMode=yes".into()];
        if let Location::Ssh { destination: _, port, options, connect_timeout, .. } = self {
            if let Some(p) = port {
                args.extend(["-p".into(), p.to_string()]);
            }
            for o in options {
                args.extend(["-o".into(), o.clone()]);
            }
            args.extend(["-o".into(), format!("ConnectTimeout={connect_timeout}")]);
            args.extend(["-o".into(), "ServerAliveInterval=10".into()]);
            args.extend(["-o".into(), "ServerAliveCountMax=3".into()]);
        }
        args
    }

    fn destination(&self) -> &str {
        match self {
            Location::Ssh { destination, .. } => destination,
            Location::Local(_) => "",
        }
    }

    /// The host as ssh reaches it (two folders on one host share it); `None` for a local folder.
    pub fn host_key(&self) -> Option<String> {
        match self {
            Location::Ssh { destination, .. } => Some(format!("{destination}\0{}", self.ssh_base().join("\0"))),
            Location::Local(_) => None,
        }
    }

    /// The host, for progress lines: its destination (and port).
    pub fn host_shown(&self) -> String {
        match self {
            Location::Ssh { destination, port: Some(p), .. } => format!("{destination}:{p}"),
            Location::Ssh { destination, .. } => destination.clone(),
            Location::Local(dir) => dir.display().to_string(),
        }
    }

    /// An `ssh` command running `script` in the remote shell of this container's host, over the
    /// run's connection to that host (opened by the first command that needs it).
    pub fn ssh(&self, script: &str) -> io::Result<Command> {
        let base = self.ssh_base();
        let master = connection(&base, self.destination())?;
        let mut cmd = Command::new("ssh");
        cmd.arg("-o").arg("ControlMaster=no").arg("-o").arg(format!("ControlPath={}", master.socket.display()));
        cmd.args(&base).arg("--").arg(self.destination()).arg(script);
        own_group(&mut cmd);
        Ok(cmd)
    }
}

/// A program nlconf starts runs in its own process group: the terminal's Ctrl-C is nlconf's to
/// handle (see `support::interrupt`), not a cut in the middle of a step.
pub(super) fn own_group(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
}

/// The master connection to a host, opened on first use; every caller for that host waits for the
/// one attempt, and a host that could not be reached fails each of them with the same reason.
fn connection(base: &[String], destination: &str) -> io::Result<Master> {
    crate::support::interrupt::watch();
    let key = format!("{destination}\0{}", base.join("\0"));
    let (cell, n) = {
        let mut hosts = CONNECTIONS.hosts.lock().unwrap_or_else(|e| e.into_inner());
        // Numbered in order of first use: short socket names (a socket's path is at most ~100 bytes).
        let next = hosts.len();
        let (n, cell) = hosts.entry(key).or_insert_with(|| (next, Arc::default()));
        (Arc::clone(cell), *n)
    };
    // Outside the lock: the hosts connect in parallel.
    cell.get_or_init(|| open(base, destination, n)).clone().map_err(io::Error::other)
}

fn open(base: &[String], destination: &str, n: usize) -> Result<Master, String> {
    let dir = private_dir().map_err(|e| format!("cannot create the folder of the ssh control sockets: {e}"))?;
    let socket = dir.join(format!("h{n}"));
    let errors = dir.join(format!("h{n}.err"));
    let log = std::fs::File::create(&errors).map_err(|e| format!("{}: {e}", errors.display()))?;
    let mut cmd = Command::new("ssh");
    cmd.args(["-o", "ControlMaster=yes"])
        .arg("-o")
        .arg(format!("ControlPath={}", socket.display()))
        .arg("-o")
        .arg(format!("ControlPersist={PERSIST_SECONDS}"))
        .args(base)
        // No command; into the background once connected, its control socket listening.
        .args(["-N", "-f", "--", destination])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // A file, not a pipe: the master in the background keeps it open.
        .stderr(log);
    own_group(&mut cmd);
    let status = cmd.status().map_err(|e| format!("cannot run ssh: {e}"))?;
    if status.success() {
        let _ = std::fs::remove_file(&errors);
        let mut close = base.to_vec();
        close.extend(["--".into(), destination.into()]);
        return Ok(Master { socket, base: close });
    }
    let text = std::fs::read(&errors).unwrap_or_default();
    let _ = std::fs::remove_file(&errors);
    Err(super::ssh_failure(&text).trim_start_matches("ssh: ").to_string())
}

/// The run's folder of control sockets: created 0700 on first use, in `$TMPDIR` (or `/tmp` when
/// that path is too long for a socket).
fn private_dir() -> io::Result<PathBuf> {
    let mut dir = CONNECTIONS.dir.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(d) = dir.as_ref() {
        return Ok(d.clone());
    }
    let mut parent = std::env::temp_dir();
    if parent.as_os_str().len() > 60 {
        parent = PathBuf::from("/tmp");
    }
    let created = create_private(&parent)?;
    *dir = Some(created.clone());
    Ok(created)
}

fn create_private(parent: &Path) -> io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let mut last = None;
    for _ in 0..16 {
        let name = format!("nlconf-ssh-{}-{:08x}", std::process::id(), random_u32());
        let path = parent.join(name);
        // Created exclusively with its mode: a name someone prepared is an error, not a folder to use.
        match std::fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free name")))
}

fn random_u32() -> u32 {
    // The OS's randomness, as nlconf draws it elsewhere (through age's key generator).
    let key = crate::secrets::FingerprintKey::random();
    let b = key.as_bytes();
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Tells every master of the run to exit and removes the folder of the control sockets. Called at
/// the end of every run (see `app`), whatever way it ends.
pub fn close_all() {
    let hosts: Vec<Master> = {
        let mut hosts = CONNECTIONS.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts.drain().filter_map(|(_, (_, cell))| cell.get().and_then(|r| r.as_ref().ok()).cloned()).collect()
    };
    crate::support::pool::bounded(&hosts, 16, |m| {
        let mut cmd = Command::new("ssh");
        cmd.arg("-o")
            .arg(format!("ControlPath={}", m.socket.display()))
            .args(["-O", "exit"])
            .args(&m.base)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        own_group(&mut cmd);
        let _ = cmd.status();
    });
    let dir = CONNECTIONS.dir.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(dir) = dir {
        // nlconf's own folder: the sockets (and error files) it created, nothing else.
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Closes the run's connections when dropped: held by `app::run` for the whole run.
pub struct CloseOnDrop;

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        close_all();
    }
}
