//! The leak test (DESIGN §4: "Plaintext never appears in any output"), and its helper for every
//! later command (plan, apply, ...).
//!
//! `LeakRepo::new()` builds a repository whose secrets have known plaintexts, chosen to break naive
//! quoting and masking (quotes, `$`, `;`, spaces, `&`, `<`, newlines, a PEM RSA private key), placed
//! in the IMS block (`ims.clientSecret`, `ims.privateKey`, auth jwt on build 9370) and in serverconf
//! attributes, so that rendering carries them. `LeakRepo::run` runs a command with the key at hand
//! (`NLCONF_AGE_IDENTITY`) and asserts that no plaintext, nor its standard base64, nor its XML-escaped
//! form, nor any of its lines longer than 20 characters (every line of the PEM) appears in stdout,
//! stderr, or any file the command wrote or changed, except where `--reveal` output is allowed.
//!
//! ```ignore
//! let lr = LeakRepo::new().with_deployed();
//! lr.run("plan", &["plan", "-e", "prod", "--deployed", "deployed", "--out", "plan.json"], b"", &[]);
//! ```
//!
//! Run `cargo test --test integration leak -- --nocapture` to see the coverage matrix.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Mutex;

use base64::Engine;

use crate::harness::{Output, PROD_IDENTITY, PROD_RECIPIENTS, Repo, tool_in};
use crate::secrets::{
    OTHER_IDENTITY, OTHER_RECIPIENT, block_value, corrupted, files_under, replace_value, without_end_line,
};

/// A test-only RSA private key (PEM, PKCS#8) for the JWT credential; public in this repository.
pub const PEM: &str = include_str!("fixtures/jwt-private-key.test-only.pem");

pub const ENV_FILE: &str = "environments/prod/environment.yaml";

/// The kinds of secret values, each a column of the coverage matrix.
pub const QUOTES: &str = "quotes";
pub const DOLLAR: &str = "dollar";
pub const SEMICOLON: &str = "semicolon+space";
pub const AMP_LT: &str = "amp+lt";
pub const NEWLINES: &str = "newlines";
pub const PEM_KEY: &str = "pem";
pub const CLIENT_SECRET: &str = "ims-secret";
/// Secrets that only the deployed files hold (the `diff` rows).
pub const DEPLOYED_OLD: &str = "deployed-old";
pub const NLSERVER: &str = "nlserver-ct";
/// A value given to `secret set` on stdin or in a file.
pub const SET_VALUE: &str = "set-value";

/// Every column, in order.
pub const KINDS: &[&str] =
    &[QUOTES, DOLLAR, SEMICOLON, AMP_LT, NEWLINES, PEM_KEY, CLIENT_SECRET, DEPLOYED_OLD, NLSERVER, SET_VALUE];

/// The known plaintext of each kind (the PEM is `PEM`).
pub fn plaintext(kind: &str) -> String {
    match kind {
        QUOTES => "it's \"double\" and 'single' quoted".into(),
        DOLLAR => "pa$$w0rd $(XTK_INSTALL_DIR) ${HOME} $1 `id`".into(),
        SEMICOLON => "first part; rm -rf / ; last part".into(),
        AMP_LT => "fish & chips <b>bold</b> a&b<c &amp;".into(),
        NEWLINES => "first line of the secret\nsecond line, still secret\n\tthird, tabbed".into(),
        // As `secret set` stores it from stdin: without the file's final newline.
        PEM_KEY => PEM.trim_end().into(),
        // No `/`: it is the field separator of `nlserver config -setimsjwtauth`.
        CLIENT_SECRET => "p8e-Cl1ent'Secret\"$x; & <y> z".into(),
        DEPLOYED_OLD => "old-deployed-proxy-password-from-2019".into(),
        NLSERVER => "@QmluYXJ5U2VjcmV0V3JpdHRlbkJ5TmxzZXJ2ZXJXaXRoSXRzT3duS2V5MDEyMzQ1Njc4OQ==".into(),
        SET_VALUE => "rotated in this change: \"new\" & <improved>; $ok".into(),
        other => panic!("unknown kind {other}"),
    }
}

