//! Secrets (DESIGN §4): `secret set | rekey | check`, identities, `render --reveal`, interoperability
//! with the real `age` and `ssh-keygen` tools, and bad ciphertexts, keys and recipients.
//!
//! Every refusal names the file and line, exits 1 and writes nothing: each bad-input test compares
//! every byte of the repository (and the output folder) before and after.

use std::collections::BTreeMap;
use std::path::Path;

use crate::harness::{OVERRIDE, PROD_FILE, PROD_IDENTITY, Repo, STAGE, have_tool};

/// A key that is not among the recipients of any fixture: the wrong key.
pub const OTHER_IDENTITY: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/integration/fixtures/other-identity.agekey");
/// The recipient (public key) of `OTHER_IDENTITY`.
pub const OTHER_RECIPIENT: &str = "age1m9s03wdsj64eaz3f98kt23wjnxqky4hydhermltdcus7xgkpvqdske78y2";
/// The digest of `fixtures/prod-recipients` as nlconf writes it in binding headers.
const PROD_DIGEST: &str = "0cb32372d1c32f25";

const PROXY: &str = "instances.mkt_prod.serverconf.shared.proxyConfig.proxyHTTP.password";
const CLIENT_SECRET: &str = "instances.mkt_prod.ims.clientSecret";

/// A value encrypted by hand (`age -a -r <the recipient in fixtures/prod-recipients>`), so without
/// nlconf's binding header: accepted, with a warning until `secret rekey` binds it.
pub const HAND_ENCRYPTED: &str = "\
-----BEGIN AGE ENCRYPTED FILE-----
YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBxRzhBL21SK0pFQXZUOHBB
RW40ckxYVFVSMjFibzlNT3ZOTWVEUHF1a0ZRClRyRUp5UWR3R1BHVDVOMnZRUUNQ
cHZVRHVWdjFYN3JxamZ4bUdvMmpRNVkKLS0tIDQ5Qk5NVEZDaG1ZZUVCaVdrM2Np
VVJaOEdHd1FhY3UrOEIzdmZiQlB2SGMK7scy1hH21PyBDRDE/5nPYfTCQyWVCdvm
FL5MEqzj4/djp7HeuBr4dU/dHN0=
-----END AGE ENCRYPTED FILE-----
";

// Helpers ----------------------------------------------------------------------------------------------

/// Every file under `dir` with its bytes (symbolic links not followed), to prove nothing was written.
pub fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let path = e.path();
            let rel = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            match e.file_type() {
                Ok(t) if t.is_dir() => {
                    out.insert(format!("{rel}/"), Vec::new());
                    todo.push(path);
                }
                Ok(t) if t.is_file() => {
                    out.insert(rel, std::fs::read(&path).unwrap_or_default());
                }
                _ => {
                    out.insert(rel, Vec::new());
                }
            }
        }
    }
    out
}

/// `text` indented by `spaces`, line by line, to go under a YAML block scalar.
pub fn indented(text: &str, spaces: usize) -> String {
    text.lines().map(|l| format!("{}{l}\n", " ".repeat(spaces))).collect()
}

/// The line (0-based) of the first `KEY: !age` of `text` at or after line `from`, and the
/// indentation of that line.
fn key_line(text: &str, key: &str, from: usize) -> (usize, usize) {
    let lines: Vec<&str> = text.lines().collect();
    let i = (from..lines.len())
        .find(|&i| {
            let t = lines[i].trim_start();
            t.starts_with(&format!("{key}: !age")) || t.starts_with(&format!("{key}: '!age"))
        })
        .unwrap_or_else(|| panic!("no `{key}: !age` in\n{text}"));
    (i, lines[i].len() - lines[i].trim_start().len())
}

/// The 0-based lines of the block scalar under the `KEY: !age |` found at or after line `from`.
fn block_range(text: &str, key: &str, from: usize) -> std::ops::Range<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let (k, indent) = key_line(text, key, from);
    let mut end = k + 1;
    while end < lines.len()
        && (lines[end].trim().is_empty() || lines[end].len() - lines[end].trim_start().len() > indent)
    {
        end += 1;
    }
    k + 1..end
}

/// The text of the block scalar under `KEY: !age |` (the first at or after line `from`), dedented.
pub fn block_value(text: &str, key: &str, from: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[block_range(text, key, from)].iter().map(|l| format!("{}\n", l.trim())).collect()
}

/// `text` with the block scalar under `KEY: !age |` replaced by `<value>`: what must stay byte for
/// byte the same when nlconf writes that value.
fn outside_value(text: &str, key: &str, from: usize) -> String {
    let range = block_range(text, key, from);
    let mut out = String::new();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if range.contains(&i) {
            if i == range.start {
                out.push_str("<value>\n");
            }
        } else {
            out.push_str(line);
        }
    }
    out
}

/// `text` with the block scalar under `KEY: !age |` replaced by `value` (re-indented).
pub fn replace_value(text: &str, key: &str, from: usize, value: &str) -> String {
    let range = block_range(text, key, from);
    let (_, indent) = key_line(text, key, from);
    let mut out = String::new();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if range.contains(&i) {
            if i == range.start {
                out.push_str(&indented(value, indent + 2));
            }
        } else {
            out.push_str(line);
        }
    }
    out
}

/// The armor without nlconf's header line: what `age -d` reads.
pub fn armor_only(value: &str) -> String {
    value.lines().filter(|l| !l.starts_with("nlconf:v1 ")).map(|l| format!("{l}\n")).collect()
}

/// The ciphertext with one base64 character flipped in the middle of the armor (the MAC or the
/// payload then fails authentication).
pub fn corrupted(value: &str) -> String {
    let lines: Vec<&str> = value.lines().collect();
    let begin = lines.iter().position(|l| l.starts_with("-----BEGIN")).expect("BEGIN line");
    let end = lines.iter().position(|l| l.starts_with("-----END")).expect("END line");
    // The middle line of the full (64-column) base64 lines.
    let full: Vec<usize> = (begin + 1..end).filter(|&i| lines[i].len() == 64).collect();
    let target = full[full.len() / 2];
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        if i == target {
            let mut bytes = l.as_bytes().to_vec();
            let m = bytes.len() / 2;
            bytes[m] = if bytes[m] == b'A' { b'B' } else { b'A' };
            out.push_str(std::str::from_utf8(&bytes).unwrap());
        } else {
            out.push_str(l);
        }
        out.push('\n');
    }
    out
}

/// The ciphertext without its END line.
pub fn without_end_line(value: &str) -> String {
    value.lines().filter(|l| !l.starts_with("-----END")).map(|l| format!("{l}\n")).collect()
}

/// The ciphertext with two base64 lines in the middle dropped.
pub fn without_middle_lines(value: &str) -> String {
    let lines: Vec<&str> = value.lines().collect();
    let begin = lines.iter().position(|l| l.starts_with("-----BEGIN")).unwrap();
    let end = lines.iter().position(|l| l.starts_with("-----END")).unwrap();
    let mid = (begin + end) / 2;
    lines.iter().enumerate().filter(|(i, _)| *i != mid && *i != mid + 1).map(|(_, l)| format!("{l}\n")).collect()
}

