//! The test harness: a configuration repository in a temporary folder, and the real `nlconf` binary
//! run on it, the way an administrator or a CI job runs it.
//!
//! ```ignore
//! Repo::with_prod()
//!     .file("environments/prod/override.yaml", "...")
//!     .run(&["validate"])
//!     .assert_exit(1)
//!     .stderr_is("...");
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

/// The production environment most tests start from: one marketing instance (`mkt_prod`) on two
/// containers (`app1`, `app2`), with its database, MTA, workflow server, web relay, Triggers and the
/// IMS technical account. A test that breaks something changes one thing in it, usually by adding
/// `environments/prod/override.yaml`, which is merged over it (files merge in name order).
pub const PROD_ENVIRONMENT: &str = include_str!("fixtures/prod-environment.yaml");

/// Where `PROD_ENVIRONMENT` lives in the repository.
pub const PROD_FILE: &str = "environments/prod/environment.yaml";

/// Who may read the production secrets: the test-only key `fixtures/prod-identity.agekey`.
pub const PROD_RECIPIENTS: &str = include_str!("fixtures/prod-recipients");

/// The file a test adds over the production environment.
pub const OVERRIDE: &str = "environments/prod/override.yaml";

/// A repository in a temporary folder. The binary runs in the folder above it (`work/`) with
/// `-C work/repo`, so relative paths given on the command line (`--out out`) land in `work/`.
pub struct Repo {
    work: tempfile::TempDir,
    root: PathBuf,
}

impl Repo {
    /// An empty repository: just the `environments/` folder.
    pub fn new() -> Repo {
        let work = tempfile::Builder::new().prefix("nlconf-test-").tempdir().expect("create a temporary folder");
        let root = work.path().join("repo");
        std::fs::create_dir_all(root.join("environments")).expect("create environments/");
        Repo { work, root }
    }

    /// A repository holding the production environment (`PROD_ENVIRONMENT`) and its recipients.
    pub fn with_prod() -> Repo {
        Repo::new().raw(PROD_FILE, PROD_ENVIRONMENT).raw("environments/prod/recipients", PROD_RECIPIENTS)
    }

    /// Writes a text file; `text` may be indented like the test code around it (see `dedent`).
    pub fn file(self, path: &str, text: &str) -> Repo {
        self.raw(path, dedent(text))
    }

    /// Writes a file with exactly these bytes.
    pub fn raw(self, path: &str, bytes: impl AsRef<[u8]>) -> Repo {
        let full = self.path(path);
        std::fs::create_dir_all(full.parent().expect("a file in a folder")).expect("create the folder");
        std::fs::write(&full, bytes).expect("write the fixture file");
        self
    }

    /// Creates a folder.
    pub fn folder(self, path: &str) -> Repo {
        std::fs::create_dir_all(self.path(path)).expect("create the folder");
        self
    }

    /// Creates a symbolic link at `path` pointing to `target` (which need not exist).
    pub fn symlink(self, path: &str, target: &str) -> Repo {
        let full = self.path(path);
        std::fs::create_dir_all(full.parent().expect("a link in a folder")).expect("create the folder");
        std::os::unix::fs::symlink(target, &full).expect("create the symbolic link");
        self
    }

    /// A path inside the repository.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// The repository's root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A path in the folder the binary runs in (beside the repository).
    pub fn work_path(&self, rel: &str) -> PathBuf {
        self.work.path().join(rel)
    }

    /// Runs `nlconf -C <repo> --color never ARGS...` (empty stdin) and returns what it printed.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, b"", &[])
    }
}

/// What one run of the binary printed, and how it exited.
#[derive(Debug)]
pub struct Output {
    pub args: Vec<String>,
    /// The exit code (-1 when killed by a signal).
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    /// The temporary folder, which no output should mention.
    temp: String,
}

impl Output {
    fn context(&self) -> String {
        format!(
            "nlconf {}\n--- exit {}\n--- stdout\n{}--- stderr\n{}",
            self.args.join(" "),
            self.status,
            self.stdout,
            self.stderr
        )
    }