/// Where each secret of the environment is, and which kind it holds. The IMS ones reach the
/// nlserver command (later issues); the serverconf ones reach the rendered files.
pub const PLACES: &[(&str, &str)] = &[
    ("instances.mkt_prod.ims.clientSecret", CLIENT_SECRET),
    ("instances.mkt_prod.ims.privateKey", PEM_KEY),
    ("instances.mkt_prod.serverconf.shared.authentication.xtk.internalPassword", CLIENT_SECRET),
    ("instances.mkt_prod.serverconf.shared.proxyConfig.proxyHTTP.password", QUOTES),
    ("instances.mkt_prod.serverconf.shared.proxyConfig.proxyHTTPS.password", PEM_KEY),
    ("instances.mkt_prod.serverconf.shared.dataStore.dataSource.default.dbcnx.password", DOLLAR),
    ("instances.mkt_prod.containerOverrides.app2.serverconf.shared.authentication.xtk.internalPassword", SEMICOLON),
    ("instances.mkt_prod.containerOverrides.app2.serverconf.shared.proxyConfig.proxyHTTP.password", AMP_LT),
    ("instances.mkt_prod.containerOverrides.app2.serverconf.shared.proxyConfig.proxyHTTPS.password", NEWLINES),
];

const ENVIRONMENT: &str = "\
# The leak test's environment: every secret has a known plaintext (tests/integration/leak.rs).
campaign:
  build: 9370
target:
  kind: ssh
  user: neolane
  conf_dir: /usr/local/neolane/nl6/conf
instances:
  mkt_prod:
    containers:
      app1: { host: app1.prod.example.com }
      app2: { host: app2.prod.example.com }
    serverconf:
      shared:
        dataStore:
          hosts: \"console.example.com*\"
          dataSource:
            default:
              dbcnx:
                provider: PostgreSQL
                server: db1.prod.example.com
                login: \"campaign:mkt_prod\"
      mta: { autoStart: true }
      pipelined: { autoStart: true, authType: imsJwtToken }
    ims:
      auth: jwt
      orgId: 0123456789ABCDEF01234567@AdobeOrg
      clientId: e053e1a87cf74c68a6ec8e71d4a82662
      technicalAccountId: 6657031C5C095BB40A4B0123@techacct.adobe.com
    containerOverrides:
      app2:
        serverconf:
          mta: { autoStart: false }
";

fn xml_escaped(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// What must never be seen of a plaintext: itself, its standard base64, its XML-escaped form, and
/// each of its lines longer than 20 characters. (label, needle)
pub fn needles(kind: &str) -> Vec<(String, String)> {
    let p = plaintext(kind);
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = vec![
        (format!("{kind} plaintext"), p.clone()),
        (format!("{kind} base64"), b64.encode(p.as_bytes())),
        (format!("{kind} XML-escaped"), xml_escaped(&p)),
    ];
    // The PEM file as written (with its final newline), in base64 on one line: nlserver's
    // -setimsjwtauth argument.
    if kind == PEM_KEY {
        out.push((format!("{kind} file base64"), b64.encode(PEM.as_bytes())));
    }
    for (i, line) in p.lines().enumerate() {
        if line.trim().len() > 20 {
            out.push((format!("{kind} line {}", i + 1), line.trim().to_string()));
        }
    }
    out
}

/// Where plaintext may appear: nowhere, or in the files `render --reveal` writes under these folders
/// (of the work folder), or on stdout for `render --reveal` of one file.
#[derive(Clone, Copy, Default)]
pub struct Allowed<'a> {
    pub dirs: &'a [&'a str],
    pub stdout: bool,
}

/// A repository with known secrets, the files around it, and the coverage so far.
pub struct LeakRepo {
    pub repo: Repo,
    /// Kinds the test asserts about, beyond those in the YAML (deployed, set values).
    extra: BTreeSet<&'static str>,
}