/// Some error line of stderr is `FILE:LINE:...: error: ...` with LINE (1-based) in `lines`.
#[track_caller]
pub fn assert_error_at(stderr: &str, file: &str, lines: std::ops::RangeInclusive<usize>) {
    let found = stderr.lines().any(|l| {
        let Some(rest) = l.strip_prefix(file).and_then(|r| r.strip_prefix(':')) else { return false };
        let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
        n.parse::<usize>().is_ok_and(|n| lines.contains(&n)) && l.contains(": error: ")
    });
    assert!(found, "no error at {file}:{lines:?} in stderr:\n{stderr}");
}

/// The production environment with a proxy password set by `secret set` (rendered into the files,
/// unlike the IMS credentials).
fn prod_with_proxy(value: &str) -> Repo {
    Repo::with_prod().set_secret("prod", PROXY, value)
}

/// `render --reveal` of app1 with the production key: the file as ACC would read it.
#[track_caller]
fn revealed_app1(repo: &Repo) -> String {
    let out = repo.run(&[
        "-i",
        PROD_IDENTITY,
        "render",
        "-e",
        "prod",
        "--reveal",
        "--instance",
        "mkt_prod",
        "--container",
        "app1",
    ]);
    out.assert_exit(0);
    out.stdout.clone()
}

/// The value of `proxyHTTP/@password` in a rendered file, as written (escaped).
fn proxy_attr(xml: &str) -> &str {
    let element = xml.find("<proxyHTTP ").expect("a proxyHTTP element");
    let element = &xml[element..element + xml[element..].find('>').unwrap()];
    let at = element.find(" password=\"").expect("a proxyHTTP password") + " password=\"".len();
    &element[at..at + element[at..].find('"').unwrap()]
}

/// Line number (1-based) of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle:?} not in\n{text}")) + 1
}

// secret set ---------------------------------------------------------------------------------------------

/// A file with comments, blank lines, quoted and flow values around an existing secret.
const COMMENTED: &str = "\
# Proxy settings for prod (ticket OPS-1234).   

instances:
  mkt_prod:   # the marketing instance
    serverconf:
      shared:
        proxyConfig:
          # The corporate proxy; the password rotates every 90 days.
          proxyHTTP:
            address: \"proxy.example.com\"   # quoted on purpose
            port: 3128
            password: !age |
              -----BEGIN AGE ENCRYPTED FILE-----
              YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBxRzhBL21SK0pFQXZUOHBB
              RW40ckxYVFVSMjFibzlNT3ZOTWVEUHF1a0ZRClRyRUp5UWR3R1BHVDVOMnZRUUNQ
              cHZVRHVWdjFYN3JxamZ4bUdvMmpRNVkKLS0tIDQ5Qk5NVEZDaG1ZZUVCaVdrM2Np
              VVJaOEdHd1FhY3UrOEIzdmZiQlB2SGMK7scy1hH21PyBDRDE/5nPYfTCQyWVCdvm
              FL5MEqzj4/djp7HeuBr4dU/dHN0=
              -----END AGE ENCRYPTED FILE-----
            login: 'svc-campaign'  # after the secret
          proxyHTTPS: { address: proxy.example.com, port: 3129 }

# The end, after a blank line.
";

#[test]
fn set_from_stdin_replaces_only_the_value_keeping_every_other_byte() {
    let repo = Repo::with_prod().raw(OVERRIDE, COMMENTED);
    let before_override = repo.read(OVERRIDE);
    let before_prod = repo.read(PROD_FILE);
    repo.run_with(&["secret", "set", "-e", "prod", PROXY], b"rotated 'pass' \"word\" $HOME; & <x>\n", &[])
        .assert_exit(0)
        .stdout_is(
            "
            encrypted instances.mkt_prod.serverconf.shared.proxyConfig.proxyHTTP.password to 1 recipient in environments/prod/override.yaml
            ",
        );
    let after = repo.read(OVERRIDE);
    assert_eq!(outside_value(&after, "password", 0), outside_value(&before_override, "password", 0));
    assert_ne!(after, before_override);
    assert_eq!(repo.read(PROD_FILE), before_prod, "the other file of the environment changed");
    let value = block_value(&after, "password", 0);
    assert!(
        value.starts_with(&format!(
            "nlconf:v1 env=prod path={PROXY} recipients={PROD_DIGEST}\n-----BEGIN AGE ENCRYPTED FILE-----\n"
        )),
        "{value}"
    );
    // One trailing newline from stdin is not part of the value; quotes, $, ;, & and < are.
    assert_eq!(proxy_attr(&revealed_app1(&repo)), "rotated &apos;pass&apos; &quot;word&quot; $HOME; &amp; &lt;x&gt;");
    repo.run(&["-i", PROD_IDENTITY, "secret", "check"]).assert_exit(0).stderr_is("ok: prod (2 secrets)\n");
}

#[test]
fn set_from_a_file_takes_its_exact_bytes() {
    let repo = Repo::with_prod().raw(OVERRIDE, COMMENTED).raw("../value.txt", "line one\nline two\n");
    let before = repo.read(OVERRIDE);
    repo.run(&["secret", "set", "-e", "prod", PROXY, "--from-file", "value.txt"]).assert_exit(0);
    let after = repo.read(OVERRIDE);
    assert_eq!(outside_value(&after, "password", 0), outside_value(&before, "password", 0));
    // Both newlines are kept (written as character references in the attribute).
    assert_eq!(proxy_attr(&revealed_app1(&repo)), "line one&#10;line two&#10;");
}

#[test]
fn set_creates_the_key_when_absent_and_leaves_the_rest_of_the_file_alone() {
    let repo = Repo::with_prod();
    let before = repo.read(PROD_FILE);
    repo.run_with(&["secret", "set", "-e", "prod", PROXY], b"new-proxy-password", &[]).assert_exit(0).stdout_is(
        "
        encrypted instances.mkt_prod.serverconf.shared.proxyConfig.proxyHTTP.password to 1 recipient in environments/prod/environment.yaml
        ",
    );
    let after = repo.read(PROD_FILE);
    // The new file is the old one with one block of lines inserted.
    let (old, new): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let suffix = old.iter().rev().zip(new.iter().rev()).take_while(|(a, b)| a == b).count();
    assert!(prefix + suffix >= old.len(), "lines of the original changed:\n{after}");
    assert!(before.ends_with('\n') && after.ends_with('\n'));
    let inserted = new[prefix..new.len() - (old.len() - prefix)].join("\n");
    assert!(inserted.contains("proxyConfig:") && inserted.contains("password: !age |"), "{inserted}");
    assert!(inserted.contains("-----END AGE ENCRYPTED FILE-----"), "{inserted}");
    assert_eq!(proxy_attr(&revealed_app1(&repo)), "new-proxy-password");
    // And the new key is validated like any other.
    repo.run(&["validate"]).assert_exit(0).stderr_is("ok: prod (1 instance, 2 containers, 2 secrets)\n");
}

