//! `plan` and `apply` over a real SSH connection (DESIGN §7, issue 6 item 3): an OpenSSH `sshd`
//! started by the test on 127.0.0.1 with its own host key, client key and free port, and the
//! containers' conf folders behind it (folders of this machine, so the nlserver stand-in is at the
//! same absolute path on the "remote" side).
//!
//! Without `/usr/sbin/sshd` the tests are skipped with a notice, unless `CI` is set: then they
//! fail (CI installs openssh-server and openssh-client).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::apply::{
    REFUSED, SECRET, SECRET2, Site, plan_json, planned_steps, reload, restart, setims, summary, tree_differences,
};
use crate::harness::tool_in;

const SSHD: &str = "/usr/sbin/sshd";

/// An sshd listening on 127.0.0.1, stopped (and its folder removed) on drop.
pub struct Sshd {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    /// The client's private key.
    pub key: PathBuf,
    /// The user the tests log in as: the current one.
    pub user: String,
    /// Where the stand-in records its argv on the remote side (`SetEnv` in sshd_config).
    pub argv_file: PathBuf,
}

fn ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// A TCP port nothing listens on (at the time of asking).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Sshd {
    /// Starts an sshd, or returns `None` with a notice when it is not installed (CI fails instead).
    pub fn start() -> Option<Sshd> {
        if !Path::new(SSHD).is_file() || !crate::harness::have_tool("ssh") || !crate::harness::have_tool("ssh-keygen") {
            assert!(!ci(), "{SSHD} is not installed, and CI is set: apt-get install -y openssh-server openssh-client");
            eprintln!("notice: {SSHD} is not installed: skipping this SSH test (CI fails instead)");
            return None;
        }
        // sshd refuses to start without its privilege-separation folder.
        let _ = std::fs::create_dir_all("/run/sshd");
        let dir = tempfile::Builder::new().prefix("nlconf-sshd-").tempdir().unwrap();
        let d = dir.path();
        tool_in(d, "ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-f", "host_key"], b"");
        tool_in(d, "ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-f", "client_key"], b"");
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        let user = String::from_utf8(tool_in(d, "id", &["-un"], b"")).unwrap().trim().to_string();
        let argv_file = d.join("nlserver-argv.jsonl");
        // The remote shell's HOME: an empty folder, so that this host's own shell startup files
        // (a version manager's init, ...) do not slow down every connection.
        std::fs::create_dir_all(d.join("home")).unwrap();
        let mut last_error = String::new();
        // Another process may take the free port before sshd binds it: try a few.
        for _ in 0..5 {
            let port = free_port();
            let config = format!(
                "ListenAddress 127.0.0.1\nListenAddress 127.0.0.2\nListenAddress 127.0.0.3\nPort {port}\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
                 PidFile {d}/sshd.pid\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nMaxStartups 100:30:200\n\
                 MaxSessions 100\nSetEnv NLSERVER_STANDIN_ARGV={argv} HOME={d}/home\n",
                d = d.display(),
                argv = argv_file.display()
            );
            std::fs::write(d.join("sshd_config"), config).unwrap();
            let log = std::fs::File::create(d.join("sshd.log")).unwrap();
            let mut child = Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(d.join("sshd_config"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("start {SSHD}: {e}"));
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    last_error = format!(
                        "sshd exited ({status}): {}",
                        std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default()
                    );
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    let key = d.join("client_key");
                    return Some(Sshd { child, port, dir, key, user, argv_file });
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_error = "sshd did not listen within 10 s".into();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("cannot start sshd: {last_error}");
    }

    /// The `target:` block of an environment whose containers are `conf_root/<container>` here.
    /// With `multiplex`, the connections share one (OpenSSH's ControlMaster, as an operator would
    /// set in the options or `~/.ssh/config`): each command then costs milliseconds, not a handshake.
    pub fn target(&self, conf_root: &Path, multiplex: bool) -> String {
        let mut options = vec![format!("IdentityFile={}", self.key.display())];
        if multiplex {
            options.push(format!("ControlPath={}", self.control_path().display()));
            options.extend(["ControlMaster=auto".into(), "ControlPersist=60".into()]);
        }
        target_yaml(&self.user, self.port, &options, conf_root)
    }

    fn control_path(&self) -> PathBuf {
        self.dir.path().join("cm")
    }

    /// A site whose containers are folders behind this sshd (created, as on a real server); its
    /// ssh connections share one.
    pub fn site(&self) -> Site {
        self.site_with(true)
    }

    /// A site whose every ssh command makes its own connection.
    pub fn site_with(&self, multiplex: bool) -> Site {
        let mut site = Site::build(|repo| {
            let root = repo.work_path("remote");
            (self.target(&root, multiplex), root)
        });
        for c in ["app1", "app2", "app3"] {
            std::fs::create_dir_all(site.conf(c)).unwrap();
        }
        site.argv_file = self.argv_file.clone();
        site
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // The shared connection's master (started by the first ssh of a multiplexing site) ends
        // through its control socket; then sshd itself.
        if self.control_path().exists() {
            let _ = Command::new("ssh")
                .arg("-o")
                .arg(format!("ControlPath={}", self.control_path().display()))
                .args(["-O", "exit", "-p", &self.port.to_string()])
                .arg(format!("{}@127.0.0.1", self.user))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An ssh `target:` block: the harness's options (no known_hosts, the test key, quiet, the fast
/// key exchange) and `extra` ones.
pub fn target_yaml(user: &str, port: u16, extra: &[String], conf_root: &Path) -> String {
    let mut options: Vec<String> = [
        "StrictHostKeyChecking=no",
        "UserKnownHostsFile=/dev/null",
        "IdentitiesOnly=yes",
        "LogLevel=ERROR",
        "ConnectTimeout=10",
        "KexAlgorithms=curve25519-sha256",
    ]
    .map(String::from)
    .to_vec();
    options.extend_from_slice(extra);
    let list: String = options.iter().map(|o| format!("    - {o}\n")).collect();
    format!(
        "target:\n  kind: ssh\n  user: {user}\n  port: {port}\n  conf_dir: {root}/{{container}}\n  options:\n{list}",
        root = conf_root.display()
    )
}

#[test]
fn the_loop_over_ssh_reads_writes_locks_and_runs_the_steps_remotely() {
    let Some(sshd) = Sshd::start() else { return };
    let site = sshd.site();

    let out = site.plan("p1.plan", 2);
    assert_eq!(
        summary(&out.stdout),
        [
            "app1: config-mid_prod.xml: new file (+9 -0)",
            "app3: config-mid_prod.xml: new file (+9 -0)",
            "app1: config-mkt_prod.xml: new file (+10 -0)",
            "app2: config-mkt_prod.xml: new file (+10 -0)",
        ],
        "{}",
        out.stdout
    );
    let out = site.apply("p1.plan");
    assert_eq!(
        out.stdout,
        "apply prod:
  app1 (mid_prod): done: wrote config-mid_prod.xml, ran config -reload
  app3 (mid_prod): done: wrote config-mid_prod.xml, ran config -reload
  app1 (mkt_prod): done: wrote config-mkt_prod.xml, set the IMS credentials, ran config -reload, ran restart pipelined@mkt_prod
  app2 (mkt_prod): done: wrote config-mkt_prod.xml, set the IMS credentials, ran config -reload
4 of 4 containers done
"
    );
    // The steps ran on the remote side, in the conf folder, with the secret intact.
    assert_eq!(
        site.take_argv(),
        [
            reload("app1"),
            reload("app3"),
            setims("app1", "mkt_prod", SECRET),
            reload("app1"),
            restart("app1", "mkt_prod"),
            setims("app2", "mkt_prod", SECRET),
            reload("app2"),
        ]
    );
    use std::os::unix::fs::MetadataExt;
    for c in ["app1", "app3"] {
        let m = std::fs::metadata(site.deployed(c, "config-mid_prod.xml")).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o640, "{c}: a new file is 0640");
        let rendered = site.run(&["render", "-e", "prod", "--instance", "mid_prod", "--container", c]);
        assert_eq!(std::fs::read_to_string(site.deployed(c, "config-mid_prod.xml")).unwrap(), rendered.stdout);
    }
    for c in ["app1", "app2"] {
        assert!(site.conf(c).join(".nlconf/state-mkt_prod.json").is_file(), "{c}: no state record");
    }
    assert_clean(&site);

    site.plan("p2.plan", 0);

    // An existing file's mode is kept; the previous version is backed up; only the change is planned.
    let f = site.deployed("app3", "config-mid_prod.xml");
    std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let old = std::fs::read(&f).unwrap();
    let inode = std::fs::metadata(&f).unwrap().ino();
    site.edit("hosts: \"mid.example.com*\"", "hosts: \"mid2.example.com*\"");
    let out = site.plan("p3.plan", 2);
    assert_eq!(
        summary(&out.stdout),
        [
            "app1: config-mid_prod.xml: modified (+1 -1)",
            "app3: config-mid_prod.xml: modified (+1 -1)",
            "app1: config-mkt_prod.xml: unchanged",
            "app2: config-mkt_prod.xml: unchanged",
        ]
    );
    let steps: Vec<String> = planned_steps(&plan_json(&site, "p3.plan")).iter().map(|s| site.norm(s)).collect();
    assert_eq!(steps, ["app1 (mid_prod): $NLSERVER config -reload", "app3 (mid_prod): $NLSERVER config -reload"]);
    site.apply("p3.plan");
    assert_eq!(site.take_argv(), [reload("app1"), reload("app3")]);
    let m = std::fs::metadata(&f).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o600, "the existing file's mode was not kept over ssh");
    assert_ne!(m.ino(), inode, "the file was rewritten in place, not replaced by a rename");
    assert!(std::fs::read_to_string(&f).unwrap().contains("mid2.example.com"));
    let backups: Vec<PathBuf> =
        std::fs::read_dir(site.conf("app3").join(".nlconf/backups")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(std::fs::read(&backups[0]).unwrap(), old, "the backup is not the previous version");
    assert_clean(&site);
    site.plan("p4.plan", 0);

    // A rotated secret reaches nlserver intact over ssh (it travels on stdin, not in ssh's argv).
    site.set_secret("instances.mkt_prod.ims.clientSecret", SECRET2);
    site.plan("p5.plan", 2);
    site.apply("p5.plan");
    assert_eq!(
        site.take_argv(),
        [
            setims("app1", "mkt_prod", SECRET2),
            reload("app1"),
            restart("app1", "mkt_prod"),
            setims("app2", "mkt_prod", SECRET2),
            reload("app2"),
        ]
    );
    site.plan("p6.plan", 0);
    site.assert_no_leak_in_files();
}

/// No lock left, and no temporary file anywhere in the conf folders.
#[track_caller]
fn assert_clean(site: &Site) {
    let stray: Vec<String> =
        site.tree().into_keys().filter(|k| k.ends_with("/.nlconf/lock") || k.contains("tmp")).collect();
    assert!(stray.is_empty(), "left in the conf folders: {stray:?}");
}

#[test]
fn a_refused_apply_over_ssh_changes_nothing_and_a_held_lock_is_named() {
    let Some(sshd) = Sshd::start() else { return };
    let site = sshd.site();
    site.deploy();
    site.edit("processingThreads: 4", "processingThreads: 6");
    site.plan("p.plan", 2);
    let f = site.deployed("app1", "config-mkt_prod.xml");
    let text = std::fs::read_to_string(&f).unwrap();
    std::fs::write(&f, text.replace("<mta", "<!-- hotfix -->\n  <mta")).unwrap();
    let before = site.tree();
    let out = site.run(&["apply", "p.plan"]);
    out.assert_exit(1);
    let stderr = site.norm(&out.stderr);
    let remote = format!("{}@127.0.0.1:$WORK/remote/app1/config-mkt_prod.xml", sshd.user);
    assert!(stderr.contains(&format!("error: apply refused: app1: {remote} changed since the plan\n")), "{stderr}");
    assert!(stderr.contains(REFUSED), "{stderr}");
    assert_eq!(tree_differences(&before, &site.tree()), Vec::<String>::new());
    assert!(site.take_argv().is_empty(), "a refused apply ran nlserver");

    // Put the file back; a lock held on app1 stops apply at once, naming its holder.
    std::fs::write(&f, &text).unwrap();
    std::fs::write(
        site.conf("app1").join(".nlconf/lock"),
        r#"{"holder":"neolane","host":"jump-2","pid":777,"time":"2026-02-03T04:05:06Z"}"#,
    )
    .unwrap();
    let before = site.tree();
    site.run(&["apply", "p.plan"]).assert_exit(1).stderr_is(
        "
        error: app1: another apply holds the lock: neolane on jump-2 (pid 777) since 2026-02-03T04:05:06Z
          help: wait for it to finish; if it died, check the containers and run apply with --force-unlock
        ",
    );
    assert_eq!(tree_differences(&before, &site.tree()), Vec::<String>::new());
    site.run(&["apply", "--force-unlock", "p.plan"]).assert_exit(0);
    assert_eq!(site.take_argv(), [reload("app1"), restart("app1", "mkt_prod"), reload("app2")]);
    assert_clean(&site);
    site.plan("q.plan", 0);
}

#[test]
fn an_unreachable_host_is_a_clear_error_naming_the_container() {
    let Some(sshd) = Sshd::start() else { return };
    // Each ssh command makes its own connection here: none survives sshd.
    let site = sshd.site_with(false);
    site.plan("p.plan", 2);
    let port = sshd.port;
    drop(sshd);

    // apply with the host gone: it cannot re-read the files, and says which container.
    let out = site.run(&["apply", "p.plan"]);
    out.assert_exit(1);
    for c in ["app1", "app2", "app3"] {
        assert!(
            out.stderr.contains(&format!("error: {c}: cannot read the "))
                && out.stderr.contains(&format!("port {port}: Connection refused")),
            "no clear error for {c}:\n{}",
            out.stderr
        );
    }
    assert_eq!(out.stdout, "");
    assert!(site.take_argv().is_empty());

    // plan on a port nothing listens on.
    let out = site.run(&["plan", "-e", "prod", "--out", "q.plan"]);
    out.assert_exit(1).stderr_contains("error: app1: cannot read the ");
    assert!(!site.repo.work_path("q.plan").exists(), "a plan was written without reading the targets");

    // A host name that does not resolve.
    let site = Site::build(|repo| {
        let root = repo.work_path("remote");
        (target_yaml("neolane", 22, &["IdentityFile=/nonexistent/key".into()], &root), root)
    });
    let text = site.repo.read(crate::apply::ENV_FILE);
    std::fs::write(
        site.repo.path(crate::apply::ENV_FILE),
        text.replace("app3: { host: 127.0.0.1 }", "app3: { host: app3.invalid }"),
    )
    .unwrap();
    let out = site.run(&["plan", "-e", "prod", "--out", "q.plan"]);
    out.assert_exit(1).stderr_contains("error: app3: cannot read the ");
}

/// The secret's argument travels over the ssh connection's stdin: it is in no ssh command line.
#[test]
fn over_ssh_the_secret_is_not_on_the_ssh_command_line() {
    let Some(sshd) = Sshd::start() else { return };
    let site = sshd.site();
    // A fake `ssh` first on PATH records its arguments, then runs the real one.
    let bin = site.repo.work_path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = site.repo.work_path("ssh-argv.log");
    std::fs::write(
        bin.join("ssh"),
        format!("#!/bin/sh\nprintf '%s\\n' \"$*\" >> {}\nexec /usr/bin/ssh \"$@\"\n", log.display()),
    )
    .unwrap();
    std::fs::set_permissions(bin.join("ssh"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), crate::apply::search_path());
    // The database login too: its password travels the same way.
    const DB_PASSWORD: &str = "db pass with $HOME and 'quotes'";
    site.edit(
        "          hosts: \"console.example.com*\"\n",
        "          hosts: \"console.example.com*\"\n          dataSource:\n            default:\n              dbcnx:\n                provider: PostgreSQL\n                login: \"campaign:mkt_prod\"\n                server: db1\n",
    );
    site.set_secret("instances.mkt_prod.serverconf.shared.dataStore.dataSource.default.dbcnx.password", DB_PASSWORD);
    site.run_env(&["plan", "-e", "prod", "--out", "p.plan"], &[("PATH", &path)]).assert_exit(0);
    site.run_env(&["apply", "p.plan"], &[("PATH", &path)]).assert_exit(0);
    let argv = site.take_argv();
    assert!(argv.contains(&setims("app2", "mkt_prod", SECRET)), "{argv:?}");
    let db = crate::apply::call(
        "app2",
        &["config", &format!("-setdblogin:PostgreSQL:campaign:mkt_prod/{DB_PASSWORD}@db1"), "-instance:mkt_prod"],
    );
    assert!(argv.contains(&db), "{argv:?}");
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(calls.contains("IFS= read -r a"), "the fake ssh saw no credential step:\n{calls}");
    assert!(!calls.contains(SECRET) && !calls.contains("rm -rf ~"), "the secret is on an ssh command line:\n{calls}");
    assert!(!calls.contains(DB_PASSWORD), "the database password is on an ssh command line:\n{calls}");
}