/// Which command checked which kinds (for the matrix), across tests.
static COVERAGE: Mutex<BTreeMap<String, BTreeMap<&'static str, char>>> = Mutex::new(BTreeMap::new());

impl LeakRepo {
    /// The repository: `PLACES` each set with `nlconf secret set`, encrypted to the prod test key.
    pub fn new() -> LeakRepo {
        let mut repo = Repo::new().raw(ENV_FILE, ENVIRONMENT).raw("environments/prod/recipients", PROD_RECIPIENTS);
        for (path, kind) in PLACES {
            repo = repo.set_secret("prod", path, &plaintext(kind));
        }
        LeakRepo { repo, extra: BTreeSet::new() }
    }

    /// Adds `deployed/app1` and `deployed/app2` (for `--deployed deployed`): the deployed files hold
    /// plaintexts (the proxy passwords, one of them an old one) and nlserver ciphertexts in
    /// `shared/ims`, `dbcnx/@password`, `pipelined/@authPrivateKey`,
    /// `web/redirection/@trackingPassword` and an attribute the schema does not know.
    pub fn with_deployed(mut self) -> LeakRepo {
        let x = |k: &str| xml_escaped(&plaintext(k));
        let app1 = format!(
            "<?xml version='1.0'?>
<serverconf>
  <shared>
    <authentication>
      <xtk internalPassword=\"{cs}\"/>
    </authentication>
    <dataStore hosts=\"console.example.com*\">
      <dataSource name=\"default\">
        <dbcnx encrypted=\"1\" login=\"campaign:mkt_prod\" password=\"{nl}\" provider=\"PostgreSQL\" server=\"db1.prod.example.com\"/>
      </dataSource>
    </dataStore>
    <ims authIMSTAClientId=\"e053e1a87cf74c68a6ec8e71d4a82662\" authIMSTAClientSecret=\"{nl}\" authIMSTAId=\"6657031C5C095BB40A4B0123@techacct.adobe.com\" authIMSTAPrivateKey=\"{nl}\"/>
    <proxyConfig>
      <proxyHTTP password=\"{quotes}\"/>
      <proxyHTTPS password=\"{old}\"/>
    </proxyConfig>
  </shared>
  <mta autoStart=\"true\" undocumentedKey=\"{nl}\"/>
  <pipelined authType=\"imsJwtToken\" authPrivateKey=\"{nl}\" autoStart=\"true\"/>
  <web>
    <redirection trackingPassword=\"{nl}\"/>
  </web>
</serverconf>
",
            cs = x(CLIENT_SECRET),
            nl = plaintext(NLSERVER),
            quotes = x(QUOTES),
            old = x(DEPLOYED_OLD),
        );
        // app2 is formatted differently and holds its own (old and current) plaintexts.
        let app2 = format!(
            "<?xml version=\"1.0\"?>\n<serverconf><shared><proxyConfig><proxyHTTPS password='{nlines}'></proxyHTTPS><proxyHTTP password='{old}'/></proxyConfig>\n<ims authIMSTAClientSecret='{nl}'/></shared><mta autoStart='false'/></serverconf>\n",
            nlines = x(NEWLINES),
            old = x(DEPLOYED_OLD),
            nl = plaintext(NLSERVER),
        );
        self.repo = self
            .repo
            .raw("../deployed/app1/config-mkt_prod.xml", app1)
            .raw("../deployed/app2/config-mkt_prod.xml", app2);
        self.extra.extend([DEPLOYED_OLD, NLSERVER]);
        self
    }

    /// Also asserts about `kind` (a value the test hands to nlconf itself).
    pub fn forbid(&mut self, kind: &'static str) {
        self.extra.insert(kind);
    }