#[test]
fn set_in_a_file_with_crlf_line_endings_writes_crlf_and_keeps_the_comment_after_the_tag() {
    let crlf = COMMENTED.replace("password: !age |", "password: !age |  # rotated quarterly").replace('\n', "\r\n");
    let repo = Repo::with_prod().raw(OVERRIDE, &crlf);
    repo.run_with(&["secret", "set", "-e", "prod", PROXY], b"crlf-value", &[]).assert_exit(0);
    let after = repo.read(OVERRIDE);
    assert_eq!(outside_value(&after, "password", 0), outside_value(&crlf, "password", 0));
    assert!(after.contains("password: !age |  # rotated quarterly\r\n"), "{after}");
    // The new lines end like every other line of the file.
    let bare_lf = after.split_inclusive('\n').filter(|l| !l.ends_with("\r\n")).count();
    assert_eq!(bare_lf, 0, "secret set mixed LF lines into a CRLF file:\n{after:?}");
    assert_eq!(proxy_attr(&revealed_app1(&repo)), "crlf-value");
}

#[test]
fn set_over_a_plain_value_keeps_the_comment_on_its_line_and_the_file_mode() {
    use std::os::unix::fs::PermissionsExt;
    let yaml = "\
instances:
  mkt_prod:
    serverconf:
      shared:
        proxyConfig:
          proxyHTTPS:
            password: \"plain-by-mistake\"   # to be encrypted
            port: 3128
";
    let repo = Repo::with_prod().raw(OVERRIDE, yaml);
    std::fs::set_permissions(repo.path(OVERRIDE), std::fs::Permissions::from_mode(0o640)).unwrap();
    repo.run_with(
        &["secret", "set", "-e", "prod", "instances.mkt_prod.serverconf.shared.proxyConfig.proxyHTTPS.password"],
        b"now-encrypted",
        &[],
    )
    .assert_exit(0);
    let after = repo.read(OVERRIDE);
    assert!(!after.contains("plain-by-mistake"), "{after}");
    assert!(after.contains("# to be encrypted"), "the comment on the value's line was dropped:\n{after}");
    assert!(after.ends_with("            port: 3128\n"), "{after}");
    assert_eq!(std::fs::metadata(repo.path(OVERRIDE)).unwrap().permissions().mode() & 0o777, 0o640);
}

#[test]
fn set_never_takes_the_value_from_an_argument() {
    let repo = Repo::with_prod();
    let before = files_under(repo.root());
    let out = repo.run_with(&["secret", "set", "-e", "prod", CLIENT_SECRET, "hunter2-on-the-command-line"], b"", &[]);
    out.assert_exit(1)
        .stdout_is("")
        .stderr_contains("unexpected argument '(argument 10, not shown: it may be a secret)'");
    assert!(!out.stderr.contains("hunter2"), "the value typed by mistake is echoed:\n{}", out.stderr);
    for flag in ["--value", "--secret", "--stdin"] {
        let out = repo.run_with(&["secret", "set", "-e", "prod", CLIENT_SECRET, flag, "hunter2"], b"", &[]);
        out.assert_exit(1).stdout_is("").stderr_contains("unexpected argument");
    }
    assert_eq!(files_under(repo.root()), before, "the repository changed");
}

