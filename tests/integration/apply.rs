//! `plan` and `apply` on a local target (DESIGN §6, §7; issue 6): the loop, the exact nlserver
//! argv, refusals, failures mid-way, locks, concurrency, and the leak check of every command.
//!
//! Each test builds a repository (`fixtures/apply/environment.yaml` under a `target:` and the
//! `nlserver:` stand-in `demo/nlserver-standin`) whose containers are folders in its temporary work
//! folder, and runs the real binary on it. The stand-in appends its exact argv to a file
//! (`NLSERVER_STANDIN_ARGV`), which the tests read back. `Site` is shared with `ssh.rs` and
//! `crash.rs`.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;

use crate::harness::{Output, PROD_IDENTITY, PROD_RECIPIENTS, Repo};

/// The nlserver stand-in (tests and demo only).
pub const STANDIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/demo/nlserver-standin");

/// The instances of the tests' environment, without `target:` and `nlserver:`.
pub const INSTANCES: &str = include_str!("fixtures/apply/environment.yaml");

pub const ENV_FILE: &str = "environments/prod/environment.yaml";

/// The client secret: all that a shell would mangle (quotes, `$`, `;`, spaces, backquotes, a
/// backslash, `&`, `<`, `~`, `%`); no `/`, nlserver's field separator.
pub const SECRET: &str = r#"it's "q" $HOME $(id) `id` a\nb; rm -rf ~ & <x> 100%"#;
/// Another client secret, for rotations.
pub const SECRET2: &str = r#"rotated "again"; $PATH & 'more'   spaces"#;

pub const ORG: &str = "0123456789ABCDEF01234567@AdobeOrg";
pub const CLIENT: &str = "e053e1a87cf74c68a6ec8e71d4a82662";
pub const TA: &str = "6657031C5C095BB40A4B0123@techacct.adobe.com";

/// A test-only RSA private key (PKCS#8 PEM) for the JWT credential.
pub const PEM: &str = include_str!("fixtures/jwt-private-key.test-only.pem");

/// The files of the environment, in apply's order: (container, instance).
pub const FILES: &[(&str, &str)] =
    &[("app1", "mid_prod"), ("app3", "mid_prod"), ("app1", "mkt_prod"), ("app2", "mkt_prod")];

/// A configuration repository and the conf folders of its containers.
pub struct Site {
    pub repo: Repo,
    /// The folder holding one conf folder per container (`<conf_root>/<container>`).
    pub conf_root: PathBuf,
    /// Where the stand-in records each argv (one JSON line per call).
    pub argv_file: PathBuf,
}

/// One file or folder of a tree: its bytes (empty for a folder), mode, owner and group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub bytes: Vec<u8>,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Site {
    /// The environment on a local target: `conf_dir: ../target/{container}` (beside the repository).
    pub fn local() -> Site {
        Site::build(|repo| {
            ("target:\n  kind: local\n  conf_dir: ../target/{container}\n".to_string(), repo.work_path("target"))
        })
    }

    /// The environment with the `target:` block that `target` returns for the repository, and the
    /// folder of the containers' conf folders.
    pub fn build(target: impl FnOnce(&Repo) -> (String, PathBuf)) -> Site {
        let repo = Repo::new();
        let (target_yaml, conf_root) = target(&repo);
        let env = format!("{target_yaml}nlserver: {STANDIN}\n{INSTANCES}");
        let repo = repo.raw(ENV_FILE, env).raw("environments/prod/recipients", PROD_RECIPIENTS).set_secret(
            "prod",
            "instances.mkt_prod.ims.clientSecret",
            SECRET,
        );
        let argv_file = repo.work_path("nlserver-argv.jsonl");
        Site { repo, conf_root, argv_file }
    }

    /// Runs `nlconf ARGS` with the test identity at hand and the stand-in recording its argv.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    /// `run` with more environment variables (`NLSERVER_STANDIN_FAIL`, ...).
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let argv = self.argv_file.to_string_lossy().into_owned();
        let path = search_path();
        let mut all = vec![("NLCONF_AGE_IDENTITY", PROD_IDENTITY), ("NLSERVER_STANDIN_ARGV", argv.as_str())];
        all.push(("PATH", &path));
        all.extend_from_slice(env);
        let out = self.repo.run_with(args, b"", &all);
        assert_no_leak(&out);
        out
    }

    /// Runs `nlconf ARGS` without any identity.
    pub fn run_without_identity(&self, args: &[&str]) -> Output {
        let argv = self.argv_file.to_string_lossy().into_owned();
        let out = self.repo.run_with(args, b"", &[("NLSERVER_STANDIN_ARGV", &argv), ("PATH", &search_path())]);
        assert_no_leak(&out);
        out
    }

    /// No secret of these tests in any file of the work folder (plan files, conf folders with the
    /// state records, the stand-in's logs, backups), except the stand-in's argv record and the key
    /// file a test wrote. (The tests' secrets are credentials: no config file holds them.)
    #[track_caller]
    pub fn assert_no_leak_in_files(&self) {
        let work = self.repo.work_path("");
        let mut roots = vec![work.clone()];
        if !self.conf_root.starts_with(&work) {
            roots.push(self.conf_root.clone());
        }
        for root in roots {
            for (path, entry) in tree(&root) {
                if path.ends_with("nlserver-argv.jsonl") || path == "private.key" {
                    continue;
                }
                let text = String::from_utf8_lossy(&entry.bytes);
                for (label, needle) in leak_needles() {
                    assert!(!text.contains(&needle), "LEAK: {label} in {}", root.join(&path).display());
                }
            }
        }
    }

    /// `plan -e prod --out FILE --detailed-exitcode`: exit 2 (changes) or 0 (none) expected.
    #[track_caller]
    pub fn plan(&self, out: &str, code: i32) -> Output {
        let o = self.run(&["plan", "-e", "prod", "--out", out, "--detailed-exitcode"]);
        o.assert_exit(code);
        o
    }

    /// `apply FILE`, which must succeed.
    #[track_caller]
    pub fn apply(&self, plan: &str) -> Output {
        let o = self.run(&["apply", plan]);
        o.assert_exit(0);
        o
    }

    /// Plans and applies everything (the first deployment), and forgets the argv it caused.
    #[track_caller]
    pub fn deploy(&self) {
        self.plan("first.plan", 2);
        self.apply("first.plan");
        self.plan("check.plan", 0);
        self.take_argv();
    }

    /// A container's conf folder.
    pub fn conf(&self, container: &str) -> PathBuf {
        self.conf_root.join(container)
    }

    /// A deployed file: `<conf_root>/<container>/<file>`.
    pub fn deployed(&self, container: &str, file: &str) -> PathBuf {
        self.conf(container).join(file)
    }

    /// Replaces `from` by `to` in the environment file (exactly once).
    #[track_caller]
    pub fn edit(&self, from: &str, to: &str) {
        let text = self.repo.read(ENV_FILE);
        assert_eq!(text.matches(from).count(), 1, "{from:?} is not once in the environment:\n{text}");
        std::fs::write(self.repo.path(ENV_FILE), text.replace(from, to)).unwrap();
    }

    /// Removes the instance `mid_prod` from the environment (mkt_prod alone, on app1 and app2).
    pub fn drop_mid_prod(&self) {
        let text = self.repo.read(ENV_FILE);
        let (from, to) = (text.find("  mid_prod:\n").unwrap(), text.find("  mkt_prod:\n").unwrap());
        std::fs::write(self.repo.path(ENV_FILE), format!("{}{}", &text[..from], &text[to..])).unwrap();
    }

    /// `nlconf secret set` of `path` to `value`.
    #[track_caller]
    pub fn set_secret(&self, path: &str, value: &str) {
        self.repo.run_with(&["secret", "set", "-e", "prod", path], value.as_bytes(), &[]).assert_exit(0);
    }

    /// What the stand-in received since the last call: (container, argv without the program), and
    /// the program is the stand-in every time.
    #[track_caller]
    pub fn take_argv(&self) -> Vec<(String, Vec<String>)> {
        let text = std::fs::read_to_string(&self.argv_file).unwrap_or_default();
        let _ = std::fs::remove_file(&self.argv_file);
        text.lines()
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line from the stand-in");
                let conf = v["conf"].as_str().unwrap().to_string();
                let argv: Vec<String> =
                    v["argv"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
                assert_eq!(argv[0], STANDIN, "nlconf ran another program: {line}");
                let container = Path::new(&conf).file_name().unwrap().to_string_lossy().into_owned();
                (container, argv[1..].to_vec())
            })
            .collect()
    }

    /// The whole tree of conf folders.
    pub fn tree(&self) -> BTreeMap<String, Entry> {
        tree(&self.conf_root)
    }

    /// Replaces the work folder's path and the stand-in's path in a text, for exact comparisons.
    pub fn norm(&self, text: &str) -> String {
        let work = self.repo.work_path("");
        let work = work.to_string_lossy();
        text.replace(STANDIN, "$NLSERVER").replace(work.trim_end_matches('/'), "$WORK")
    }
}