    /// The exit code is `code`, and no panic reached the user whatever the code.
    #[track_caller]
    pub fn assert_exit(&self, code: i32) -> &Output {
        self.assert_no_panic();
        assert_eq!(self.status, code, "unexpected exit code\n{}", self.context());
        self
    }

    /// A panic is a bug whatever the input: DESIGN §6, "No panic reaches a user".
    #[track_caller]
    pub fn assert_no_panic(&self) -> &Output {
        for text in [&self.stdout, &self.stderr] {
            assert!(
                !text.contains("panicked") && !text.contains("RUST_BACKTRACE"),
                "nlconf panicked\n{}",
                self.context()
            );
        }
        self
    }

    /// Paths in the output are relative to the repository: the temporary folder never shows.
    #[track_caller]
    pub fn assert_no_temp_path(&self) -> &Output {
        assert!(
            !self.stdout.contains(&self.temp) && !self.stderr.contains(&self.temp),
            "the output names the temporary folder {}\n{}",
            self.temp,
            self.context()
        );
        self
    }

    #[track_caller]
    pub fn stderr_contains(&self, text: &str) -> &Output {
        assert!(self.stderr.contains(text), "stderr does not contain {text:?}\n{}", self.context());
        self
    }

    #[track_caller]
    pub fn stdout_contains(&self, text: &str) -> &Output {
        assert!(self.stdout.contains(text), "stdout does not contain {text:?}\n{}", self.context());
        self
    }

    /// Standard error is exactly `expected` (indented like the test code, see `dedent`).
    #[track_caller]
    pub fn stderr_is(&self, expected: &str) -> &Output {
        self.assert_no_temp_path();
        assert_eq!(self.stderr, dedent(expected), "unexpected stderr\n{}", self.context());
        self
    }

    /// Standard output is exactly `expected` (indented like the test code, see `dedent`).
    #[track_caller]
    pub fn stdout_is(&self, expected: &str) -> &Output {
        self.assert_no_temp_path();
        assert_eq!(self.stdout, dedent(expected), "unexpected stdout\n{}", self.context());
        self
    }

    /// Exit code, stdout and stderr in one text, for snapshots.
    #[track_caller]
    pub fn transcript(&self) -> String {
        self.assert_no_panic().assert_no_temp_path();
        format!("exit: {}\n--- stdout\n{}--- stderr\n{}", self.status, self.stdout, self.stderr)
    }
}

/// Removes the indentation that all non-blank lines share, a first line break and the blank last
/// line (where the closing quote sits), so that expected text and YAML can be indented like the code
/// around them. Every line of the result ends with a line break:
///
/// ```ignore
/// dedent("
///     mta:
///       autoStart: true
///     ") == "mta:\n  autoStart: true\n"
/// ```
pub fn dedent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let mut lines: Vec<&str> = text.split('\n').collect();
    if lines.last().is_some_and(|l| l.trim_start_matches(' ').is_empty()) {
        lines.pop();
    }
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    let mut out = String::with_capacity(text.len());
    for line in lines {
        out.push_str(line.get(indent..).unwrap_or(""));
        out.push('\n');
    }
    out
}

// Added for the secrets, leak and review tests --------------------------------------------------------