#[test]
fn set_refuses_an_empty_value() {
    let repo = Repo::with_prod().raw("../empty.txt", "");
    let before = files_under(repo.root());
    let expected = "
        error: empty value for instances.mkt_prod.ims.clientSecret: nothing to encrypt
          help: pipe the value on stdin (printf %s \"$VALUE\" | nlconf secret set ...) or use --from-file
        ";
    for stdin in [&b""[..], b"\n", b"\r\n"] {
        repo.run_with(&["secret", "set", "-e", "prod", CLIENT_SECRET], stdin, &[]).assert_exit(1).stderr_is(expected);
    }
    repo.run(&["secret", "set", "-e", "prod", CLIENT_SECRET, "--from-file", "empty.txt"])
        .assert_exit(1)
        .stderr_is(expected);
    assert_eq!(files_under(repo.root()), before, "the repository changed");
}

#[test]
fn set_refuses_a_missing_value_file_naming_it() {
    let repo = Repo::with_prod();
    let before = files_under(repo.root());
    repo.run(&["secret", "set", "-e", "prod", CLIENT_SECRET, "--from-file", "no-such-file.txt"])
        .assert_exit(1)
        .stderr_contains("no-such-file.txt: error: cannot read the value");
    assert_eq!(files_under(repo.root()), before, "the repository changed");
}

// secret rekey ---------------------------------------------------------------------------------------

#[test]
fn rekey_after_adding_a_recipient_reencrypts_only_the_values_encrypted_to_the_old_set() {
    let repo = Repo::with_prod()
        .file("environments/stage/environment.yaml", STAGE)
        .raw("environments/stage/recipients", crate::harness::PROD_RECIPIENTS)
        .set_secret("stage", "instances.mkt_stage.serverconf.shared.proxyConfig.proxyHTTP.password", "stage-proxy");
    // A second person joins prod: their key is added to the recipients...
    let recipients = format!("{}# Olivia, ops team\n{OTHER_RECIPIENT}\n", crate::harness::PROD_RECIPIENTS);
    let repo = repo.raw("environments/prod/recipients", &recipients);
    // ...and a value set after that is already encrypted to both.
    let repo = repo.set_secret("prod", PROXY, "set-after-the-change");
    let before = files_under(repo.root());
    let prod_before = repo.read(PROD_FILE);
    let stage_before = repo.read("environments/stage/environment.yaml");

    // The old key cannot be read by the new person yet: check fails for that value only.
    let out = repo.run(&["-i", PROD_IDENTITY, "secret", "check"]);
    out.assert_exit(1).stderr_is(&format!(
        "
        ok: stage (1 secret)
        {PROD_FILE}:{}:21: error: instances.mkt_prod.ims.clientSecret: not encrypted to exactly the current recipients of environments/prod/recipients
          help: re-encrypt to the current recipients: nlconf secret rekey -e prod
        ",
        line_of(&prod_before, "clientSecret: !age")
    ));

    // --dry-run says what it would do, and does nothing (no key needed for that).
    let key_line = line_of(&prod_before, "clientSecret: !age");
    repo.run(&["secret", "rekey", "--dry-run"])
        .assert_exit(0)
        .stdout_is(&format!(
            "would rekey prod instances.mkt_prod.ims.clientSecret ({PROD_FILE}:{key_line}:21): recipients changed\n"
        ))
        .stderr_contains("stage: all");
    assert_eq!(files_under(repo.root()), before, "--dry-run changed files");

    // Rekeying needs a key that can read the old value.
    repo.run(&["-i", PROD_IDENTITY, "secret", "rekey"]).assert_exit(0).stdout_is(&format!(
        "rekeyed prod instances.mkt_prod.ims.clientSecret ({PROD_FILE}:{key_line}:21): recipients changed\n"
    ));
    let prod_after = repo.read(PROD_FILE);
    assert_eq!(outside_value(&prod_after, "clientSecret", 0), outside_value(&prod_before, "clientSecret", 0));
    assert_ne!(block_value(&prod_after, "clientSecret", 0), block_value(&prod_before, "clientSecret", 0));
    // The value encrypted to the current set and the other environment keep their exact bytes.
    assert_eq!(block_value(&prod_after, "password", 0), block_value(&prod_before, "password", 0));
    assert_eq!(repo.read("environments/stage/environment.yaml"), stage_before);

    // Now the new person can read every prod secret, and nothing is left to do.
    repo.run(&["-i", OTHER_IDENTITY, "secret", "check", "-e", "prod"])
        .assert_exit(0)
        .stderr_is("ok: prod (2 secrets)\n");
    let settled = files_under(repo.root());
    repo.run(&["-i", PROD_IDENTITY, "secret", "rekey", "-e", "prod"])
        .assert_exit(0)
        .stdout_is("")
        .stderr_is("prod: all 2 secrets are bound and encrypted to the current recipients\n");
    assert_eq!(files_under(repo.root()), settled, "a rekey with nothing to do changed files");
}

#[test]
fn rekey_binds_a_hand_encrypted_value_and_validate_stops_warning() {
    let yaml = format!(
        "instances:\n  mkt_prod:\n    serverconf:\n      shared:\n        proxyConfig:\n          proxyHTTP:\n            password: !age |\n{}",
        indented(HAND_ENCRYPTED, 14)
    );
    let repo = Repo::with_prod().raw(OVERRIDE, &yaml);
    let warning = "
        environments/prod/override.yaml:7:23: warning: instances.mkt_prod.serverconf.shared.proxyConfig.proxyHTTP.password: unbound secret (encrypted without nlconf's header)
          help: bind it to its place: nlconf secret rekey -e prod
        ";
    repo.run(&["validate"])
        .assert_exit(0)
        .stderr_is(&format!("ok: prod (1 instance, 2 containers, 2 secrets)\n{}", crate::harness::dedent(warning)));
    let plaintext = proxy_attr(&revealed_app1(&repo)).to_string();

    let before = files_under(repo.root());
    repo.run(&["secret", "rekey", "--dry-run"]).assert_exit(0).stdout_is(&format!(
        "would rekey prod {PROXY} (environments/prod/override.yaml:7:23): unbound, now bound to its place\n"
    ));
    assert_eq!(files_under(repo.root()), before, "--dry-run changed files");

    repo.run(&["-i", PROD_IDENTITY, "secret", "rekey", "-e", "prod"]).assert_exit(0).stdout_is(&format!(
        "rekeyed prod {PROXY} (environments/prod/override.yaml:7:23): unbound, now bound to its place\n"
    ));
    let after = repo.read(OVERRIDE);
    assert!(
        block_value(&after, "password", 0)
            .starts_with(&format!("nlconf:v1 env=prod path={PROXY} recipients={PROD_DIGEST}\n"))
    );
    assert_eq!(outside_value(&after, "password", 0), outside_value(&yaml, "password", 0));
    // The other secret of the environment was already bound: its bytes did not change.
    assert_eq!(repo.read(PROD_FILE), crate::harness::PROD_ENVIRONMENT);
    // Same value, now bound: no more warning.
    assert_eq!(proxy_attr(&revealed_app1(&repo)), plaintext);
    repo.run(&["validate"]).assert_exit(0).stderr_is("ok: prod (1 instance, 2 containers, 2 secrets)\n");
    repo.run(&["-i", PROD_IDENTITY, "secret", "check"]).assert_exit(0).stderr_is("ok: prod (2 secrets)\n");
}

#[test]
fn rekey_refuses_a_moved_ciphertext_and_writes_nothing() {
    let repo = prod_with_proxy("proxy-value");
    // Copy the IMS client secret's ciphertext (bound to ims.clientSecret) over the proxy password,
    // and make the recipients change so that rekey has work to do.
    let text = repo.read(PROD_FILE);
    let stolen = block_value(&text, "clientSecret", 0);
    let moved = replace_value(&text, "password", 0, &stolen);
    let line = line_of(&moved, "password: !age");
    let repo = repo.raw(PROD_FILE, &moved);
    // With nothing else to do, rekey must still refuse it, and not call every secret fine.
    for args in [&["-i", PROD_IDENTITY, "secret", "rekey"][..], &["secret", "rekey", "--dry-run"]] {
        let out = repo.run(args);
        out.assert_exit(1)
            .stderr_contains(&format!("{PROD_FILE}:{line}:23: error: {PROXY}: this ciphertext was encrypted"));
        assert!(
            !out.stderr.contains("are bound and encrypted to the current recipients"),
            "`nlconf {}` claims every secret is bound while one was moved:\n{}",
            args.join(" "),
            out.stderr
        );
    }
    let recipients = format!("{}{OTHER_RECIPIENT}\n", crate::harness::PROD_RECIPIENTS);
    let repo = repo.raw("environments/prod/recipients", &recipients);
    let before = files_under(repo.root());
    let out = repo.run(&["-i", PROD_IDENTITY, "secret", "rekey"]);
    out.assert_exit(1);
    out.stderr_contains(&format!(
        "{PROD_FILE}:{line}:23: error: {PROXY}: this ciphertext was encrypted for environment `prod` at `{CLIENT_SECRET}`"
    ));
    assert!(
        !out.stderr.contains("all 2 secrets are bound"),
        "rekey claims every secret is bound while one was moved:\n{}",
        out.stderr
    );
    assert_eq!(files_under(repo.root()), before, "rekey wrote although a secret was refused");
}

// secret check ---------------------------------------------------------------------------------------

#[test]
fn check_exits_0_when_every_secret_decrypts_and_is_bound_to_the_current_recipients() {
    prod_with_proxy("p")
        .run(&["-i", PROD_IDENTITY, "secret", "check"])
        .assert_exit(0)
        .stdout_is("")
        .stderr_is("ok: prod (2 secrets)\n");
}

#[test]
fn check_exits_1_when_no_identity_at_hand_can_decrypt() {
    let repo = Repo::with_prod();
    let out = repo.run(&["-i", OTHER_IDENTITY, "secret", "check"]);
    out.assert_exit(1).stderr_is(&format!(
        "
        {PROD_FILE}:34:21: error: {CLIENT_SECRET}: no loaded identity can decrypt this secret: it is encrypted to 1 X25519 recipient (age does not reveal which keys); its header says recipient set {PROD_DIGEST} (env prod, {CLIENT_SECRET}); pass a matching key with --identity FILE (or NLCONF_AGE_IDENTITY)
        "
    ));
    // Without any identity, check cannot do its job: an error, not a silent pass.
    repo.run(&["secret", "check"]).assert_exit(1).stderr_contains("secret check needs an identity");
}

#[test]
fn check_exits_1_for_a_ciphertext_copied_from_another_field_naming_both_places() {
    let repo = prod_with_proxy("p");
    let text = repo.read(PROD_FILE);
    let moved = replace_value(&text, "password", 0, &block_value(&text, "clientSecret", 0));
    let repo = repo.raw(PROD_FILE, &moved);
    let line = line_of(&moved, "password: !age");
    repo.run(&["-i", PROD_IDENTITY, "secret", "check"]).assert_exit(1).stderr_is(&format!(
        "
        {PROD_FILE}:{line}:23: error: {PROXY}: this ciphertext was encrypted for environment `prod` at `{CLIENT_SECRET}`, not for `prod` at `{PROXY}`
          help: a secret copied from another place is refused; set this one: nlconf secret set -e prod {PROXY}
        "
    ));
    // validate (no key needed) and render --reveal refuse it too.
    repo.run(&["validate"]).assert_exit(1).stderr_contains(&format!(
        "{PROD_FILE}:{line}:23: error: {PROXY}: this ciphertext was encrypted for environment `prod` at `{CLIENT_SECRET}`, not for `prod` at `{PROXY}`"
    ));
    repo.run(&["-i", PROD_IDENTITY, "render", "-e", "prod", "--reveal", "--out", "out"]).assert_exit(1);
    assert!(!repo.work_path("out").exists());
}

#[test]
fn check_exits_1_for_a_ciphertext_copied_from_another_environment() {
    let repo = Repo::with_prod()
        .file("environments/stage/environment.yaml", STAGE)
        .raw("environments/stage/recipients", crate::harness::PROD_RECIPIENTS)
        .set_secret("stage", "instances.mkt_stage.serverconf.shared.proxyConfig.proxyHTTP.password", "stage-only");
    let stage = repo.read("environments/stage/environment.yaml");
    let yaml = format!(
        "instances:\n  mkt_prod:\n    serverconf:\n      shared:\n        proxyConfig:\n          proxyHTTP:\n            password: !age |\n{}",
        indented(&block_value(&stage, "password", 0), 14)
    );
    let repo = repo.raw(OVERRIDE, &yaml);
    repo.run(&["-i", PROD_IDENTITY, "secret", "check", "-e", "prod"]).assert_exit(1).stderr_contains(&format!(
        "environments/prod/override.yaml:7:23: error: {PROXY}: this ciphertext was encrypted for environment `stage` at `instances.mkt_stage.serverconf.shared.proxyConfig.proxyHTTP.password`"
    ));
}

#[test]
fn check_exits_1_when_the_recipients_changed_and_0_with_a_warning_for_an_unbound_value() {
    let recipients = format!("{}{OTHER_RECIPIENT}\n", crate::harness::PROD_RECIPIENTS);
    Repo::with_prod()
        .raw("environments/prod/recipients", &recipients)
        .run(&["-i", PROD_IDENTITY, "secret", "check"])
        .assert_exit(1)
        .stderr_contains("not encrypted to exactly the current recipients of environments/prod/recipients");
    // Removing a recipient is a change too.
    let repo = Repo::with_prod().raw("environments/prod/recipients", &recipients).set_secret("prod", PROXY, "p");
    repo.raw("environments/prod/recipients", crate::harness::PROD_RECIPIENTS)
        .run(&["-i", PROD_IDENTITY, "secret", "check"])
        .assert_exit(1)
        .stderr_contains(&format!("{PROXY}: not encrypted to exactly the current recipients"));

    let yaml = format!(
        "instances:\n  mkt_prod:\n    serverconf:\n      shared:\n        proxyConfig:\n          proxyHTTP:\n            password: !age |\n{}",
        indented(HAND_ENCRYPTED, 14)
    );
    Repo::with_prod().raw(OVERRIDE, yaml).run(&["-i", PROD_IDENTITY, "secret", "check"]).assert_exit(0).stderr_is(
        "
        ok: prod (2 secrets)
        environments/prod/override.yaml:7:23: warning: instances.mkt_prod.serverconf.shared.proxyConfig.proxyHTTP.password: unbound secret (encrypted without nlconf's header)
          help: bind it to its place: nlconf secret rekey -e prod
        ",
    );
}

// Identities ---------------------------------------------------------------------------------------

#[test]
fn identities_are_looked_for_in_the_documented_order_first_found_wins() {
    let repo = Repo::with_prod().raw("../garbage.txt", "this is not a key\n");
    let home_identity = repo.work_path(".config/nlconf/identity.txt");
    let check = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = args.to_vec();
        all.extend(["secret", "check"]);
        repo.run_with(&all, b"", env)
    };
    let ok = "ok: prod (1 secret)\n";
    let good = PROD_IDENTITY;
    let missing = "missing.agekey";

    // 1. --identity wins over everything else (which would fail if it were read).
    check(&["-i", good], &[("NLCONF_AGE_IDENTITY", missing), ("SOPS_AGE_KEY_FILE", missing)])
        .assert_exit(0)
        .stderr_is(ok);
    // ...and a wrong --identity is not rescued by a right NLCONF_AGE_IDENTITY.
    check(&["-i", OTHER_IDENTITY], &[("NLCONF_AGE_IDENTITY", good)])
        .assert_exit(1)
        .stderr_contains("no loaded identity can decrypt this secret");
    // Several --identity files are all used.
    check(&["-i", OTHER_IDENTITY, "-i", good], &[]).assert_exit(0).stderr_is(ok);
    check(&["-i", missing], &[])
        .assert_exit(1)
        .stderr_is("missing.agekey: error: no such identity file (named by --identity): fix the --identity argument\n");

    // 2. NLCONF_AGE_IDENTITY over SOPS_AGE_KEY_FILE.
    check(&[], &[("NLCONF_AGE_IDENTITY", good), ("SOPS_AGE_KEY_FILE", missing)]).assert_exit(0).stderr_is(ok);
    check(&[], &[("NLCONF_AGE_IDENTITY", missing), ("SOPS_AGE_KEY_FILE", good)]).assert_exit(1).stderr_is(
        "missing.agekey: error: no such identity file (named by NLCONF_AGE_IDENTITY): fix or unset NLCONF_AGE_IDENTITY\n",
    );
    // An empty variable counts as unset.
    check(&[], &[("NLCONF_AGE_IDENTITY", ""), ("SOPS_AGE_KEY_FILE", good)]).assert_exit(0).stderr_is(ok);

    // 3. SOPS_AGE_KEY_FILE over the file in the home folder.
    std::fs::create_dir_all(home_identity.parent().unwrap()).unwrap();
    std::fs::write(&home_identity, "not a key either\n").unwrap();
    check(&[], &[("SOPS_AGE_KEY_FILE", good)]).assert_exit(0).stderr_is(ok);
    check(&[], &[("SOPS_AGE_KEY_FILE", missing)]).assert_exit(1).stderr_is(
        "missing.agekey: error: no such identity file (named by SOPS_AGE_KEY_FILE): fix or unset SOPS_AGE_KEY_FILE\n",
    );

    // 4. ~/.config/nlconf/identity.txt last (HOME is the test's own folder).
    let out = check(&[], &[]);
    out.assert_exit(1).stderr_contains(".config/nlconf/identity.txt:1: error: not an age identity");
    std::fs::copy(good, &home_identity).unwrap();
    check(&[], &[]).assert_exit(0).stderr_is(ok);

    // None at all.
    std::fs::remove_file(&home_identity).unwrap();
    check(&[], &[]).assert_exit(1).stderr_is(
        "
        error: secret check needs an identity to try decrypting, and none was found
          help: pass --identity FILE (an age identity or an SSH private key), or set NLCONF_AGE_IDENTITY or SOPS_AGE_KEY_FILE, or create ~/.config/nlconf/identity.txt
        ",
    );
}

// render --reveal, and everything else without a key --------------------------------------------------

#[test]
fn render_reveal_without_an_identity_is_an_error_and_writes_nothing() {
    let repo = prod_with_proxy("p");
    let expected = "
        error: render --reveal needs an identity to decrypt secrets, and none was found
          help: pass --identity FILE (an age identity or an SSH private key), or set NLCONF_AGE_IDENTITY or SOPS_AGE_KEY_FILE, or create ~/.config/nlconf/identity.txt
        ";
    repo.run(&["render", "-e", "prod", "--reveal", "--out", "out"]).assert_exit(1).stdout_is("").stderr_is(expected);
    repo.run(&["render", "-e", "prod", "--reveal", "--instance", "mkt_prod", "--container", "app1"])
        .assert_exit(1)
        .stdout_is("")
        .stderr_is(expected);
    assert!(!repo.work_path("out").exists());
}

#[test]
fn render_reveal_writes_the_escaped_plaintext_into_files_only_their_owner_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let repo = prod_with_proxy("a&b<c>\"d'e $(HOME); f");
    repo.run(&["-i", PROD_IDENTITY, "render", "-e", "prod", "--reveal", "--out", "revealed"]).assert_exit(0).stdout_is(
        "
        wrote revealed/app1/config-mkt_prod.xml
        wrote revealed/app2/config-mkt_prod.xml
        ",
    );
    repo.run(&["render", "-e", "prod", "--out", "masked"]).assert_exit(0);
    for c in ["app1", "app2"] {
        let revealed = repo.work_path(&format!("revealed/{c}/config-mkt_prod.xml"));
        let text = std::fs::read_to_string(&revealed).unwrap();
        assert_eq!(proxy_attr(&text), "a&amp;b&lt;c&gt;&quot;d&apos;e $(HOME); f");
        assert_eq!(std::fs::metadata(&revealed).unwrap().permissions().mode() & 0o777, 0o600, "{c}");
        let masked = repo.work_path(&format!("masked/{c}/config-mkt_prod.xml"));
        assert_eq!(proxy_attr(&std::fs::read_to_string(&masked).unwrap()), "(sensitive)");
        assert_eq!(std::fs::metadata(&masked).unwrap().permissions().mode() & 0o777, 0o644, "{c}");
    }
    // The revealed file parses back to exactly the value.
    let text = std::fs::read_to_string(repo.work_path("revealed/app1/config-mkt_prod.xml")).unwrap();
    let root = nlconf::support::xml::parse(&text).unwrap();
    let proxy = root.child("shared").and_then(|s| s.child("proxyConfig")).and_then(|p| p.child("proxyHTTP")).unwrap();
    assert_eq!(proxy.attr("password"), Some("a&b<c>\"d'e $(HOME); f"));
}

#[test]
fn every_other_command_works_without_an_identity() {
    let repo = prod_with_proxy("p").folder("../deployed");
    repo.run(&["validate"]).assert_exit(0);
    repo.run(&["render", "-e", "prod"]).assert_exit(0);
    let one = repo.run(&["render", "-e", "prod", "--instance", "mkt_prod", "--container", "app1"]);
    assert_eq!(proxy_attr(&one.assert_exit(0).stdout), "(sensitive)");
    repo.run(&["render", "-e", "prod", "--out", "out"]).assert_exit(0);
    repo.run(&["explain", "-e", "prod", "--instance", "mkt_prod"])
        .assert_exit(0)
        .stdout_contains("ims.clientSecret = (sensitive)");
    repo.run(&["explain", "-e", "prod", "--instance", "mkt_prod", "--container", "app2"]).assert_exit(0);
    for format in ["text", "json", "markdown"] {
        repo.run(&["diff", "-e", "prod", "--deployed", "deployed", "--format", format]).assert_exit(0);
    }
    repo.run(&["secret", "rekey", "--dry-run"]).assert_exit(0);
    repo.run(&["secret", "rekey"]).assert_exit(0);
    repo.run_with(&["secret", "set", "-e", "prod", CLIENT_SECRET], b"new", &[]).assert_exit(0);
}

// Interoperability with the age and ssh-keygen tools ------------------------------------------------------

#[test]
fn a_value_encrypted_with_the_age_cli_is_read_and_reported_unbound() {
    if !have_tool("age") {
        return;
    }
    let repo = Repo::with_prod();
    let plaintext = "made with age -R & <friends>";
    let armor = repo.tool(
        "age",
        &["-a", "-R", &repo.path("environments/prod/recipients").to_string_lossy()],
        plaintext.as_bytes(),
    );
    let armor = String::from_utf8(armor).unwrap();
    let yaml = format!(
        "instances:\n  mkt_prod:\n    serverconf:\n      shared:\n        proxyConfig:\n          proxyHTTP:\n            password: !age |\n{}",
        indented(&armor, 14)
    );
    let repo = repo.raw(OVERRIDE, yaml);
    repo.run(&["validate"]).assert_exit(0).stderr_contains(&format!(
        "environments/prod/override.yaml:7:23: warning: {PROXY}: unbound secret (encrypted without nlconf's header)"
    ));
    assert_eq!(proxy_attr(&revealed_app1(&repo)), "made with age -R &amp; &lt;friends&gt;");
}

#[test]
fn a_value_written_by_secret_set_decrypts_with_the_age_cli() {
    if !have_tool("age") {
        return;
    }
    let value = "multi\nline 'value' with $dollar; & <tag>\n";
    let repo = Repo::with_prod().raw("../value.txt", value);
    repo.run(&["secret", "set", "-e", "prod", PROXY, "--from-file", "value.txt"]).assert_exit(0);
    let stored = block_value(&repo.read(PROD_FILE), "password", 0);
    assert!(stored.starts_with("nlconf:v1 "), "{stored}");
    // Break-glass decryption: strip the header line and hand the armor to age.
    let plain = repo.tool("age", &["-d", "-i", PROD_IDENTITY], armor_only(&stored).as_bytes());
    assert_eq!(String::from_utf8(plain).unwrap(), value);
}

/// The key tag age writes in ssh-ed25519 stanzas: the first 4 bytes of SHA-256 of the public key.
fn ssh_tag(public: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let blob = base64::engine::general_purpose::STANDARD.decode(public.split_whitespace().nth(1).unwrap()).unwrap();
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(&sha2::Sha256::digest(&blob)[..4])
}

#[test]
fn an_ssh_ed25519_key_pair_made_with_ssh_keygen_works_both_ways() {
    if !have_tool("ssh-keygen") || !have_tool("age") {
        return;
    }
    let repo = Repo::with_prod();
    repo.tool("ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-C", "ops@example.com", "-f", "ops_ed25519"], b"");
    let public = std::fs::read_to_string(repo.work_path("ops_ed25519.pub")).unwrap();
    // The ssh key is the environment's only recipient.
    let repo = repo.raw("environments/prod/recipients", format!("# ops, by ssh key\n{public}"));
    repo.run_with(&["secret", "set", "-e", "prod", PROXY], b"over ssh & <ed25519>", &[]).assert_exit(0);
    repo.run_with(&["secret", "set", "-e", "prod", CLIENT_SECRET], b"client-secret-over-ssh", &[]).assert_exit(0);

    // nlconf decrypts with the private key as identity...
    repo.run(&["-i", "ops_ed25519", "secret", "check"]).assert_exit(0).stderr_is("ok: prod (2 secrets)\n");
    let out = repo.run(&[
        "-i",
        "ops_ed25519",
        "render",
        "-e",
        "prod",
        "--reveal",
        "--instance",
        "mkt_prod",
        "--container",
        "app2",
    ]);
    assert_eq!(proxy_attr(&out.assert_exit(0).stdout), "over ssh &amp; &lt;ed25519&gt;");
    // ...and so does age.
    let stored = block_value(&repo.read(PROD_FILE), "password", 0);
    let plain = repo.tool("age", &["-d", "-i", "ops_ed25519"], armor_only(&stored).as_bytes());
    assert_eq!(plain, b"over ssh & <ed25519>");
    // age encrypting to the ssh public key gives a value nlconf reads with the private key.
    let by_age = repo.tool("age", &["-a", "-R", "ops_ed25519.pub"], b"encrypted by age to ssh");
    let yaml = format!(
        "instances:\n  mkt_prod:\n    serverconf:\n      shared:\n        proxyConfig:\n          proxyHTTPS:\n            password: !age |\n{}",
        indented(std::str::from_utf8(&by_age).unwrap(), 14)
    );
    let repo = repo.raw(OVERRIDE, yaml);
    let out = repo.run(&[
        "-i",
        "ops_ed25519",
        "render",
        "-e",
        "prod",
        "--reveal",
        "--instance",
        "mkt_prod",
        "--container",
        "app1",
    ]);
    out.assert_exit(0).stdout_contains("<proxyHTTPS password=\"encrypted by age to ssh\"/>");

    // The wrong key is told which ssh key the value is for (age's key tag).
    repo.run(&["-i", PROD_IDENTITY, "secret", "check"])
        .assert_exit(1)
        .stderr_contains(&format!("it is encrypted to the ssh-ed25519 key with tag {}", ssh_tag(&public)));
}