/// What must never be seen of the tests' secrets: the client secrets and the private key, as they
/// are and in base64 (the form nlserver receives the key in), and every line of the key.
pub fn leak_needles() -> Vec<(String, String)> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::new();
    for (name, value) in [("SECRET", SECRET), ("SECRET2", SECRET2), ("PEM", PEM)] {
        out.push((format!("{name} plaintext"), value.to_string()));
        out.push((format!("{name} base64"), b64.encode(value.as_bytes())));
    }
    for line in PEM.lines().filter(|l| !l.starts_with("-----")) {
        out.push(("a line of PEM".into(), line.to_string()));
    }
    out
}

/// No secret of these tests in what a command printed.
#[track_caller]
pub fn assert_no_leak(out: &Output) {
    for (label, needle) in leak_needles() {
        assert!(
            !out.stdout.contains(&needle) && !out.stderr.contains(&needle),
            "LEAK: {label} in the output of `nlconf {}`\n--- stdout\n{}--- stderr\n{}",
            out.args.join(" "),
            out.stdout,
            out.stderr
        );
    }
}

/// The test's PATH with /usr/bin first: the stand-in's `#!/usr/bin/env python3` then starts the
/// system Python at once (a version manager's shim takes ten times longer).
pub fn search_path() -> String {
    format!("/usr/bin:{}", std::env::var("PATH").unwrap_or_default())
}

/// Every file and folder under `root` (folders end with `/`), with bytes, mode and owner.
pub fn tree(root: &Path) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let path = e.path();
            let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let Ok(m) = std::fs::symlink_metadata(&path) else { continue };
            let entry = |bytes| Entry { bytes, mode: m.mode() & 0o7777, uid: m.uid(), gid: m.gid() };
            if m.is_dir() {
                out.insert(format!("{rel}/"), entry(Vec::new()));
                todo.push(path);
            } else {
                out.insert(rel, entry(std::fs::read(&path).unwrap_or_default()));
            }
        }
    }
    out
}

/// The names of a tree whose entries differ between `a` and `b`.
pub fn tree_differences(a: &BTreeMap<String, Entry>, b: &BTreeMap<String, Entry>) -> Vec<String> {
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort();
    names.dedup();
    names.into_iter().filter(|n| a.get(*n) != b.get(*n)).cloned().collect()
}

/// One expected argv record.
pub fn call(container: &str, args: &[&str]) -> (String, Vec<String>) {
    (container.to_string(), args.iter().map(|s| s.to_string()).collect())
}

/// The credential step's argv on a container.
pub fn setims(container: &str, instance: &str, secret: &str) -> (String, Vec<String>) {
    call(
        container,
        &["config", &format!("-instance:{instance}"), &format!("-setimsoauth:{ORG}/{CLIENT}/{TA}/{secret}")],
    )
}

pub fn reload(container: &str) -> (String, Vec<String>) {
    call(container, &["config", "-reload"])
}

pub fn restart(container: &str, instance: &str) -> (String, Vec<String>) {
    call(container, &["restart", &format!("pipelined@{instance}")])
}

/// Whether the tests run as root (who may give files to other owners).
pub fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// The `<container>: <file>: <status>` lines of a review, e.g. `app1: config-mid_prod.xml: unchanged`.
pub fn summary(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| !l.starts_with(' ') && l.contains(": config-") && l.contains(".xml: "))
        .map(str::to_string)
        .collect()
}