/// A staging environment without Triggers (no `ims:` block), to write with `Repo::file`.
pub const STAGE: &str = "
    campaign:
      build: 9383
    instances:
      mkt_stage:
        containers:
          app1: { host: app1.stage.example.com }
        serverconf:
          shared:
            dataStore:
              hosts: \"stage-console.example.com*\"
              dataSource:
                default:
                  dbcnx: { provider: PostgreSQL, server: db1.stage.example.com, login: \"campaign:mkt_stage\" }
          mta: { autoStart: true }
          wfserver: { autoStart: true }
    ";

/// The test-only age identity that decrypts the production fixtures' secrets (`PROD_RECIPIENTS`).
pub const PROD_IDENTITY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/integration/fixtures/prod-identity.agekey");

impl Repo {
    /// Like `run`, with `stdin` fed to the binary and extra environment variables (`HOME`, ...,
    /// which replace the harness's own).
    pub fn run_with(&self, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
        use std::io::Write;
        use std::process::Stdio;
        let mut child = self
            .command(args, env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the nlconf binary");
        let mut pipe = child.stdin.take().expect("stdin is piped");
        let input = stdin.to_vec();
        // Written from another thread: nlconf may exit (or fill its output pipes) before reading it all.
        let writer = std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
        let out = child.wait_with_output().expect("wait for the nlconf binary");
        let _ = writer.join();
        self.output(args, out.status.code().unwrap_or(-1), out.stdout, out.stderr)
    }

    /// Like `run_with` (empty stdin), for inputs that once made nlconf wait forever (a FIFO,
    /// `/dev/zero`): a run still going after a minute is killed, and the test fails on its exit code
    /// (-1) instead of hanging the suite.
    pub fn run_guarded(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        use std::io::Read;
        use std::process::Stdio;
        let mut child = self
            .command(args, env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the nlconf binary");
        let drain = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                if let Some(mut p) = pipe {
                    let _ = p.read_to_end(&mut bytes);
                }
                bytes
            })
        };
        let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for the nlconf binary") {
                break status.code().unwrap_or(-1);
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break -1;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let mut stderr = stderr.join().expect("read stderr");
        if status == -1 {
            stderr.extend_from_slice(b"\n[harness: killed, still running after 60 s]\n");
        }
        self.output(args, status, stdout.join().expect("read stdout"), stderr)
    }

    /// `nlconf -C <repo> --color never ARGS...` with the harness's environment and `env` over it.
    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nlconf"));
        cmd.arg("-C")
            .arg(&self.root)
            .args(["--color", "never"])
            .args(args)
            .current_dir(self.work.path())
            .env("NO_COLOR", "1")
            // Help text wraps at COLUMNS when the output is not a terminal: fix it for snapshots.
            .env("COLUMNS", "100")
            .env("HOME", self.work.path())
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE")
            .env_remove("NLCONF_AGE_IDENTITY")
            .env_remove("SOPS_AGE_KEY_FILE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    fn output(&self, args: &[&str], status: i32, stdout: Vec<u8>, stderr: Vec<u8>) -> Output {
        Output {
            args: args.iter().map(|s| s.to_string()).collect(),
            status,
            stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
            temp: self.work.path().to_string_lossy().into_owned(),
        }
    }

    /// `nlconf secret set -e ENV PATH` with `value` on stdin; it must succeed.
    #[track_caller]
    pub fn set_secret(self, env: &str, path: &str, value: &str) -> Repo {
        self.run_with(&["secret", "set", "-e", env, path], value.as_bytes(), &[]).assert_exit(0);
        self
    }

    /// Reads a file of the repository as text.
    #[track_caller]
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// Runs an external tool (age, ssh-keygen, git, ...) in the work folder; it must succeed.
    #[track_caller]
    pub fn tool(&self, program: &str, args: &[&str], stdin: &[u8]) -> Vec<u8> {
        tool_in(self.work.path(), program, args, stdin)
    }
}

/// Runs `program ARGS` in `dir` with `stdin`, and returns its stdout; it must succeed.
#[track_caller]
pub fn tool_in(dir: &Path, program: &str, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("wait for {program}: {e}"));
    let _ = writer.join();
    assert!(
        out.status.success(),
        "{program} {} failed ({})\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Whether an external tool a test needs is installed. In CI (`CI` set) a missing tool fails the
/// test loudly; elsewhere the test is skipped with a notice.
#[track_caller]
pub fn have_tool(program: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()));
    if !found {
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0");
        assert!(!ci, "`{program}` is not installed, and CI is set: install it (apt-get install -y age openssh-client)");
        eprintln!("notice: `{program}` is not installed: skipping this test (CI fails instead)");
    }
    found
}