// Bad input: file:line, exit 1, nothing written -------------------------------------------------------

/// `render --reveal --out`, `secret check` and `secret rekey` (with a recipient change, so that it
/// would write) all refuse the repository at `file:lines`, and nothing is written.
#[track_caller]
fn refused_with_key(repo: &Repo, identity: &str, file: &str, lines: std::ops::RangeInclusive<usize>, message: &str) {
    let before = files_under(repo.root());
    let render = repo.run(&["-i", identity, "render", "-e", "prod", "--reveal", "--out", "out"]);
    render.assert_exit(1).stdout_is("").stderr_contains(message);
    assert_error_at(&render.stderr, file, lines.clone());
    assert!(!repo.work_path("out").exists(), "render --out wrote files although it failed");
    let check = repo.run(&["-i", identity, "secret", "check"]);
    check.assert_exit(1).stderr_contains(message);
    assert_error_at(&check.stderr, file, lines.clone());
    assert_eq!(files_under(repo.root()), before, "the repository changed");
    // rekey with work to do (a recipient was added) must not write a thing either.
    let recipients = format!("{}{OTHER_RECIPIENT}\n", repo.read("environments/prod/recipients"));
    std::fs::write(repo.path("environments/prod/recipients"), &recipients).unwrap();
    let before = files_under(repo.root());
    let rekey = repo.run(&["-i", identity, "secret", "rekey"]);
    rekey.assert_exit(1);
    assert_error_at(&rekey.stderr, file, lines);
    assert_eq!(files_under(repo.root()), before, "secret rekey wrote although it failed");
}