/// The state record of a container for an instance (`.nlconf/state-<instance>.json`).
#[track_caller]
pub fn state(site: &Site, container: &str, instance: &str) -> serde_json::Value {
    let path = site.conf(container).join(format!(".nlconf/state-{instance}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The plan file as JSON.
#[track_caller]
pub fn plan_json(site: &Site, name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(site.repo.work_path(name)).unwrap()).expect("the plan is JSON")
}

/// The steps a plan file shows for each container: `container (instance): step`.
pub fn planned_steps(plan: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for c in plan["containers"].as_array().unwrap() {
        for s in c["shown_steps"].as_array().unwrap() {
            out.push(format!(
                "{} ({}): {}",
                c["container"].as_str().unwrap(),
                c["instance"].as_str().unwrap(),
                s.as_str().unwrap()
            ));
        }
    }
    out
}

pub const REFUSED: &str = "error: nothing was changed: the plan no longer describes what apply would do\n  help: make a new plan, review it, and apply that\n";

// The loop ---------------------------------------------------------------------------------------------

#[test]
fn plan_apply_plan_again_change_one_value_plan_exactly_that_and_apply() {
    let site = Site::local();

    // Plan: the review, exit 2, and a plan file.
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
    out.stdout_contains("prod: 4 of 4 files change (+38 -0), 4 new; 2 credential steps\n");
    assert!(
        site.norm(&out.stderr).contains("plan written to p1.plan: carry it out with `nlconf apply p1.plan`"),
        "{}",
        out.stderr
    );
    let plan = plan_json(&site, "p1.plan");
    assert_eq!(plan["schema"], "nlconf.plan/v4");
    assert_eq!(plan["nlconf_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(plan["environment"], "prod");
    let shown_setims = format!("$NLSERVER config -instance:mkt_prod -setimsoauth:{ORG}/{CLIENT}/{TA}/(sensitive)");
    assert_eq!(
        planned_steps(&plan).iter().map(|s| site.norm(s)).collect::<Vec<_>>(),
        [
            "app1 (mid_prod): $NLSERVER config -reload".to_string(),
            "app3 (mid_prod): $NLSERVER config -reload".to_string(),
            format!(
                "app1 (mkt_prod): {shown_setims}  # no record of the IMS technical-account credentials on this container"
            ),
            "app1 (mkt_prod): $NLSERVER config -reload".to_string(),
            "app1 (mkt_prod): $NLSERVER restart pipelined@mkt_prod  # pipelined changed".to_string(),
            format!(
                "app2 (mkt_prod): {shown_setims}  # no record of the IMS technical-account credentials on this container"
            ),
            "app2 (mkt_prod): $NLSERVER config -reload".to_string(),
        ]
    );
    for c in plan["containers"].as_array().unwrap() {
        assert_eq!(c["deployed_digest"], "absent");
        assert_eq!(c["state_digest"], "absent");
    }
    assert!(!site.conf_root.exists(), "plan wrote to the target");
    assert!(site.take_argv().is_empty(), "plan ran nlserver");
    site.assert_no_leak_in_files();

    // Apply: files, credential steps, reload, restart (only where pipelined runs), state records.
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
    // In CI (not a terminal): one plain progress line per step.
    let progress = site.norm(&out.stderr);
    for line in [
        "app1 (mid_prod): writing config-mid_prod.xml\n",
        "app1 (mkt_prod): setting the IMS technical-account credentials\n",
        "app1 (mkt_prod): running $NLSERVER restart pipelined@mkt_prod\n",
        "app2 (mkt_prod): running $NLSERVER config -reload\n",
    ] {
        assert!(progress.contains(line), "no progress line {line:?} in\n{progress}");
    }
    assert!(
        !out.stderr.contains('\r') && !out.stderr.contains("\x1b["),
        "terminal codes outside a terminal:\n{}",
        out.stderr
    );
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
        ],
        "the stand-in's argv, in order (the secret intact)"
    );
    let rendered = |c: &str, i: &str| {
        site.run(&["render", "-e", "prod", "--instance", i, "--container", c]).assert_exit(0).stdout.clone()
    };
    for (c, i) in FILES {
        let file = site.deployed(c, &format!("config-{i}.xml"));
        let text = std::fs::read_to_string(&file).unwrap();
        if *i == "mid_prod" {
            assert_eq!(text, rendered(c, i), "{c}/config-{i}.xml is not the rendered file");
            let m = std::fs::metadata(&file).unwrap();
            assert_eq!(m.mode() & 0o7777, 0o640, "a new file is 0640");
            let dir = std::fs::metadata(site.conf(c)).unwrap();
            assert_eq!((m.uid(), m.gid()), (dir.uid(), dir.gid()), "a new file belongs to the folder's owner");
        } else {
            // The stand-in added the encrypted technical account to what nlconf wrote.
            assert!(text.contains(&format!("authIMSTAClientId=\"{CLIENT}\"")), "{text}");
            assert!(text.contains(&format!("authIMSTAId=\"{TA}\"")), "{text}");
        }
    }
    let log = std::fs::read_to_string(site.conf("app1").join(".nlserver-standin.log")).unwrap();
    assert_eq!(
        log,
        format!(
            "nlserver config -reload\nnlserver config -instance:mkt_prod -setimsoauth:{ORG}/{CLIENT}/{TA}/(sensitive)\nnlserver config -reload\nnlserver restart pipelined@mkt_prod\n"
        )
    );
    for c in ["app1", "app2"] {
        let path = site.conf(c).join(".nlconf/state-mkt_prod.json");
        let state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(state["schema"], "nlconf.state/v2");
        assert_eq!(state["environment"], "prod");
        assert_eq!(state["instance"], "mkt_prod");
        assert_eq!(state["container"], c);
        assert_eq!(state["nlconf_version"], env!("CARGO_PKG_VERSION"));
        let cred = &state["credentials"]["ims"];
        let fields = &cred["fields"];
        assert_eq!((fields["auth"].as_str(), fields["orgId"].as_str()), (Some("oauth"), Some(ORG)));
        assert_eq!((fields["clientId"].as_str(), fields["technicalAccountId"].as_str()), (Some(CLIENT), Some(TA)));
        // A memory-hard fingerprint, salted per record (DESIGN §9).
        assert!(cred["fingerprint"].as_str().unwrap().starts_with("scrypt:15:8:1:"), "{state}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the state record is readable by others");
    }
    // Where no credentials are set, the record says only that nothing is pending.
    for c in ["app1", "app3"] {
        let state = state(&site, c, "mid_prod");
        assert!(state["credentials"].is_null() && state.get("pending").is_none(), "{c}: {state}");
    }
    for c in ["app1", "app2", "app3"] {
        assert!(!site.conf(c).join(".nlconf/lock").exists(), "{c}: the lock was not released");
        assert!(!site.conf(c).join(".nlconf/backups").exists(), "{c}: a backup of a file that did not exist");
    }

    // Plan again: nothing to do.
    let out = site.plan("p2.plan", 0);
    out.stdout_contains("prod: 0 of 4 files change (+0 -0)\n");
    assert!(!out.stdout.contains("then on"), "steps planned after an apply:\n{}", out.stdout);
    assert!(out.stderr.contains("plan written to p2.plan: nothing to do"), "{}", out.stderr);
    site.run(&["apply", "p2.plan"]).assert_exit(0).stdout_is("apply prod: nothing to do\n");
    assert!(site.take_argv().is_empty());

    // Change one value: the plan shows exactly that change, and a reload where it is.
    let before = site.tree();
    let inode = std::fs::metadata(site.deployed("app3", "config-mid_prod.xml")).unwrap().ino();
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
    // A file the plan writes is recorded by the digest of its text, one it leaves as it is by the
    // deployed file's digest (apply compares both).
    for c in plan_json(&site, "p3.plan")["containers"].as_array().unwrap() {
        let (rendered, deployed) = (c["rendered_digest"].as_str().unwrap(), c["deployed_digest"].as_str().unwrap());
        assert!(deployed.starts_with("sha256:"), "{c}");
        if c["steps"]["write_file"] == true {
            assert!(rendered.starts_with("sha256:") && rendered != deployed, "{c}");
            assert!(!c["rendered"].as_str().unwrap().is_empty(), "{c}");
        } else {
            assert_eq!(rendered, deployed, "{c}");
            assert!(c.get("rendered").is_none(), "{c}");
        }
    }
    let changed: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with(['-', '+']) && !l.starts_with("---") && !l.starts_with("+++"))
        .collect();
    assert_eq!(
        changed,
        [
            "-    <dataStore hosts=\"mid.example.com*\"/>",
            "+    <dataStore hosts=\"mid2.example.com*\"/>",
            "-    <dataStore hosts=\"mid.example.com*\"/>",
            "+    <dataStore hosts=\"mid2.example.com*\"/>",
        ],
        "{}",
        out.stdout
    );
    assert_eq!(
        planned_steps(&plan_json(&site, "p3.plan")).iter().map(|s| site.norm(s)).collect::<Vec<_>>(),
        ["app1 (mid_prod): $NLSERVER config -reload", "app3 (mid_prod): $NLSERVER config -reload"]
    );
    let out = site.apply("p3.plan");
    assert_eq!(
        out.stdout,
        "apply prod:
  app1 (mid_prod): done: wrote config-mid_prod.xml, ran config -reload
  app3 (mid_prod): done: wrote config-mid_prod.xml, ran config -reload
2 of 2 containers done
"
    );
    assert_eq!(site.take_argv(), [reload("app1"), reload("app3")]);
    // Replaced by a rename (a new inode), not rewritten in place.
    assert_ne!(std::fs::metadata(site.deployed("app3", "config-mid_prod.xml")).unwrap().ino(), inode);
    // The previous version is kept in .nlconf/backups/, the other files did not move.
    for c in ["app1", "app3"] {
        let backups: Vec<String> = std::fs::read_dir(site.conf(c).join(".nlconf/backups"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(backups.len(), 1, "{c}: {backups:?}");
        assert!(backups[0].starts_with("config-mid_prod.xml."), "{backups:?}");
        let old = &before[&format!("{c}/config-mid_prod.xml")].bytes;
        assert_eq!(&std::fs::read(site.conf(c).join(".nlconf/backups").join(&backups[0])).unwrap(), old);
    }
    let after = site.tree();
    for f in ["app1/config-mkt_prod.xml", "app2/config-mkt_prod.xml", "app1/.nlconf/state-mkt_prod.json"] {
        assert_eq!(before[f], after[f], "{f} moved");
    }
    site.plan("p4.plan", 0);
    site.assert_no_leak_in_files();
}

#[test]
fn an_existing_file_keeps_its_mode_and_owner_and_a_new_one_gets_0640_and_the_folder_owner() {
    let site = Site::local();
    let existing = site.deployed("app1", "config-mid_prod.xml");
    std::fs::create_dir_all(site.conf("app1")).unwrap();
    std::fs::create_dir_all(site.conf("app3")).unwrap();
    std::fs::write(&existing, "<?xml version='1.0'?>\n<serverconf>\n  <mta autoStart=\"false\"/>\n</serverconf>\n")
        .unwrap();
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o600)).unwrap();
    let root = is_root();
    if root {
        // Files of neolane (here uid 4321) in a folder of neolane; app3's folder belongs to 1234.
        std::os::unix::fs::chown(&existing, Some(4321), Some(4322)).unwrap();
        std::os::unix::fs::chown(site.conf("app3"), Some(1234), Some(1235)).unwrap();
    } else {
        eprintln!("notice: not root: owners are not changed in this test");
    }
    site.plan("p.plan", 2);
    site.apply("p.plan");
    let m = std::fs::metadata(&existing).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o600, "the existing file's mode was not kept");
    assert!(std::fs::read_to_string(&existing).unwrap().contains("mid.example.com"), "not written");
    let new = std::fs::metadata(site.deployed("app3", "config-mid_prod.xml")).unwrap();
    assert_eq!(new.mode() & 0o7777, 0o640, "a new file is 0640");
    if root {
        assert_eq!((m.uid(), m.gid()), (4321, 4322), "the existing file's owner was not kept");
        assert_eq!((new.uid(), new.gid()), (1234, 1235), "a new file belongs to the folder's owner");
    }
    // The backup holds the previous version.
    let backups = site.conf("app1").join(".nlconf/backups");
    let names: Vec<_> = std::fs::read_dir(&backups).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert_eq!(
        std::fs::read_to_string(&names[0]).unwrap(),
        "<?xml version='1.0'?>\n<serverconf>\n  <mta autoStart=\"false\"/>\n</serverconf>\n"
    );
}