    /// The kinds at stake: every kind in the YAML, and the extra ones.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut k: BTreeSet<&'static str> = PLACES.iter().map(|(_, k)| *k).collect();
        k.extend(&self.extra);
        KINDS.iter().copied().filter(|x| k.contains(x)).collect()
    }

    /// Runs `nlconf ARGS` with the prod key at hand (`NLCONF_AGE_IDENTITY`; a `-i` in ARGS wins)
    /// and `stdin`, and asserts that nothing of any secret leaked. `label` is the matrix row.
    #[track_caller]
    pub fn run(&self, label: &str, args: &[&str], stdin: &[u8], allowed: Allowed) -> Output {
        let work = self.repo.work_path("");
        let tmp = self.repo.work_path("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let before = files_under(&work);
        let out = self.repo.run_with(
            args,
            stdin,
            &[("NLCONF_AGE_IDENTITY", PROD_IDENTITY), ("TMPDIR", &tmp.to_string_lossy())],
        );
        out.assert_no_panic();
        let after = files_under(&work);
        let mut places: Vec<(String, String)> = Vec::new();
        if !allowed.stdout {
            places.push(("stdout".into(), out.stdout.clone()));
        }
        places.push(("stderr".into(), out.stderr.clone()));
        for (path, bytes) in &after {
            if before.get(path) == Some(bytes) || allowed.dirs.iter().any(|d| path.starts_with(&format!("{d}/"))) {
                continue;
            }
            places.push((format!("written file {path}"), String::from_utf8_lossy(bytes).into_owned()));
        }
        let kinds = self.kinds();
        for kind in &kinds {
            for (what, needle) in needles(kind) {
                for (place, text) in &places {
                    assert!(
                        !text.contains(&needle),
                        "LEAK: {what} appears in {place} of `nlconf {}`\n--- exit {}\n--- stdout\n{}--- stderr\n{}",
                        args.join(" "),
                        out.status,
                        out.stdout,
                        out.stderr
                    );
                }
            }
        }
        let mut cov = COVERAGE.lock().unwrap_or_else(|e| e.into_inner());
        let row = cov.entry(label.to_string()).or_default();
        for kind in kinds {
            row.insert(kind, if allowed.dirs.is_empty() && !allowed.stdout { '✓' } else { 'R' });
        }
        out
    }

    /// Reads a file of the work folder (`deployed/...`, `out/...`).
    pub fn work_file(&self, rel: &str) -> String {
        std::fs::read_to_string(self.repo.work_path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }
}

/// The coverage so far, as a table: rows are commands, columns secret kinds; `✓` checked absent
/// from stdout, stderr and written files; `R` checked absent outside the `--reveal` output.
pub fn coverage_matrix() -> String {
    let cov = COVERAGE.lock().unwrap_or_else(|e| e.into_inner());
    let width = cov.keys().map(|k| k.chars().count()).max().unwrap_or(0).max(7);
    let mut out = format!("{:width$} |", "command");
    for k in KINDS {
        out.push_str(&format!(" {k} |"));
    }
    out.push('\n');
    for (row, cells) in cov.iter() {
        out.push_str(&format!("{row:width$} |"));
        for k in KINDS {
            let c = cells.get(k).copied().unwrap_or('·');
            let pad = k.chars().count();
            out.push_str(&format!(" {c:^pad$} |"));
        }
        out.push('\n');
    }
    out
}

// The test ---------------------------------------------------------------------------------------------

/// Every command, on its own repository, in parallel; then the coverage matrix (`--nocapture`).
#[test]
fn no_plaintext_leaks_from_any_command() {
    let groups: [(&str, fn()); 6] = [
        (
            "render --reveal (positive control)",
            leak_positive_control_render_reveal_writes_every_rendered_plaintext_into_its_files_only,
        ),
        ("validate, render, explain", leak_validate_render_explain),
        ("diff --deployed", leak_diff_against_deployed_files_in_every_format),
        ("diff --base", leak_diff_against_a_git_revision),
        ("secret set, check, rekey", leak_secret_set_check_rekey),
        ("error paths", leak_error_paths_wrong_key_corrupted_truncated_moved),
    ];
    let failed: Vec<&str> = std::thread::scope(|s| {
        let handles: Vec<_> = groups.iter().map(|(name, f)| (*name, s.spawn(f))).collect();
        handles.into_iter().filter_map(|(name, h)| h.join().is_err().then_some(name)).collect()
    });
    eprintln!(
        "Leak-test coverage (rows: commands run with the prod key at hand; columns: secret kinds)\n{}",
        coverage_matrix()
    );
    assert!(failed.is_empty(), "leak test groups failed (see their messages above): {failed:?}");
}

/// The plaintexts really are in the repository and decrypt with the key: `render --reveal` writes
/// each rendered one (XML-escaped) into the files, and nowhere else.
fn leak_positive_control_render_reveal_writes_every_rendered_plaintext_into_its_files_only() {
    let lr = LeakRepo::new();
    lr.run(
        "render --reveal --out",
        &["render", "-e", "prod", "--reveal", "--out", "revealed"],
        b"",
        Allowed { dirs: &["revealed"], stdout: false },
    )
    .assert_exit(0);
    let app1 = lr.work_file("revealed/app1/config-mkt_prod.xml");
    let app2 = lr.work_file("revealed/app2/config-mkt_prod.xml");
    // The default data source's password is the database login step's (DESIGN §9): nlserver
    // writes it, encrypted; it is in no rendered file.
    let credential = |p: &str| p.ends_with(".dataSource.default.dbcnx.password");
    for (path, kind) in PLACES.iter().filter(|(p, _)| p.contains(".serverconf.") && !credential(p)) {
        let file = if path.contains(".app2.") { &app2 } else { &app1 };
        assert!(file.contains(&xml_escaped(&plaintext(kind))), "{kind} ({path}) is not in the revealed file:\n{file}");
    }
    for file in [&app1, &app2] {
        assert!(!file.contains(&xml_escaped(&plaintext(DOLLAR))), "the database password was rendered:\n{file}");
    }
    lr.run(
        "render --reveal (one file)",
        &["render", "-e", "prod", "--reveal", "--instance", "mkt_prod", "--container", "app2"],
        b"",
        Allowed { dirs: &[], stdout: true },
    )
    .assert_exit(0)
    .stdout_contains(&xml_escaped(&plaintext(NEWLINES)));
}

fn leak_validate_render_explain() {
    let lr = LeakRepo::new();
    let none = Allowed::default();
    lr.run("validate", &["validate"], b"", none).assert_exit(0);
    lr.run("render (listing)", &["render", "-e", "prod"], b"", none).assert_exit(0);
    for c in ["app1", "app2"] {
        let out = lr.run(
            "render (one file)",
            &["render", "-e", "prod", "--instance", "mkt_prod", "--container", c],
            b"",
            none,
        );
        out.assert_exit(0).stdout_contains("password=\"(sensitive)\"");
    }
    lr.run("render --out", &["render", "-e", "prod", "--out", "out"], b"", none).assert_exit(0);
    lr.run("explain", &["explain", "-e", "prod", "--instance", "mkt_prod"], b"", none)
        .assert_exit(0)
        .stdout_contains("ims.privateKey = (sensitive)");
    for c in ["app1", "app2"] {
        lr.run(
            "explain --container",
            &["explain", "-e", "prod", "--instance", "mkt_prod", "--container", c],
            b"",
            none,
        )
        .assert_exit(0);
    }
    lr.run("explain PATH", &["explain", "-e", "prod", "--instance", "mkt_prod", "ims"], b"", none).assert_exit(0);
    lr.run("-v validate", &["-v", "validate"], b"", none).assert_exit(0);
}

fn leak_diff_against_deployed_files_in_every_format() {
    let lr = LeakRepo::new().with_deployed();
    let none = Allowed::default();
    for format in ["text", "json", "markdown"] {
        for extra in [&[][..], &["--semantic"], &["-U", "0"], &["--detailed-exitcode"]] {
            let mut args = vec!["diff", "-e", "prod", "--deployed", "deployed", "--format", format];
            args.extend(extra);
            let out = lr.run(&format!("diff --deployed ({format})"), &args, b"", none);
            assert!(out.status == 0 || out.status == 2, "{}", out.stderr);
        }
    }
    lr.run("-v diff --deployed (text)", &["-v", "diff", "-e", "prod", "--deployed", "deployed"], b"", none);
    // The review says what changed without saying what it was.
    let out = lr.run("diff --deployed (text)", &["diff", "-e", "prod", "--deployed", "deployed"], b"", none);
    out.assert_exit(0).stdout_contains("(sensitive, unchanged)").stdout_contains("(sensitive, changed: old value)");
    // Without the key, everything is masked too.
    let out = lr.repo.run(&["diff", "-e", "prod", "--deployed", "deployed"]);
    for kind in lr.kinds() {
        for (what, needle) in needles(kind) {
            assert!(!out.stdout.contains(&needle) && !out.stderr.contains(&needle), "LEAK without a key: {what}");
        }
    }
}

fn git(dir: &Path, args: &[&str]) {
    let mut all =
        vec!["-c", "user.name=nlconf tests", "-c", "user.email=tests@example.com", "-c", "commit.gpgsign=false"];
    all.extend(args);
    tool_in(dir, "git", &all, b"");
}

fn leak_diff_against_a_git_revision() {
    if !crate::harness::have_tool("git") {
        return;
    }
    let mut lr = LeakRepo::new();
    let root = lr.repo.root().to_path_buf();
    git(&root, &["init", "-q", "-b", "main"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "base"]);
    // The change under review rotates the proxy password.
    lr.forbid(SET_VALUE);
    lr.run(
        "secret set (stdin)",
        &["secret", "set", "-e", "prod", "instances.mkt_prod.serverconf.shared.proxyConfig.proxyHTTP.password"],
        plaintext(SET_VALUE).as_bytes(),
        Allowed::default(),
    )
    .assert_exit(0);
    let outs: Vec<Output> = ["text", "json", "markdown"]
        .iter()
        .map(|format| {
            lr.run(
                &format!("diff --base ({format})"),
                &["diff", "-e", "prod", "--base", "HEAD", "--format", format, "--detailed-exitcode"],
                b"",
                Allowed::default(),
            )
        })
        .collect();
    // Checked after every format ran (a wrong exit code is not a leak, but it is a bug).
    for out in outs {
        out.assert_exit(2);
    }
}

fn leak_secret_set_check_rekey() {
    let mut lr = LeakRepo::new();
    lr.forbid(SET_VALUE);
    let none = Allowed::default();
    lr.run("secret check", &["secret", "check"], b"", none).assert_exit(0);
    lr.run("-v secret check", &["-v", "secret", "check"], b"", none).assert_exit(0);
    lr.run(
        "secret set (stdin)",
        &["secret", "set", "-e", "prod", "instances.mkt_prod.ims.clientSecret"],
        plaintext(SET_VALUE).as_bytes(),
        none,
    )
    .assert_exit(0);
    std::fs::write(lr.repo.work_path("new-key.pem"), PEM).unwrap();
    lr.run(
        "secret set --from-file",
        &["secret", "set", "-e", "prod", "instances.mkt_prod.ims.privateKey", "--from-file", "new-key.pem"],
        b"",
        none,
    )
    .assert_exit(0);
    // A second person joins: rekey re-encrypts every value (decrypting each with the key at hand).
    let recipients = format!("{PROD_RECIPIENTS}{OTHER_RECIPIENT}\n");
    std::fs::write(lr.repo.path("environments/prod/recipients"), recipients).unwrap();
    lr.run("secret check", &["secret", "check"], b"", none).assert_exit(1);
    lr.run("secret rekey --dry-run", &["secret", "rekey", "--dry-run"], b"", none).assert_exit(0);
    lr.run("secret rekey", &["secret", "rekey"], b"", none).assert_exit(0);
    lr.run("secret check", &["-i", OTHER_IDENTITY, "secret", "check"], b"", none).assert_exit(0);
}

/// The commands that decrypt, on a repository with one bad secret: each fails, and neither the
/// bad secret nor any good one (decrypted in the same run) leaks.
fn error_paths(label: &str, lr: &LeakRepo, identity: Option<&str>, container: &'static str) {
    let none = Allowed::default();
    let with = |args: &[&'static str]| -> Vec<String> {
        let mut all: Vec<String> = identity.map(|i| vec!["-i".to_string(), i.to_string()]).unwrap_or_default();
        all.extend(args.iter().map(|s| s.to_string()));
        all
    };
    let cases: [(&str, &[&str]); 4] = [
        ("render --reveal --out", &["render", "-e", "prod", "--reveal", "--out", "revealed"]),
        (
            "render --reveal (one file)",
            &["render", "-e", "prod", "--reveal", "--instance", "mkt_prod", "--container", container],
        ),
        ("secret check", &["secret", "check"]),
        ("diff --deployed (json)", &["diff", "-e", "prod", "--deployed", "deployed", "--format", "json"]),
    ];
    for (name, args) in cases {
        let all = with(args);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let out = lr.run(&format!("{label}: {name}"), &refs, b"", none);
        // diff may compare by ciphertext instead of failing; the others must fail.
        if args[0] == "diff" {
            assert!(out.status == 1 || out.status == 0, "{}", out.stderr);
        } else {
            out.assert_exit(1);
        }
    }
    // rekey with work to do (a recipient was added): it must decrypt, and fails.
    let recipients = format!("{PROD_RECIPIENTS}{OTHER_RECIPIENT}\n");
    std::fs::write(lr.repo.path("environments/prod/recipients"), recipients).unwrap();
    let all = with(&["secret", "rekey"]);
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    lr.run(&format!("{label}: secret rekey"), &refs, b"", none).assert_exit(1);
    assert!(!lr.repo.work_path("revealed").exists(), "render --reveal wrote files although a secret failed");
}

fn leak_error_paths_wrong_key_corrupted_truncated_moved() {
    // The wrong key.
    let lr = LeakRepo::new().with_deployed();
    error_paths("wrong key", &lr, Some(OTHER_IDENTITY), "app1");

    // A corrupted ciphertext (the PEM in proxyHTTPS), the others fine.
    let lr = LeakRepo::new().with_deployed();
    let text = lr.repo.read(ENV_FILE);
    let damaged = replace_value(
        &text,
        "password",
        line_after(&text, "proxyHTTPS:"),
        &corrupted(&block_value(&text, "password", line_after(&text, "proxyHTTPS:"))),
    );
    std::fs::write(lr.repo.path(ENV_FILE), damaged).unwrap();
    error_paths("corrupted", &lr, None, "app1");

    // A truncated armor (the newline secret of app2).
    let lr = LeakRepo::new().with_deployed();
    let text = lr.repo.read(ENV_FILE);
    let at = line_after(&text, "app2:");
    let at = line_after_from(&text, "proxyHTTPS:", at);
    let damaged = replace_value(&text, "password", at, &without_end_line(&block_value(&text, "password", at)));
    std::fs::write(lr.repo.path(ENV_FILE), damaged).unwrap();
    error_paths("truncated", &lr, None, "app2");
    lr.run("truncated: validate", &["validate"], b"", Allowed::default()).assert_exit(1);

    // A moved ciphertext: the PEM private key's copied over the proxy password.
    let lr = LeakRepo::new().with_deployed();
    let text = lr.repo.read(ENV_FILE);
    let pem = block_value(&text, "privateKey", 0);
    let moved = replace_value(&text, "password", line_after(&text, "proxyHTTP:"), &pem);
    std::fs::write(lr.repo.path(ENV_FILE), moved).unwrap();
    error_paths("moved", &lr, None, "app1");
    lr.run("moved: validate", &["validate"], b"", Allowed::default()).assert_exit(1);
}

/// The 0-based line of the first line containing `needle`.
fn line_after(text: &str, needle: &str) -> usize {
    line_after_from(text, needle, 0)
}

fn line_after_from(text: &str, needle: &str, from: usize) -> usize {
    text.lines()
        .enumerate()
        .skip(from)
        .find(|(_, l)| l.contains(needle))
        .map(|(i, _)| i)
        .unwrap_or_else(|| panic!("{needle}"))
}