#[test]
fn no_identity_matches_names_the_recipients_the_value_is_for() {
    let repo = prod_with_proxy("p");
    let text = repo.read(PROD_FILE);
    let line = line_of(&text, "password: !age");
    refused_with_key(
        &repo,
        OTHER_IDENTITY,
        PROD_FILE,
        line..=line,
        &format!(
            "{PROXY}: no loaded identity can decrypt this secret: it is encrypted to 1 X25519 recipient (age does not reveal which keys); its header says recipient set {PROD_DIGEST}"
        ),
    );
}

/// The production environment with the proxy password set, and `f` applied to its ciphertext.
fn prod_with_damaged_proxy(f: fn(&str) -> String) -> (Repo, usize, usize) {
    let repo = prod_with_proxy("proxy-password-to-damage");
    let text = repo.read(PROD_FILE);
    let damaged = replace_value(&text, "password", 0, &f(&block_value(&text, "password", 0)));
    let range = block_range(&damaged, "password", 0);
    (repo.raw(PROD_FILE, &damaged), range.start, range.end)
}

#[test]
fn a_corrupted_ciphertext() {
    let (repo, first, last) = prod_with_damaged_proxy(corrupted);
    refused_with_key(
        &repo,
        PROD_IDENTITY,
        PROD_FILE,
        first..=last,
        "the secret cannot be decrypted, authentication failed",
    );
}