/// Twelve applies that each change the file leave the ten newest previous versions, each one a
/// version that was deployed (applies may follow each other within a second).
#[test]
fn backups_are_kept_per_change_and_pruned_to_the_last_ten() {
    let site = Site::local();
    site.deploy();
    let file = site.deployed("app3", "config-mid_prod.xml");
    let mut versions = vec![std::fs::read(&file).unwrap()];
    let mut hosts = "mid.example.com*".to_string();
    for i in 1..=12 {
        let next = format!("mid{i}.example.com*");
        site.edit(&format!("hosts: \"{hosts}\""), &format!("hosts: \"{next}\""));
        hosts = next;
        site.plan("p.plan", 2);
        site.apply("p.plan");
        versions.push(std::fs::read(&file).unwrap());
    }
    let dir = site.conf("app3").join(".nlconf/backups");
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let kept: Vec<Vec<u8>> = names.iter().map(|n| std::fs::read(dir.join(n)).unwrap()).collect();
    // Versions 0..=11 were replaced; the newest ten backups are versions 2..=11, oldest first.
    assert_eq!(
        kept.iter()
            .map(|b| String::from_utf8_lossy(b).lines().find(|l| l.contains("hosts=")).unwrap_or("").trim().to_string())
            .collect::<Vec<_>>(),
        versions[2..12]
            .iter()
            .map(|b| String::from_utf8_lossy(b).lines().find(|l| l.contains("hosts=")).unwrap().trim().to_string())
            .collect::<Vec<_>>(),
        "the backups in .nlconf/backups/ ({names:?}) are not the ten previous versions"
    );
}

#[test]
fn jwt_credentials_reach_nlserver_as_the_base64_of_the_pem_on_one_line() {
    let site = Site::local();
    site.edit("build: 9383", "build: 9370");
    site.edit("auth: oauth", "auth: jwt");
    std::fs::write(site.repo.work_path("private.key"), PEM).unwrap();
    site.run(&["secret", "set", "-e", "prod", "instances.mkt_prod.ims.privateKey", "--from-file", "private.key"])
        .assert_exit(0);
    let out = site.plan("p.plan", 2);
    assert!(
        site.norm(&out.stdout).contains(&format!(
            "$NLSERVER config -instance:mkt_prod -setimsjwtauth:{ORG}/{CLIENT}/{TA}/(sensitive)/(sensitive)  # no record"
        )),
        "{}",
        out.stdout
    );
    site.apply("p.plan");
    let argv = site.take_argv();
    let creds: Vec<&(String, Vec<String>)> = argv.iter().filter(|(_, a)| a.len() == 3).collect();
    assert_eq!(creds.len(), 2, "{argv:?}");
    let b64 = base64::engine::general_purpose::STANDARD;
    for (c, a) in creds {
        let prefix = format!("-setimsjwtauth:{ORG}/{CLIENT}/{TA}/{SECRET}/");
        assert_eq!(a[..2], ["config", "-instance:mkt_prod"]);
        let key = a[2].strip_prefix(&prefix).unwrap_or_else(|| panic!("{c}: {:?}", a[2]));
        assert!(!key.contains(['\n', '\r', ' ']), "the key is not on one line: {key:?}");
        assert_eq!(key, b64.encode(PEM.as_bytes()), "{c}: not the standard base64 of the PEM file");
    }
    let text = std::fs::read_to_string(site.deployed("app2", "config-mkt_prod.xml")).unwrap();
    assert!(text.contains("authIMSTAPrivateKey=\"@"), "{text}");
    site.assert_no_leak_in_files();
}

#[test]
fn a_client_secret_with_a_slash_is_refused_by_plan_and_apply() {
    let site = Site::local();
    site.plan("p.plan", 2);
    site.set_secret("instances.mkt_prod.ims.clientSecret", "abc/def");
    let out = site.run(&["plan", "-e", "prod", "--out", "q.plan"]);
    out.assert_exit(1);
    assert!(
        out.stderr.contains(
            "error: instances.mkt_prod.ims.clientSecret contains `/`, the field separator of nlserver -setims*\n  help: create another client secret"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.starts_with(&format!("{ENV_FILE}:")), "the error names the YAML file:\n{}", out.stderr);
    assert!(!site.repo.work_path("q.plan").exists(), "a plan was written");
    let out = site.run(&["apply", "p.plan"]);
    out.assert_exit(1).stderr_contains("contains `/`, the field separator");
    assert!(!site.conf_root.exists(), "apply wrote to the target");
    assert!(site.take_argv().is_empty(), "nlserver ran");
}

#[test]
fn rekeying_plans_no_credential_step_and_rotating_plans_one() {
    let site = Site::local();
    site.deploy();
    // A second recipient joins: every ciphertext changes, no value does.
    let recipients = format!("{PROD_RECIPIENTS}{}\n", crate::secrets::OTHER_RECIPIENT);
    std::fs::write(site.repo.path("environments/prod/recipients"), recipients).unwrap();
    site.run(&["secret", "rekey"]).assert_exit(0);
    let out = site.plan("p.plan", 0);
    assert!(!out.stdout.contains("setims"), "a rekey planned a credential step:\n{}", out.stdout);

    // A new client secret: the step on both containers, then reload, and restart where pipelined runs.
    site.set_secret("instances.mkt_prod.ims.clientSecret", SECRET2);
    let out = site.plan("p.plan", 2);
    let shown = format!("$NLSERVER config -instance:mkt_prod -setimsoauth:{ORG}/{CLIENT}/{TA}/(sensitive)");
    let why = "  # clientSecret changed since the last apply";
    assert_eq!(
        planned_steps(&plan_json(&site, "p.plan")).iter().map(|s| site.norm(s)).collect::<Vec<_>>(),
        [
            format!("app1 (mkt_prod): {shown}{why}"),
            "app1 (mkt_prod): $NLSERVER config -reload".into(),
            "app1 (mkt_prod): $NLSERVER restart pipelined@mkt_prod  # IMS credentials changed".into(),
            format!("app2 (mkt_prod): {shown}{why}"),
            "app2 (mkt_prod): $NLSERVER config -reload".into(),
        ],
        "{}",
        out.stdout
    );
    out.stdout_contains("prod: 0 of 4 files change (+0 -0)");
    site.apply("p.plan");
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
    site.plan("p.plan", 0);
}

#[test]
fn switching_the_client_id_says_which_project_on_how_many_containers() {
    let site = Site::local();
    site.deploy();
    site.edit(&format!("clientId: {CLIENT}"), "clientId: 0f3ad5e9c1b24d7e8a6b9c0d1e2f3a4b");
    let out = site.plan("p.plan", 2);
    out.stdout_contains(&format!(
        "mkt_prod: switches the Adobe I/O project from {CLIENT} to 0f3ad5e9c1b24d7e8a6b9c0d1e2f3a4b on 2 containers"
    ));
    let steps = planned_steps(&plan_json(&site, "p.plan"));
    assert_eq!(
        steps
            .iter()
            .filter(|s| s.contains("-setimsoauth:") && s.ends_with("# clientId changed since the last apply"))
            .count(),
        2,
        "{steps:#?}"
    );
    site.apply("p.plan");
    let argv = site.take_argv();
    assert!(
        argv.contains(&call(
            "app2",
            &[
                "config",
                "-instance:mkt_prod",
                &format!("-setimsoauth:{ORG}/0f3ad5e9c1b24d7e8a6b9c0d1e2f3a4b/{TA}/{SECRET}")
            ]
        )),
        "{argv:?}"
    );
    site.plan("p.plan", 0);
}

/// A change of `<pipelined>` restarts pipelined where it runs (app1), and only reloads elsewhere.
#[test]
fn a_pipelined_change_restarts_pipelined_only_where_it_is_enabled() {
    let site = Site::local();
    site.deploy();
    site.edit("processingThreads: 4", "processingThreads: 8");
    site.plan("p.plan", 2);
    site.apply("p.plan");
    assert_eq!(site.take_argv(), [reload("app1"), restart("app1", "mkt_prod"), reload("app2")]);
}

// Refusals -------------------------------------------------------------------------------------------

/// Deploys, plans a change (a new file content and a rotated secret: writes, credential steps,
/// reloads, a restart), lets `meddle` change something, and returns the site.
fn planned_then(meddle: impl FnOnce(&Site)) -> Site {
    let site = Site::local().with_prologue();
    site.deploy();
    site.edit("mta: { autoStart: true }\n  mkt_prod:", "mta: { autoStart: false }\n  mkt_prod:");
    site.set_secret("instances.mkt_prod.ims.clientSecret", SECRET2);
    let out = site.plan("p.plan", 2);
    assert_eq!(planned_steps(&plan_json(&site, "p.plan")).len(), 7, "{}", out.stdout);
    meddle(&site);
    site
}

impl Site {
    /// With a repository template (an override of the built-in prologue).
    fn with_prologue(self) -> Site {
        let repo = self.repo.file(
            "templates/partials/prologue.xml",
            "
            <?xml version='1.0'?>
            <!-- Example Corp: {{ instance }} on {{ container }}, managed by nlconf. -->
            ",
        );
        Site { repo, ..self }
    }
}

/// `apply p.plan` is refused with these errors: exit 1, nothing changed in any conf folder, and
/// nlserver never ran.
#[track_caller]
fn assert_refused(site: &Site, errors: &[&str]) {
    let before = site.tree();
    let out = site.run(&["apply", "p.plan"]);
    out.assert_exit(1);
    let stderr = site.norm(&out.stderr);
    for e in errors {
        assert!(stderr.contains(e), "stderr does not say {e:?}:\n{stderr}");
    }
    assert_eq!(out.stdout, "", "a refused apply reports no progress");
    assert_eq!(tree_differences(&before, &site.tree()), Vec::<String>::new(), "a refused apply changed the target");
    assert!(site.take_argv().is_empty(), "a refused apply ran nlserver");
}

#[test]
fn apply_refuses_when_a_deployed_file_was_edited_after_the_plan() {
    let site = planned_then(|site| {
        let f = site.deployed("app3", "config-mid_prod.xml");
        let text = std::fs::read_to_string(&f).unwrap();
        std::fs::write(&f, text.replace("<mta", "<!-- hotfix -->\n  <mta")).unwrap();
    });
    assert_refused(
        &site,
        &[
            "error: apply refused: app3: $WORK/repo/../target/app3/config-mid_prod.xml changed since the plan\n",
            REFUSED,
        ],
    );
}

#[test]
fn apply_refuses_when_a_deployed_file_was_removed_or_created_after_the_plan() {
    let site = planned_then(|site| std::fs::remove_file(site.deployed("app2", "config-mkt_prod.xml")).unwrap());
    assert_refused(
        &site,
        &["error: apply refused: app2: $WORK/repo/../target/app2/config-mkt_prod.xml changed since the plan\n"],
    );

    let site = Site::local();
    site.plan("p.plan", 2);
    std::fs::create_dir_all(site.conf("app3")).unwrap();
    std::fs::write(site.deployed("app3", "config-mid_prod.xml"), "<serverconf/>\n").unwrap();
    assert_refused(
        &site,
        &[
            "error: apply refused: app3: $WORK/repo/../target/app3/config-mid_prod.xml changed since the plan\n",
            REFUSED,
        ],
    );
}

#[test]
fn apply_refuses_when_the_yaml_changed_after_the_plan() {
    let site = planned_then(|site| site.edit("processingThreads: 4", "processingThreads: 6"));
    assert_refused(
        &site,
        &["error: apply refused: environments/prod/environment.yaml changed since the plan\n", REFUSED],
    );
    // Even a change that renders the same (a comment) is a change of what was reviewed.
    let site = planned_then(|site| site.edit("campaign:\n", "# reviewed later\ncampaign:\n"));
    assert_refused(
        &site,
        &["error: apply refused: environments/prod/environment.yaml changed since the plan\n", REFUSED],
    );
    // A new YAML file of the environment.
    let site = planned_then(|site| {
        std::fs::write(site.repo.path("environments/prod/zz-extra.yaml"), "# nothing yet\n").unwrap();
    });
    assert_refused(&site, &["error: apply refused: environments/prod/zz-extra.yaml is new since the plan\n", REFUSED]);
}

#[test]
fn apply_refuses_when_a_secret_or_the_recipients_changed_after_the_plan() {
    let site = planned_then(|site| site.set_secret("instances.mkt_prod.ims.clientSecret", SECRET));
    assert_refused(
        &site,
        &["error: apply refused: environments/prod/environment.yaml changed since the plan\n", REFUSED],
    );
    let site = planned_then(|site| {
        let recipients = format!("{PROD_RECIPIENTS}{}\n", crate::secrets::OTHER_RECIPIENT);
        std::fs::write(site.repo.path("environments/prod/recipients"), recipients).unwrap();
    });
    assert_refused(&site, &["error: apply refused: environments/prod/recipients changed since the plan\n", REFUSED]);
}

#[test]
fn apply_refuses_when_a_template_override_changed_after_the_plan() {
    let site = planned_then(|site| {
        let t = site.repo.path("templates/partials/prologue.xml");
        let text = std::fs::read_to_string(&t).unwrap();
        std::fs::write(&t, text.replace("Example Corp", "Example Corporation")).unwrap();
    });
    assert_refused(&site, &["error: apply refused: templates/partials/prologue.xml changed since the plan\n", REFUSED]);
    // A change that renders the same is still a change of what was reviewed.
    let site = planned_then(|site| {
        let t = site.repo.path("templates/partials/prologue.xml");
        let text = std::fs::read_to_string(&t).unwrap();
        std::fs::write(&t, format!("{{# reviewed #}}{text}")).unwrap();
    });
    assert_refused(&site, &["error: apply refused: templates/partials/prologue.xml changed since the plan\n", REFUSED]);
    // A new override.
    let site = planned_then(|site| {
        std::fs::write(site.repo.path("templates/partials/unused.xml"), "{# not yet #}").unwrap();
    });
    assert_refused(&site, &["error: apply refused: templates/partials/unused.xml is new since the plan\n", REFUSED]);
}

#[test]
fn apply_refuses_when_the_state_record_changed_after_the_plan() {
    let site = planned_then(|site| {
        let f = site.conf("app2").join(".nlconf/state-mkt_prod.json");
        let text = std::fs::read_to_string(&f).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["applied_at"] = "2031-01-01T00:00:00Z".into();
        std::fs::write(&f, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    });
    assert_refused(
        &site,
        &[
            "error: apply refused: app2: the state record of mkt_prod changed since the plan (another apply?)\n",
            REFUSED,
        ],
    );
    let site =
        planned_then(|site| std::fs::remove_file(site.conf("app1").join(".nlconf/state-mkt_prod.json")).unwrap());
    assert_refused(
        &site,
        &[
            "error: apply refused: app1: the state record of mkt_prod changed since the plan (another apply?)\n",
            REFUSED,
        ],
    );
}

#[test]
fn apply_refuses_a_plan_of_another_nlconf_version_or_schema() {
    let site = planned_then(|_| {});
    let text = std::fs::read_to_string(site.repo.work_path("p.plan")).unwrap();
    let version = format!("\"nlconf_version\": \"{}\"", env!("CARGO_PKG_VERSION"));
    assert!(text.contains(&version), "{text}");
    std::fs::write(site.repo.work_path("p.plan"), text.replace(&version, "\"nlconf_version\": \"0.0.1\"")).unwrap();
    assert_refused(
        &site,
        &[&format!(
            "p.plan: error: the plan was made by nlconf 0.0.1, this is nlconf {}: rendering may differ\n  help: make a new plan with this nlconf and review it\n",
            env!("CARGO_PKG_VERSION")
        )],
    );
    assert!(text.contains("\"schema\": \"nlconf.plan/v4\""), "{text}");
    std::fs::write(site.repo.work_path("p.plan"), text.replace("nlconf.plan/v4", "nlconf.plan/v3")).unwrap();
    assert_refused(
        &site,
        &["p.plan: error: plan schema `nlconf.plan/v3` is not the `nlconf.plan/v4` this nlconf reads\n"],
    );
}

#[test]
fn apply_refuses_a_corrupt_plan_file_naming_its_line_and_column() {
    let site = planned_then(|_| {});
    let text = std::fs::read_to_string(site.repo.work_path("p.plan")).unwrap();
    // Cut in the middle of line 3.
    let cut: usize = text.lines().take(2).map(|l| l.len() + 1).sum::<usize>() + 5;
    std::fs::write(site.repo.work_path("p.plan"), &text[..cut]).unwrap();
    assert_refused(&site, &["p.plan:3:5: error: not an nlconf plan file: EOF while parsing"]);
    // Not JSON at all.
    std::fs::write(site.repo.work_path("p.plan"), "environment: prod\n").unwrap();
    assert_refused(&site, &["p.plan:1:1: error: not an nlconf plan file: expected value at line 1 column 1\n"]);
    // JSON, but not a plan.
    std::fs::write(site.repo.work_path("p.plan"), "{\n  \"schema\": \"nlconf.plan/v4\"\n}\n").unwrap();
    assert_refused(&site, &["p.plan:3:1: error: not an nlconf plan file: missing field"]);
    // No plan file.
    let out = site.run(&["apply", "nowhere.plan"]);
    out.assert_exit(1);
    assert!(out.stderr.starts_with("nowhere.plan: error: cannot read the plan: "), "{}", out.stderr);
}

#[test]
fn apply_without_an_identity_is_a_clear_error_and_changes_nothing() {
    let site = planned_then(|_| {});
    let before = site.tree();
    let out = site.run_without_identity(&["apply", "p.plan"]);
    out.assert_exit(1);
    assert!(
        out.stderr.contains("error: apply needs an identity to decrypt secrets, and none was found\n  help: "),
        "{}",
        out.stderr
    );
    assert_eq!(tree_differences(&before, &site.tree()), Vec::<String>::new());
    assert!(site.take_argv().is_empty());
    // A plan needs none (it masks what it cannot decrypt).
    site.run_without_identity(&["plan", "-e", "prod", "--out", "q.plan"]).assert_exit(0);
}

// Failures mid-way -----------------------------------------------------------------------------------

/// Applies the first plan with the stand-in failing on `fail`; returns the site and the output.
fn first_apply_failing(fail: &str) -> (Site, Output) {
    let site = Site::local();
    site.plan("p.plan", 2);
    let out = site.run_env(&["apply", "p.plan"], &[("NLSERVER_STANDIN_FAIL", fail)]);
    out.assert_exit(1);
    (site, out)
}

#[test]
fn a_failed_credential_step_stops_apply_and_the_report_says_where() {
    let (site, out) = first_apply_failing("setims");
    assert_eq!(
        site.norm(&out.stdout),
        format!(
            "apply prod:
  app1 (mid_prod): done: wrote config-mid_prod.xml, ran config -reload
  app3 (mid_prod): done: wrote config-mid_prod.xml, ran config -reload
  app1 (mkt_prod): PARTIAL: wrote config-mkt_prod.xml; then failed: `$NLSERVER config -instance:mkt_prod -setimsoauth:{ORG}/{CLIENT}/{TA}/(sensitive)` failed (exit 1); what nlserver printed is not shown, since its command line held a secret: run that command by hand on the container (with the secret) to see it, or apply again at a terminal with --show-credential-output
  app2 (mkt_prod): not started (apply stopped before it)
2 of 4 containers done, 1 failed, 1 not started
"
        )
    );
    assert!(
        site.norm(&out.stderr).contains(&format!(
            "error: app1: `$NLSERVER config -instance:mkt_prod -setimsoauth:{ORG}/{CLIENT}/{TA}/(sensitive)` failed (exit 1); what nlserver printed is not shown, since its command line held a secret: run that command by hand on the container (with the secret) to see it, or apply again at a terminal with --show-credential-output\n"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(site.take_argv(), [reload("app1"), reload("app3"), setims("app1", "mkt_prod", SECRET)]);
    assert!(site.deployed("app1", "config-mkt_prod.xml").exists());
    // The record of app1 holds no credentials, and the steps that did not run.
    let record = state(&site, "app1", "mkt_prod");
    assert!(record["credentials"].is_null(), "a record of credentials that failed: {record}");
    assert_eq!(record["pending"], serde_json::json!([["config", "-reload"], ["restart", "pipelined@mkt_prod"]]));
    assert!(site.tree().keys().all(|k| !k.starts_with("app2/") || k.ends_with('/')), "app2 was touched");
    for c in ["app1", "app3"] {
        assert!(!site.conf(c).join(".nlconf/lock").exists(), "{c}: the lock was not released after the failure");
    }
    // The next plan tells the truth: app1's file is there, its credentials are not; app2 is new.
    let out = site.plan("q.plan", 2);
    assert_eq!(
        summary(&out.stdout),
        [
            "app1: config-mid_prod.xml: unchanged",
            "app3: config-mid_prod.xml: unchanged",
            "app1: config-mkt_prod.xml: unchanged",
            "app2: config-mkt_prod.xml: new file (+10 -0)",
        ]
    );
    let steps: Vec<String> = planned_steps(&plan_json(&site, "q.plan")).iter().map(|s| site.norm(s)).collect();
    let shown = format!(
        "$NLSERVER config -instance:mkt_prod -setimsoauth:{ORG}/{CLIENT}/{TA}/(sensitive)  # no record of the IMS technical-account credentials on this container"
    );
    assert_eq!(
        steps,
        [
            format!("app1 (mkt_prod): {shown}"),
            "app1 (mkt_prod): $NLSERVER config -reload".into(),
            "app1 (mkt_prod): $NLSERVER restart pipelined@mkt_prod  # IMS credentials changed".into(),
            format!("app2 (mkt_prod): {shown}"),
            "app2 (mkt_prod): $NLSERVER config -reload".into(),
        ]
    );
    site.apply("q.plan");
    site.plan("r.plan", 0);
    site.assert_no_leak_in_files();
}

#[test]
fn a_failed_reload_stops_apply_on_the_first_container() {
    let (site, out) = first_apply_failing("reload");
    assert_eq!(
        site.norm(&out.stdout),
        "apply prod:
  app1 (mid_prod): PARTIAL: wrote config-mid_prod.xml; then failed: `$NLSERVER config -reload` failed (exit 1): ERROR: simulated failure of config -reload
  app3 (mid_prod): not started (apply stopped before it)
  app1 (mkt_prod): not started (apply stopped before it)
  app2 (mkt_prod): not started (apply stopped before it)
0 of 4 containers done, 1 failed, 3 not started
"
    );
    assert_eq!(site.take_argv(), [reload("app1")]);
    // Only app1's file was written, and its state record says what is still to do there.
    let names: Vec<String> = site.tree().into_keys().filter(|k| !k.ends_with('/')).collect();
    assert_eq!(names, ["app1/.nlconf/state-mid_prod.json", "app1/config-mid_prod.xml"]);
    assert_eq!(state(&site, "app1", "mid_prod")["pending"], serde_json::json!([["config", "-reload"]]));
    let out = site.plan("q.plan", 2);
    assert_eq!(
        summary(&out.stdout),
        [
            "app1: config-mid_prod.xml: unchanged",
            "app3: config-mid_prod.xml: new file (+9 -0)",
            "app1: config-mkt_prod.xml: new file (+10 -0)",
            "app2: config-mkt_prod.xml: new file (+10 -0)",
        ]
    );
}

#[test]
fn a_failed_restart_leaves_the_containers_before_it_done() {
    let (site, out) = first_apply_failing("restart");
    assert_eq!(
        site.norm(&out.stdout),
        "apply prod:
  app1 (mid_prod): done: wrote config-mid_prod.xml, ran config -reload
  app3 (mid_prod): done: wrote config-mid_prod.xml, ran config -reload
  app1 (mkt_prod): PARTIAL: wrote config-mkt_prod.xml, set the IMS credentials, ran config -reload; then failed: `$NLSERVER restart pipelined@mkt_prod` failed (exit 1): ERROR: No task corresponds to the mask pipelined@mkt_prod
  app2 (mkt_prod): not started (apply stopped before it)
2 of 4 containers done, 1 failed, 1 not started
"
    );
    assert_eq!(
        site.take_argv(),
        [
            reload("app1"),
            reload("app3"),
            setims("app1", "mkt_prod", SECRET),
            reload("app1"),
            restart("app1", "mkt_prod")
        ]
    );
    // The credentials were set on app1: the record says so, and the next plan does not set them again.
    let record = state(&site, "app1", "mkt_prod");
    assert_eq!(record["credentials"]["ims"]["fields"]["clientId"], CLIENT, "{record}");
    assert_eq!(record["pending"], serde_json::json!([["restart", "pipelined@mkt_prod"]]));
    let out = site.plan("q.plan", 2);
    assert_eq!(
        summary(&out.stdout),
        [
            "app1: config-mid_prod.xml: unchanged",
            "app3: config-mid_prod.xml: unchanged",
            "app1: config-mkt_prod.xml: unchanged",
            "app2: config-mkt_prod.xml: new file (+10 -0)",
        ]
    );
    let steps: Vec<String> = planned_steps(&plan_json(&site, "q.plan")).iter().map(|s| site.norm(s)).collect();
    assert!(steps.iter().all(|s| !s.starts_with("app1 (mkt_prod)") || !s.contains("-setims")), "{steps:#?}");
}

/// A reload that failed has not happened: the next plan must still carry it out, or the server
/// keeps running the old configuration while every plan says "nothing to do".
#[test]
fn a_reload_that_failed_is_planned_again() {
    let (site, _) = first_apply_failing("reload");
    site.plan("q.plan", 2);
    let steps: Vec<String> = planned_steps(&plan_json(&site, "q.plan")).iter().map(|s| site.norm(s)).collect();
    assert!(
        steps.contains(&"app1 (mid_prod): $NLSERVER config -reload".to_string()),
        "the reload of app1 (mid_prod) failed, and the next plan does not reload it:\n{steps:#?}"
    );
}

/// Likewise a restart of pipelined that failed after new credentials were set.
#[test]
fn a_restart_that_failed_is_planned_again() {
    let (site, _) = first_apply_failing("restart");
    site.plan("q.plan", 2);
    let steps: Vec<String> = planned_steps(&plan_json(&site, "q.plan")).iter().map(|s| site.norm(s)).collect();
    assert!(
        steps.contains(
            &"app1 (mkt_prod): $NLSERVER restart pipelined@mkt_prod  # left to do by an earlier apply".to_string()
        ),
        "pipelined@mkt_prod on app1 never restarted with its new credentials, and the next plan does not restart it:\n{steps:#?}"
    );
}

/// A nlserver that prints its arguments when it fails: the report does not repeat the secret.
#[test]
fn a_failing_nlserver_that_echoes_its_arguments_does_not_leak_the_secret() {
    let site = Site::local();
    let script = site.repo.work_path("echoing-nlserver");
    std::fs::write(&script, "#!/bin/sh\necho \"nlserver: cannot parse: $*\" >&2\nexit 4\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    site.edit(&format!("nlserver: {STANDIN}"), &format!("nlserver: {}", script.display()));
    // Only mkt_prod, whose first step is the credential step after the file.
    site.drop_mid_prod();
    site.plan("p.plan", 2);
    let out = site.run(&["apply", "p.plan"]);
    out.assert_exit(1);
    let all = format!("{}{}", out.stdout, out.stderr);
    // What nlserver printed is not shown at all: no scrubbing catches every form of an echo.
    assert!(all.contains("-setimsoauth:0123456789ABCDEF01234567@AdobeOrg/e053e1a87cf74c68a6ec8e71d4a82662/6657031C5C095BB40A4B0123@techacct.adobe.com/(sensitive)` failed (exit 4); what nlserver printed is not shown"), "{all}");
    assert!(!all.contains("cannot parse"), "nlserver's output is in the report:\n{all}");
    assert!(!all.contains(SECRET), "the secret nlserver echoed is in the report:\n{all}");
}

// Locks ------------------------------------------------------------------------------------------------

const HELD: &str = r#"{"holder":"ci-deployer","host":"runner-7","pid":4242,"time":"2026-01-01T09:30:00Z"}"#;

#[test]
fn a_lock_held_by_another_apply_stops_apply_at_once_naming_it_and_force_unlock_proceeds() {
    // A change on every container; app2 is the last folder locked: the locks before it are released.
    let site = planned_then(|_| {});
    std::fs::write(site.conf("app2").join(".nlconf/lock"), HELD).unwrap();
    let before = site.tree();
    let out = site.run_env(&["apply", "p.plan"], &[("NLSERVER_STANDIN_SLEEP", "5")]);
    out.assert_exit(1).stderr_is(
        "
        error: app2: another apply holds the lock: ci-deployer on runner-7 (pid 4242) since 2026-01-01T09:30:00Z
          help: wait for it to finish; if it died, check the containers and run apply with --force-unlock
        ",
    );
    assert_eq!(out.stdout, "");
    assert_eq!(tree_differences(&before, &site.tree()), Vec::<String>::new());
    assert!(site.take_argv().is_empty());

    // A lock file that is not nlconf's says where it is.
    std::fs::write(site.conf("app2").join(".nlconf/lock"), "locked by hand\n").unwrap();
    let out = site.run(&["apply", "p.plan"]);
    out.assert_exit(1);
    assert!(
        site.norm(&out.stderr)
            .starts_with("error: app2: the folder is locked ($WORK/repo/../target/app2/.nlconf/lock)\n"),
        "{}",
        out.stderr
    );

    // --force-unlock removes the stale lock and proceeds; the locks are gone afterwards.
    let out = site.run(&["apply", "--force-unlock", "p.plan"]);
    out.assert_exit(0).stdout_contains("4 of 4 containers done\n");
    assert_eq!(site.take_argv().len(), 7);
    for c in ["app1", "app2", "app3"] {
        assert!(!site.conf(c).join(".nlconf/lock").exists(), "{c}: a lock is left");
    }
    site.plan("q.plan", 0);
}

/// Two applies of one plan started together (the stand-in slowed down): exactly one carries it
/// out, the other fails cleanly, and the target is as after one apply.
#[test]
fn two_applies_at_once_on_one_target_exactly_one_proceeds() {
    for round in 0..3 {
        let site = Site::local();
        site.plan("p.plan", 2);
        let barrier = std::sync::Barrier::new(2);
        let outs: Vec<Output> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        site.run_env(&["apply", "p.plan"], &[("NLSERVER_STANDIN_SLEEP", "0.1")])
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let (ok, failed): (Vec<&Output>, Vec<&Output>) = outs.iter().partition(|o| o.status == 0);
        assert_eq!((ok.len(), failed.len()), (1, 1), "round {round}: {outs:#?}");
        let loser = failed[0];
        loser.assert_exit(1);
        // The lock names its holder; in the instant between its creation and the writing of its
        // content, the other apply finds it empty and says only where it is.
        assert!(
            loser.stderr.contains("another apply holds the lock: ") && loser.stderr.contains(" (pid ")
                || loser.stderr.contains("the folder is locked (")
                || loser.stderr.contains("changed since the plan"),
            "round {round}: the other apply did not fail cleanly:\n{}",
            loser.stderr
        );
        assert!(!loser.stdout.contains("done:"), "round {round}: the loser did something:\n{}", loser.stdout);
        ok[0].stdout_contains("4 of 4 containers done\n");
        // Every step ran once, and the target is what the plan says.
        assert_eq!(site.take_argv().len(), 7, "round {round}: steps ran twice");
        for c in ["app1", "app2", "app3"] {
            assert!(!site.conf(c).join(".nlconf/lock").exists(), "round {round}: {c}: a lock is left");
        }
        let stray: Vec<String> = site.tree().into_keys().filter(|k| k.contains("tmp")).collect();
        assert!(stray.is_empty(), "round {round}: temporary files left: {stray:?}");
        site.plan("q.plan", 0);
    }
}

// Leaks ------------------------------------------------------------------------------------------------

/// Plan and apply (and their failures) on the leak test's repository, through its helper: no
/// plaintext, base64 or line of a secret in any output, the plan files, the state records, the
/// stand-in's log, or any other file written, except the config files nlconf writes (and their
/// backups), which hold serverconf secrets in plaintext by design.
#[test]
fn no_plaintext_leaks_from_plan_and_apply() {
    use crate::leak::{Allowed, LeakRepo, needles};
    let lr = LeakRepo::new();
    let text = lr.repo.read(crate::leak::ENV_FILE);
    let ssh = "target:\n  kind: ssh\n  user: neolane\n  conf_dir: /usr/local/neolane/nl6/conf\n";
    assert!(text.contains(ssh), "the leak test's target changed:\n{text}");
    let local = format!("target:\n  kind: local\n  conf_dir: ../target/{{container}}\nnlserver: {STANDIN}\n");
    std::fs::write(lr.repo.path(crate::leak::ENV_FILE), text.replace(ssh, &local)).unwrap();
    let none = Allowed::default();
    let target = Allowed { dirs: &["target"], stdout: false };
    let check_target = |what: &str| {
        for (path, entry) in tree(&lr.repo.work_path("target")) {
            let name = path.rsplit('/').next().unwrap();
            if name.starts_with("config-") && name.contains(".xml") {
                continue; // config files and their backups: serverconf secrets in plaintext, by design
            }
            let text = String::from_utf8_lossy(&entry.bytes);
            for kind in lr.kinds() {
                for (label, needle) in needles(kind) {
                    assert!(!text.contains(&needle), "LEAK after {what}: {label} in target/{path}");
                }
            }
        }
    };

    for format in ["text", "json", "markdown"] {
        lr.run(&format!("plan ({format})"), &["plan", "-e", "prod", "--out", "p.plan", "--format", format], b"", none)
            .assert_exit(0);
    }
    lr.run("plan --detailed-exitcode", &["plan", "-e", "prod", "--out", "p.plan", "--detailed-exitcode"], b"", none)
        .assert_exit(2);
    let out = lr.run("apply", &["apply", "p.plan"], b"", target);
    out.assert_exit(0).stdout_contains("2 of 2 containers done");
    check_target("apply");
    let log = std::fs::read_to_string(lr.repo.work_path("target/app1/.nlserver-standin.log")).unwrap();
    assert!(log.contains("-setimsjwtauth:") && log.contains("(sensitive)"), "the stand-in did not run:\n{log}");
    lr.run("plan (no changes)", &["plan", "-e", "prod", "--out", "q.plan", "--detailed-exitcode"], b"", none)
        .assert_exit(0);
    lr.run("apply (nothing to do)", &["apply", "q.plan"], b"", target).assert_exit(0);

    // A change, refused because a deployed file moved, then applied verbosely.
    let text = lr.repo.read(crate::leak::ENV_FILE);
    std::fs::write(
        lr.repo.path(crate::leak::ENV_FILE),
        text.replace("mta: { autoStart: true }", "mta: { autoStart: false }"),
    )
    .unwrap();
    lr.run("plan (a change)", &["plan", "-e", "prod", "--out", "r.plan"], b"", none).assert_exit(0);
    let app2 = lr.repo.work_path("target/app2/config-mkt_prod.xml");
    let saved = std::fs::read(&app2).unwrap();
    std::fs::write(&app2, [&saved[..], b"<!-- edited -->\n"].concat()).unwrap();
    lr.run("apply (refused)", &["apply", "r.plan"], b"", target)
        .assert_exit(1)
        .stderr_contains("changed since the plan");
    std::fs::write(&app2, &saved).unwrap();
    lr.run("-v apply", &["-v", "apply", "r.plan"], b"", target).assert_exit(0);
    check_target("-v apply");

    // Credential steps that fail, through a wrapper of the stand-in; and a nlserver that echoes its
    // arguments (the secret and the base64 key) when it fails.
    let wrap = |name: &str, body: &str| {
        let path = lr.repo.work_path(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    };
    let failing = wrap("failing-nlserver", &format!("NLSERVER_STANDIN_FAIL=setims exec {STANDIN} \"$@\""));
    let echoing = wrap("echoing-nlserver", "echo \"nlserver: cannot parse: $*\" >&2\nexit 4");
    for (label, nlserver) in
        [("apply (failing credential step)", failing), ("apply (nlserver echoing its argv)", echoing)]
    {
        let text = lr.repo.read(crate::leak::ENV_FILE);
        let current = text.lines().find(|l| l.starts_with("nlserver: ")).unwrap().to_string();
        std::fs::write(lr.repo.path(crate::leak::ENV_FILE), text.replace(&current, &format!("nlserver: {nlserver}")))
            .unwrap();
        // A rotated secret: the credential step runs again.
        std::fs::remove_dir_all(lr.repo.work_path("target/app1/.nlconf")).unwrap();
        lr.run("plan (credential step)", &["plan", "-e", "prod", "--out", "s.plan", "--detailed-exitcode"], b"", none)
            .assert_exit(2);
        let out = lr.run(label, &["apply", "s.plan"], b"", target);
        out.assert_exit(1).stdout_contains("app1 (mkt_prod): failed, nothing changed there: ");
        check_target(label);
    }
}

/// A secret apply wrote into a file stays masked in reviews of that file once it has left the YAML:
/// the state record lists where apply wrote secrets (`secret_attributes`).
#[test]
fn a_secret_removed_from_the_yaml_is_still_masked_where_apply_wrote_it() {
    const VALUE: &str = "written-once-plaintext-77";
    let site = Site::local();
    site.set_secret("instances.mkt_prod.serverconf.shared.dataStore.hosts", VALUE);
    site.deploy();
    let file = site.deployed("app1", "config-mkt_prod.xml");
    assert!(std::fs::read_to_string(&file).unwrap().contains(VALUE));
    assert_eq!(state(&site, "app1", "mkt_prod")["secret_attributes"], serde_json::json!(["shared/dataStore/@hosts"]));

    // The value leaves the YAML: plain text again.
    let text = site.repo.read(ENV_FILE);
    let start = text.find("hosts: !age |").unwrap();
    let end_marker = "-----END AGE ENCRYPTED FILE-----";
    let end = start + text[start..].find(end_marker).unwrap() + end_marker.len();
    std::fs::write(
        site.repo.path(ENV_FILE),
        format!("{}hosts: \"console.example.com*\"{}", &text[..start], &text[end..]),
    )
    .unwrap();
    let out = site.plan("p.plan", 2);
    out.stdout_contains("hosts=\"(sensitive, changed: old value)\"");
    let plan = std::fs::read_to_string(site.repo.work_path("p.plan")).unwrap();
    // A snapshot of the conf folders copied with their .nlconf/ state records masks alike; one
    // copied without them cannot know what apply wrote from a secret (the README says so).
    let snapshot = site.repo.work_path("snapshot");
    crate::harness::tool_in(
        site.repo.work_path("").as_path(),
        "cp",
        &["-a", &site.conf_root.display().to_string(), &snapshot.display().to_string()],
        b"",
    );
    let from_snapshot = site.run(&["diff", "-e", "prod", "--deployed", "snapshot"]).stdout;
    assert!(from_snapshot.contains("hosts=\"(sensitive, changed: old value)\""), "{from_snapshot}");
    for (what, shown) in [
        ("plan", out.stdout.as_str()),
        ("plan file", plan.as_str()),
        ("snapshot with its state records", from_snapshot.as_str()),
        ("json", &site.run(&["diff", "-e", "prod", "--format", "json"]).stdout),
        ("markdown", &site.run(&["diff", "-e", "prod", "--format", "markdown"]).stdout),
        ("without the key", &site.run_without_identity(&["diff", "-e", "prod"]).stdout),
    ] {
        assert!(!shown.contains(VALUE), "{what} shows the secret:\n{shown}");
    }
    // Once applied, nothing is written from a secret there any more.
    site.apply("p.plan");
    assert!(state(&site, "app1", "mkt_prod").get("secret_attributes").is_none());
    site.plan("p2.plan", 0);
}

/// `secret set --from-file` keeps a file's exact bytes: a client secret ending in a newline would
/// reach nlserver as is. plan refuses it, saying where and what to do, without showing it.
#[test]
fn a_client_secret_with_a_trailing_newline_is_refused() {
    let site = Site::local();
    std::fs::write(site.repo.work_path("secret.txt"), "p8e-secret-with-newline\n").unwrap();
    site.repo
        .run(&["secret", "set", "-e", "prod", "instances.mkt_prod.ims.clientSecret", "--from-file", "secret.txt"])
        .assert_exit(0);
    let out = site.run(&["plan", "-e", "prod", "--out", "q.plan"]);
    out.assert_exit(1)
        .stderr_contains("error: instances.mkt_prod.ims.clientSecret has surrounding whitespace or a control character")
        .stderr_contains("help: set it again without the newline");
    assert!(out.stderr.starts_with(&format!("{ENV_FILE}:")), "the error names the YAML file:\n{}", out.stderr);
    assert!(!out.stderr.contains("p8e-secret-with-newline"), "{}", out.stderr);
    assert!(!site.repo.work_path("q.plan").exists(), "a plan was written");
}