#[test]
fn a_ciphertext_without_its_end_line() {
    let (repo, first, last) = prod_with_damaged_proxy(without_end_line);
    // Found without any key, by validate too.
    let out = repo.run(&["validate"]);
    out.assert_exit(1).stderr_contains("missing `-----END AGE ENCRYPTED FILE-----`: the ciphertext is truncated");
    assert_error_at(&out.stderr, PROD_FILE, first..=last + 1);
    refused_with_key(&repo, PROD_IDENTITY, PROD_FILE, first..=last + 1, "truncated");
}

#[test]
fn a_ciphertext_with_lines_dropped() {
    // Whole lines of the payload gone: only decryption can tell (validate needs no key and cannot).
    let (repo, first, last) = prod_with_damaged_proxy(without_middle_lines);
    refused_with_key(&repo, PROD_IDENTITY, PROD_FILE, first..=last + 1, PROXY);
}

#[track_caller]
fn refused_by_validate(yaml: &str, file_line: &str, message: &str) {
    let repo = Repo::with_prod().raw(OVERRIDE, yaml);
    let before = files_under(repo.root());
    for args in [
        &["validate"][..],
        &["-i", PROD_IDENTITY, "render", "-e", "prod", "--reveal", "--out", "out"],
        &["-i", PROD_IDENTITY, "secret", "check"],
    ] {
        let out = repo.run(args);
        out.assert_exit(1).stdout_is("").stderr_contains(message);
        assert!(out.stderr.contains(file_line), "no {file_line} in\n{}", out.stderr);
    }
    assert!(!repo.work_path("out").exists());
    assert_eq!(files_under(repo.root()), before);
}

fn proxy_yaml(value: &str) -> String {
    format!(
        "instances:\n  mkt_prod:\n    serverconf:\n      shared:\n        proxyConfig:\n          proxyHTTP:\n            password: {value}\n"
    )
}

#[test]
fn a_plaintext_where_a_ciphertext_is_expected_is_refused_without_being_quoted() {
    // On the key's line, a quoted scalar: the error is on line 7 (the file has 7 lines).
    let yaml = proxy_yaml("!age \"my-plaintext-password\"");
    let repo = Repo::with_prod().raw(OVERRIDE, &yaml);
    let out = repo.run(&["validate"]);
    out.assert_exit(1).stderr_contains("expected `-----BEGIN AGE ENCRYPTED FILE-----`");
    assert!(!out.stderr.contains("my-plaintext-password"), "the plaintext is quoted:\n{}", out.stderr);
    assert_error_at(&out.stderr, "environments/prod/override.yaml", 7..=7);
}

#[test]
fn armor_that_is_not_an_age_file() {
    let yaml = proxy_yaml(
        "!age |\n              -----BEGIN AGE ENCRYPTED FILE-----\n              aGVsbG8gd29ybGQgdGhpcyBpcyBub3QgYW4gYWdlIGZpbGU=\n              -----END AGE ENCRYPTED FILE-----",
    );
    refused_by_validate(&yaml, "environments/prod/override.yaml:", "the armor does not hold an age file");
    // Another kind of armor altogether.
    let yaml = proxy_yaml(
        "!age |\n              -----BEGIN PGP MESSAGE-----\n              aGVsbG8gd29ybGQ=\n              -----END PGP MESSAGE-----",
    );
    refused_by_validate(&yaml, "environments/prod/override.yaml:8:", "expected `-----BEGIN AGE ENCRYPTED FILE-----`");
}

#[test]
fn binary_content_in_the_armor() {
    // Bytes that are not base64 at all (the raw binary age file pasted by mistake is not text: a
    // YAML file cannot hold it, so this is the closest): refused, not decoded.
    let yaml = proxy_yaml(
        "!age |\n              -----BEGIN AGE ENCRYPTED FILE-----\n              \u{1}\u{2}\u{7f}age\u{fffd}\u{fffd}binary\n              -----END AGE ENCRYPTED FILE-----",
    );
    let repo = Repo::with_prod().raw(OVERRIDE, &yaml);
    let out = repo.run(&["validate"]);
    out.assert_exit(1);
    assert_error_at(&out.stderr, "environments/prod/override.yaml", 7..=10);
}

#[test]
fn age_on_a_list() {
    refused_by_validate(
        &proxy_yaml("!age\n              - a\n              - b"),
        "environments/prod/override.yaml:7:23",
        "`!age` must tag a scalar holding an age ciphertext, found a list",
    );
}

#[test]
fn an_empty_age_value() {
    refused_by_validate(
        &proxy_yaml("!age \"\""),
        "environments/prod/override.yaml:7:23",
        "empty `!age` value; expected an ASCII-armored age ciphertext",
    );
}

#[test]
fn a_bad_line_in_recipients() {
    let repo = Repo::with_prod().raw(
        "environments/prod/recipients",
        format!("{}  age1bogus\nssh-ed25519 AAAA\n", crate::harness::PROD_RECIPIENTS),
    );
    let before = files_under(repo.root());
    for args in [&["validate"][..], &["secret", "check"], &["render", "-e", "prod", "--out", "out"]] {
        repo.run(args)
            .assert_exit(1)
            .stderr_contains("environments/prod/recipients:4:3: error: `age1bogus` is not a valid age recipient")
            .stderr_contains("environments/prod/recipients:5:1: error: invalid ssh-ed25519 public key");
    }
    repo.run_with(&["secret", "set", "-e", "prod", PROXY], b"value", &[])
        .assert_exit(1)
        .stderr_contains("environments/prod/recipients:4:3:");
    assert!(!repo.work_path("out").exists());
    assert_eq!(files_under(repo.root()), before);
}

#[test]
fn a_missing_recipients_file_when_secrets_exist() {
    let repo = Repo::with_prod();
    std::fs::remove_file(repo.path("environments/prod/recipients")).unwrap();
    let before = files_under(repo.root());
    let expected = "environments/prod/recipients: error: cannot read the recipients file";
    repo.run(&["validate"]).assert_exit(1).stderr_contains(expected);
    repo.run(&["-i", PROD_IDENTITY, "secret", "check"]).assert_exit(1).stderr_contains(expected);
    repo.run_with(&["secret", "set", "-e", "prod", PROXY], b"value", &[]).assert_exit(1).stderr_contains(expected);
    assert_eq!(files_under(repo.root()), before);
}

#[test]
fn identity_files_that_cannot_be_used() {
    let repo = prod_with_proxy("p")
        .raw("../garbage.txt", "# a comment\nthis is not a key\n")
        .raw("../empty.txt", "# only a comment\n")
        .raw("../public.txt", format!("{OTHER_RECIPIENT}\n"))
        .folder("../a-folder");
    let cases = [
        ("garbage.txt", "garbage.txt:2: error: not an age identity"),
        ("empty.txt", "empty.txt: error: the file holds no identity"),
        ("public.txt", "public.txt:1: error: this is a public key (a recipient), not an identity"),
        ("a-folder", "a-folder: error: is a folder, not a file: pass the identity file itself"),
        ("nowhere.txt", "nowhere.txt: error: no such identity file (named by --identity)"),
    ];
    for (file, expected) in cases {
        let before = files_under(repo.root());
        repo.run(&["-i", file, "secret", "check"]).assert_exit(1).stderr_contains(expected);
        repo.run(&["-i", file, "render", "-e", "prod", "--reveal", "--out", "out"])
            .assert_exit(1)
            .stderr_contains(expected);
        assert!(!repo.work_path("out").exists(), "{file}");
        assert_eq!(files_under(repo.root()), before);
    }
    // The file's content is never quoted.
    let out = repo.run(&["-i", "garbage.txt", "secret", "check"]);
    assert!(!out.stderr.contains("this is not a key"), "{}", out.stderr);
}

#[test]
fn a_passphrase_protected_ssh_key() {
    if !have_tool("ssh-keygen") {
        return;
    }
    let repo = prod_with_proxy("p");
    repo.tool("ssh-keygen", &["-q", "-t", "ed25519", "-N", "correct horse", "-f", "locked_ed25519"], b"");
    let before = files_under(repo.root());
    let expected = "locked_ed25519: error: the SSH key is protected by a passphrase; nlconf cannot prompt here: decrypt a copy (ssh-keygen -p) or use an age identity\n";
    repo.run(&["-i", "locked_ed25519", "secret", "check"]).assert_exit(1).stderr_is(expected);
    repo.run(&["-i", "locked_ed25519", "render", "-e", "prod", "--reveal", "--out", "out"])
        .assert_exit(1)
        .stderr_is(expected);
    assert!(!repo.work_path("out").exists());
    assert_eq!(files_under(repo.root()), before);
}
