//! Review (DESIGN §6, issue 4): `nlconf diff` against deployed files and against a git revision, as
//! text, JSON and markdown, masked; `--semantic`, `-U`, `--detailed-exitcode`; the markdown size
//! limit; and the canonical comparison as a property.

use std::path::Path;

use insta::assert_snapshot;
use proptest::prelude::*;

use crate::harness::{OVERRIDE, PROD_IDENTITY, Repo, have_tool, tool_in};

const PROXY_HTTP: &str = "instances.mkt_prod.serverconf.shared.proxyConfig.proxyHTTP.password";
const PROXY_HTTPS: &str = "instances.mkt_prod.serverconf.shared.proxyConfig.proxyHTTPS.password";

/// nlserver's own ciphertexts in the deployed file: nlconf can neither produce nor read them, keeps
/// them, and never prints them.
const NLSERVER_IMS_SECRET: &str = "@U2VjcmV0T25seU5sc2VydmVyQ2FuUmVhZEl0c0tleTAxMjM0NTY3ODk=";
const NLSERVER_DB_PASSWORD: &str = "@Rm9vQmFyQmF6RW5jcnlwdGVkQnlObHNlcnZlcjk4NzY1NDMyMQ==";

/// What app1 has today: a hand-edited `statServerAddress`, a typo ACC ignores (`statServerAdress`),
/// the IMS secret and database password nlserver encrypted, and the proxy passwords in plain text
/// (the HTTP one is the old one: the repository rotates it).
fn deployed_app1() -> String {
    format!(
        r#"<?xml version='1.0'?>
<serverconf>
  <shared>
    <dataStore hosts="console.example.com*,tracking.example.com*" lang="en_US">
      <dataSource name="default">
        <dbcnx encrypted="1" login="campaign:mkt_prod" password="{NLSERVER_DB_PASSWORD}" provider="PostgreSQL" server="db1.prod.example.com"/>
      </dataSource>
    </dataStore>
    <ims authIMSTAClientId="e053e1a87cf74c68a6ec8e71d4a82662" authIMSTAClientSecret="{NLSERVER_IMS_SECRET}" authIMSTAId="6657031C5C095BB40A4B0123@techacct.adobe.com"/>
    <proxyConfig>
      <proxyHTTP password="old-proxy-password-2023"/>
      <proxyHTTPS password="https-proxy-password"/>
    </proxyConfig>
  </shared>
  <mta autoStart="true" statServerAddress="app9.prod.example.com:7777" statServerAdress="app1.prod.example.com:7777"/>
  <pipelined authType="imsJwtToken" autoStart="true"/>
  <web>
    <relay>
      <url relayPath="true" targetUrl="http://localhost:8080" urlPath="/r/*"/>
      <url relayPath="true" targetUrl="http://localhost:8080" urlPath="/nms/jsp/*"/>
    </relay>
  </web>
  <wfserver autoStart="true"/>
</serverconf>
"#
    )
}

/// The production environment with both proxy passwords as secrets, and `deployed/app1` (app2's
/// file is missing: a new file).
fn review_repo() -> Repo {
    Repo::with_prod()
        .set_secret("prod", PROXY_HTTP, "new-proxy-password-2025")
        .set_secret("prod", PROXY_HTTPS, "https-proxy-password")
        .raw("../deployed/app1/config-mkt_prod.xml", deployed_app1())
        .folder("../deployed/app2")
}

fn diff(repo: &Repo, extra: &[&str]) -> crate::harness::Output {
    let mut args = vec!["-i", PROD_IDENTITY, "diff", "-e", "prod", "--deployed", "deployed"];
    args.extend(extra);
    repo.run(&args)
}

/// Nothing nlserver encrypted, and no deployed or repository plaintext, is ever printed.
#[track_caller]
fn assert_masked(out: &crate::harness::Output) {
    for needle in [
        NLSERVER_IMS_SECRET,
        NLSERVER_DB_PASSWORD,
        "old-proxy-password-2023",
        "new-proxy-password-2025",
        "https-proxy-password",
        "U2VjcmV0T25seU5sc2VydmVy",
        "Rm9vQmFyQmF6RW5jcnlwdGVk",
    ] {
        assert!(
            !out.stdout.contains(needle) && !out.stderr.contains(needle),
            "{needle} is printed:\n{}{}",
            out.stdout,
            out.stderr
        );
    }
}

fn version_filtered(text: &str) -> String {
    text.replace(&format!("\"nlconf_version\": \"{}\"", env!("CARGO_PKG_VERSION")), "\"nlconf_version\": \"[version]\"")
}

// Snapshots ---------------------------------------------------------------------------------------------

#[test]
fn review_text_json_and_markdown() {
    let repo = review_repo();
    let text = diff(&repo, &[]);
    text.assert_exit(0);
    assert_masked(&text);
    assert_snapshot!("review_text", text.transcript());
    let json = diff(&repo, &["--format", "json"]);
    json.assert_exit(0);
    assert_masked(&json);
    assert_snapshot!("review_json", version_filtered(&json.transcript()));
    let markdown = diff(&repo, &["--format", "markdown"]);
    markdown.assert_exit(0);
    assert_masked(&markdown);
    assert_snapshot!("review_markdown", markdown.transcript());
}

#[test]
fn a_rotated_secret_shows_changed_on_both_sides_and_an_unchanged_one_unchanged() {
    let out = diff(&review_repo(), &[]);
    out.assert_exit(0)
        .stdout_contains("-      <proxyHTTP password=\"(sensitive, changed: old value)\"/>\n")
        .stdout_contains("+      <proxyHTTP password=\"(sensitive, changed: new value)\"/>\n")
        .stdout_contains("       <proxyHTTPS password=\"(sensitive, unchanged)\"/>\n");
    let json: serde_json::Value = serde_json::from_str(&diff(&review_repo(), &["--format", "json"]).stdout).unwrap();
    let masked = &json["files"][0]["masked"];
    let status = |attr: &str| {
        masked
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["attribute"] == attr)
            .map(|m| m["status"].as_str().unwrap().to_string())
    };
    assert_eq!(status("shared/proxyConfig/proxyHTTP/@password").as_deref(), Some("changed"), "{masked}");
    assert_eq!(status("shared/proxyConfig/proxyHTTPS/@password").as_deref(), Some("unchanged"), "{masked}");
    // Without the key, secrets are not compared, and still not shown.
    let out = review_repo().run(&["diff", "-e", "prod", "--deployed", "deployed"]);
    out.assert_exit(0).stdout_contains("<proxyHTTPS password=\"(sensitive) not compared\"/>");
    assert!(!out.stdout.contains("(sensitive, changed"), "{}", out.stdout);
    assert_masked(&out);
}

#[test]
fn nlserver_ciphertexts_are_carried_over_and_never_printed() {
    // With all the context: the rendered side keeps what nlserver wrote.
    let out = diff(&review_repo(), &["-U", "1000"]);
    out.assert_exit(0)
        .stdout_contains("authIMSTAClientSecret=\"(sensitive, unchanged)\"")
        .stdout_contains(
            " <dbcnx encrypted=\"1\" login=\"campaign:mkt_prod\" password=\"(sensitive, unchanged)\" provider=\"PostgreSQL\" server=\"db1.prod.example.com\"/>",
        );
    assert!(!out.stdout.contains("-    <ims "), "the IMS credentials would be removed:\n{}", out.stdout);
    assert!(!out.stdout.contains("(sensitive, removed)"), "{}", out.stdout);
    assert_masked(&out);
    for args in [&["--semantic"][..], &["--format", "json", "-U", "1000"], &["--format", "markdown", "--semantic"]] {
        let out = diff(&review_repo(), args);
        out.assert_exit(0);
        assert_masked(&out);
    }
}

#[test]
fn an_attribute_acc_ignores_is_noted_with_a_suggestion() {
    let note = "the deployed file has `statServerAdress` on <mta>, which ACC does not know and ignores (did you mean `statServerAddress`?)";
    diff(&review_repo(), &[]).stdout_contains(&format!("# app1: {note}\n"));
    diff(&review_repo(), &["--format", "markdown"]).stdout_contains(&format!("- {note}\n"));
    let json: serde_json::Value = serde_json::from_str(&diff(&review_repo(), &["--format", "json"]).stdout).unwrap();
    assert_eq!(json["files"][0]["notes"][0], note);
}

// --semantic, -U, --detailed-exitcode --------------------------------------------------------------------

/// The production environment without Triggers (so no credential step: only files are compared),
/// and `deployed/` = exactly what it renders.
fn in_sync() -> Repo {
    let repo = Repo::with_prod().file(
        "environments/prod/zz-no-triggers.yaml",
        "
        instances:
          mkt_prod:
            ims: null
            serverconf:
              pipelined: null
        ",
    );
    repo.run(&["render", "-e", "prod", "--out", "deployed"]).assert_exit(0);
    repo
}

/// A twin of app1's rendered file that only differs in formatting: attribute order, quote style,
/// whitespace between elements, `<a></a>` for `<a/>`, a character reference, no comment.
const APP1_TWIN: &str = r#"<?xml version="1.0"?>
<serverconf><shared>
        <dataStore lang='en_US' hosts="console.example.com*,tracking.example.com*"><dataSource name="default">
  <dbcnx server="db1.prod.example.com" provider='PostgreSQL' login="campaign:mkt_prod"></dbcnx>
   </dataSource></dataStore>
  </shared>
  <mta statServerAddress="app1.prod.example.com:7777"    autoStart="&#116;rue" ></mta>
<web><relay>
      <url urlPath="/r/*" targetUrl="http://localhost:8080" relayPath="true"/>
      <url targetUrl='http://localhost:8080' relayPath="true" urlPath="/nms/jsp/*"></url>
    </relay>
  </web>
  <wfserver autoStart="true"></wfserver>
</serverconf>
"#;

#[test]
fn semantic_ignores_formatting_and_the_plain_diff_labels_a_cosmetic_file() {
    let repo = in_sync().raw("../deployed/app1/config-mkt_prod.xml", APP1_TWIN);
    repo.run(&["diff", "-e", "prod", "--deployed", "deployed", "--semantic", "--detailed-exitcode"])
        .assert_exit(0)
        .stdout_is(
            "
            app1: config-mkt_prod.xml: unchanged
            app2: config-mkt_prod.xml: unchanged
            prod: 0 of 2 files change (+0 -0)
            ",
        );
    let plain = repo.run(&["diff", "-e", "prod", "--deployed", "deployed", "--detailed-exitcode"]);
    plain
        .assert_exit(2)
        .stdout_contains("app1: config-mkt_prod.xml: modified (cosmetic only: formatting, no change ACC would see)");
    let json: serde_json::Value =
        serde_json::from_str(&repo.run(&["diff", "-e", "prod", "--deployed", "deployed", "--format", "json"]).stdout)
            .unwrap();
    assert_eq!(json["files"][0]["cosmetic_only"], true);
    assert_eq!(json["files"][1]["cosmetic_only"], false);
}

#[test]
fn semantic_still_shows_a_real_value_change() {
    let changed = APP1_TWIN.replace(
        "statServerAddress=\"app1.prod.example.com:7777\"",
        "statServerAddress=\"app3.prod.example.com:7777\"",
    );
    let repo = in_sync().raw("../deployed/app1/config-mkt_prod.xml", changed);
    let out = repo.run(&["diff", "-e", "prod", "--deployed", "deployed", "--semantic", "--detailed-exitcode"]);
    out.assert_exit(2)
        .stdout_contains("-  <mta autoStart=\"true\" statServerAddress=\"app3.prod.example.com:7777\"/>\n")
        .stdout_contains("+  <mta autoStart=\"true\" statServerAddress=\"app1.prod.example.com:7777\"/>\n")
        .stdout_contains("app1: config-mkt_prod.xml: modified (+1 -1)\n");
}

#[test]
fn detailed_exitcode_is_0_without_changes_2_with_changes_and_1_on_error() {
    let repo = in_sync();
    let args = ["diff", "-e", "prod", "--deployed", "deployed", "--detailed-exitcode"];
    repo.run(&args).assert_exit(0);
    let file = repo.work_path("deployed/app2/config-mkt_prod.xml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("autoStart=\"false\"", "autoStart=\"true\"")).unwrap();
    repo.run(&args).assert_exit(2);
    // Without the flag, changes are a success.
    repo.run(&args[..5]).assert_exit(0);
    std::fs::write(&file, "<serverconf><mta>").unwrap();
    repo.run(&args).assert_exit(1).stdout_is("");
    repo.run(&args[..5]).assert_exit(1);
}

/// The number of context lines in the (first) file's diff: up to the first blank line.
fn context_lines(stdout: &str) -> usize {
    stdout.split("\n\n").next().unwrap_or("").lines().filter(|l| l.starts_with(' ')).count()
}

#[test]
fn context_lines_follow_dash_u() {
    let repo = in_sync();
    let file = repo.work_path("deployed/app1/config-mkt_prod.xml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("app1.prod.example.com:7777", "app3.prod.example.com:7777")).unwrap();
    let out = repo.run(&["diff", "-e", "prod", "--deployed", "deployed", "-U", "0"]);
    out.assert_exit(0).stdout_contains(
        "
        --- deployed/app1/config-mkt_prod.xml (deployed/app1/config-mkt_prod.xml)
        +++ rendered/app1/config-mkt_prod.xml
        @@ -12,1 +12,1 @@
        -  <mta autoStart=\"true\" statServerAddress=\"app3.prod.example.com:7777\"/>
        +  <mta autoStart=\"true\" statServerAddress=\"app1.prod.example.com:7777\"/>

        "
        .trim_start_matches('\n')
        .replace("        ", "")
        .as_str(),
    );
    assert_eq!(context_lines(&out.stdout), 0, "context lines with -U 0:\n{}", out.stdout);
    out.stdout_contains("app1: config-mkt_prod.xml: modified (+1 -1)\napp2: config-mkt_prod.xml: unchanged\n");
    let default = repo.run(&["diff", "-e", "prod", "--deployed", "deployed"]);
    assert_eq!(
        context_lines(&default.stdout),
        6,
        "three lines of context on each side by default:\n{}",
        default.stdout
    );
    let one = repo.run(&["diff", "-e", "prod", "--deployed", "deployed", "-U", "1"]);
    assert_eq!(context_lines(&one.stdout), 2, "{}", one.stdout);
}

#[test]
fn malformed_deployed_xml_is_an_error_with_its_path_line_and_column() {
    let broken = "<?xml version='1.0'?>\n<serverconf>\n  <mta autoStart=\"true\">\n  <wfserver autoStart=\"true\"/>\n</serverconf>\n";
    let repo = in_sync().raw("../deployed/app2/config-mkt_prod.xml", broken);
    for format in ["text", "json", "markdown"] {
        let out = repo.run(&["diff", "-e", "prod", "--deployed", "deployed", "--format", format, "--semantic"]);
        out.assert_exit(1).stdout_is("").stderr_contains(
            "deployed/app2/config-mkt_prod.xml:5:1: error: app2: the deployed file is not well-formed XML",
        );
    }
    for (bad, at) in [
        ("<serverconf><mta a=\"1\" a=\"2\"/></serverconf>", "deployed/app2/config-mkt_prod.xml:1:"),
        ("<serverconf>\n<mta autoStart=\"true/>\n</serverconf>", "deployed/app2/config-mkt_prod.xml:"),
        ("", "deployed/app2/config-mkt_prod.xml:"),
        ("<serverconf>&nosuch;</serverconf>", "deployed/app2/config-mkt_prod.xml:1:"),
        ("\u{feff}<serverconf></serverconf><serverconf/>", "deployed/app2/config-mkt_prod.xml:1:"),
    ] {
        let repo = in_sync().raw("../deployed/app2/config-mkt_prod.xml", bad);
        repo.run(&["diff", "-e", "prod", "--deployed", "deployed", "--detailed-exitcode"])
            .assert_exit(1)
            .stderr_contains(at)
            .stderr_contains("app2:");
    }
    // Bytes that are not UTF-8.
    let repo = in_sync().raw("../deployed/app2/config-mkt_prod.xml", b"<serverconf a=\"\xff\xfe\"/>");
    repo.run(&["diff", "-e", "prod", "--deployed", "deployed"])
        .assert_exit(1)
        .stderr_contains("deployed/app2/config-mkt_prod.xml");
}

#[test]
fn an_unreadable_deployed_file_is_an_error_naming_container_and_path() {
    let repo = in_sync();
    std::fs::remove_file(repo.work_path("deployed/app1/config-mkt_prod.xml")).unwrap();
    std::fs::create_dir(repo.work_path("deployed/app1/config-mkt_prod.xml")).unwrap();
    repo.run(&["diff", "-e", "prod", "--deployed", "deployed", "--detailed-exitcode"])
        .assert_exit(1)
        .stdout_is("")
        .stderr_contains("deployed/app1/config-mkt_prod.xml: error: app1: cannot read the deployed file");
}

#[test]
fn a_missing_deployed_folder_is_an_error_not_a_fleet_of_new_files() {
    // A typo in --deployed (or a fetch step that failed) must not review every file as new.
    let repo = in_sync();
    let out = repo.run(&["diff", "-e", "prod", "--deployed", "deployde", "--detailed-exitcode"]);
    out.assert_exit(1).stderr_contains("deployde");
    assert!(!out.stdout.contains("new file"), "{}", out.stdout);
}

// --base ------------------------------------------------------------------------------------------------

pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let mut all =
        vec!["-c", "user.name=nlconf tests", "-c", "user.email=tests@example.com", "-c", "commit.gpgsign=false"];
    all.extend(args);
    String::from_utf8(tool_in(dir, "git", &all, b"")).unwrap()
}

#[test]
fn base_compares_with_another_revision_and_secrets_by_ciphertext() {
    if !have_tool("git") {
        return;
    }
    let repo = Repo::with_prod().set_secret("prod", PROXY_HTTP, "proxy-password").set_secret(
        "prod",
        PROXY_HTTPS,
        "https-password",
    );
    git(repo.root(), &["init", "-q", "-b", "main"]);
    git(repo.root(), &["add", "-A"]);
    git(repo.root(), &["commit", "-q", "-m", "first"]);
    // The change: a value, and the HTTP proxy password re-encrypted (same value, new ciphertext).
    let repo = repo
        .file(OVERRIDE, "instances:\n  mkt_prod:\n    serverconf:\n      mta: { statServerAddress: \"app2.prod.example.com:7777\" }\n")
        .set_secret("prod", PROXY_HTTP, "proxy-password");
    git(repo.root(), &["add", "-A"]);
    git(repo.root(), &["commit", "-q", "-m", "second"]);
    // No key needed.
    let out = repo.run(&["diff", "-e", "prod", "--base", "HEAD~1", "--detailed-exitcode"]);
    out.assert_exit(2)
        .stdout_contains("-      <proxyHTTP password=\"(sensitive, changed: old value)\"/>\n")
        .stdout_contains("+      <proxyHTTP password=\"(sensitive, changed: new value)\"/>\n")
        .stdout_contains("       <proxyHTTPS password=\"(sensitive, unchanged)\"/>\n")
        .stdout_contains("+  <mta autoStart=\"true\" statServerAddress=\"app2.prod.example.com:7777\"/>\n");
    assert!(!out.stdout.contains("proxy-password") && !out.stdout.contains("https-password"));
    assert_snapshot!("review_base_text", out.transcript());
    for format in ["json", "markdown"] {
        repo.run(&["diff", "-e", "prod", "--base", "HEAD~1", "--format", format]).assert_exit(0);
    }
    let json: serde_json::Value =
        serde_json::from_str(&repo.run(&["diff", "-e", "prod", "--base", "HEAD~1", "--format", "json"]).stdout)
            .unwrap();
    assert_eq!(json["against"], "base");
    assert_eq!(json["base"], "HEAD~1");
    // Against itself: nothing changes, and the ciphertexts compare unchanged.
    repo.run(&["diff", "-e", "prod", "--base", "HEAD", "--detailed-exitcode"]).assert_exit(0);
    // A working-tree change counts (the review runs before committing too).
    let repo = repo.file(
        OVERRIDE,
        "instances:\n  mkt_prod:\n    serverconf:\n      mta: { statServerAddress: \"app3.prod.example.com:7777\" }\n",
    );
    repo.run(&["diff", "-e", "prod", "--base", "HEAD", "--detailed-exitcode"])
        .assert_exit(2)
        .stdout_contains("+  <mta autoStart=\"true\" statServerAddress=\"app3.prod.example.com:7777\"/>\n");
}

#[test]
fn base_shows_a_rotated_secret_when_nothing_else_changed() {
    if !have_tool("git") {
        return;
    }
    let repo = Repo::with_prod().set_secret("prod", PROXY_HTTP, "old-proxy-password");
    git(repo.root(), &["init", "-q", "-b", "main"]);
    git(repo.root(), &["add", "-A"]);
    git(repo.root(), &["commit", "-q", "-m", "first"]);
    // The pull request only rotates the password: the rendered files differ in that secret only.
    let repo = repo.set_secret("prod", PROXY_HTTP, "new-proxy-password");
    let out = repo.run(&["diff", "-e", "prod", "--base", "HEAD", "--detailed-exitcode"]);
    out.assert_exit(2)
        .stdout_contains("-      <proxyHTTP password=\"(sensitive, changed: old value)\"/>\n")
        .stdout_contains("+      <proxyHTTP password=\"(sensitive, changed: new value)\"/>\n")
        .stdout_contains("prod: 2 of 2 files change");
}

#[test]
fn base_with_an_environment_new_in_this_change_shows_every_file_as_new() {
    if !have_tool("git") {
        return;
    }
    let repo = Repo::with_prod();
    git(repo.root(), &["init", "-q", "-b", "main"]);
    git(repo.root(), &["add", "-A"]);
    git(repo.root(), &["commit", "-q", "-m", "first"]);
    let stage = crate::harness::PROD_ENVIRONMENT.replace("prod", "stage");
    let repo = repo
        .raw("environments/stage/environment.yaml", stage)
        .raw("environments/stage/recipients", crate::harness::PROD_RECIPIENTS);
    let out = repo.run(&["diff", "-e", "stage", "--base", "HEAD", "--detailed-exitcode"]);
    out.assert_exit(2)
        .stdout_contains("app1: config-mkt_stage.xml: new file")
        .stdout_contains("app2: config-mkt_stage.xml: new file");
}

#[test]
fn base_with_a_missing_revision_is_a_clear_error() {
    if !have_tool("git") {
        return;
    }
    let repo = Repo::with_prod();
    // Not a git work tree at all.
    repo.run(&["diff", "-e", "prod", "--base", "origin/main"])
        .assert_exit(1)
        .stdout_is("")
        .stderr_contains("error: --base origin/main: the repository is not in a git work tree");
    git(repo.root(), &["init", "-q", "-b", "main"]);
    git(repo.root(), &["add", "-A"]);
    git(repo.root(), &["commit", "-q", "-m", "first"]);
    for rev in ["origin/main", "no-such-branch", "0123456789abcdef0123456789abcdef01234567"] {
        repo.run(&["diff", "-e", "prod", "--base", rev, "--detailed-exitcode"]).assert_exit(1).stdout_is("").stderr_is(
            &format!(
                "
            error: --base {rev}: no such revision in this clone
              help: in a shallow CI clone, fetch it first, e.g. `git fetch --depth=1 origin main` for --base origin/main
            "
            ),
        );
    }
    // --base and --deployed together make no sense.
    repo.run(&["diff", "-e", "prod", "--base", "HEAD", "--deployed", "deployed"]).assert_exit(1);
}

// Markdown size ----------------------------------------------------------------------------------------

#[test]
fn markdown_stays_under_github_s_limit_and_says_what_it_left_out() {
    // 300 relay urls on 12 containers, every target changed on the deployed side.
    let mut yaml = String::from("instances:\n  mkt_prod:\n    containers:\n");
    for c in 3..=12 {
        yaml.push_str(&format!("      app{c}: {{ host: app{c}.prod.example.com }}\n"));
    }
    yaml.push_str("    serverconf:\n      web:\n        relay:\n          url:\n");
    for i in 0..300 {
        yaml.push_str(&format!(
            "            - {{ urlPath: \"/relay/path-{i:03}/*\", targetUrl: \"http://backend-{i:03}.internal.example.com:8080\", relayPath: true }}\n"
        ));
    }
    let repo = Repo::with_prod().raw(OVERRIDE, yaml);
    repo.run(&["render", "-e", "prod", "--out", "deployed"]).assert_exit(0);
    for c in 1..=12 {
        let file = repo.work_path(&format!("deployed/app{c}/config-mkt_prod.xml"));
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, text.replace(":8080\"", ":9090\"")).unwrap();
    }
    let text = repo.run(&["diff", "-e", "prod", "--deployed", "deployed"]);
    assert!(text.assert_exit(0).stdout.len() > 200_000, "the test needs a huge diff");
    let out =
        repo.run(&["diff", "-e", "prod", "--deployed", "deployed", "--format", "markdown", "--detailed-exitcode"]);
    out.assert_exit(2);
    let md = &out.stdout;
    assert!(md.chars().count() < 65_536, "{} characters", md.chars().count());
    assert!(md.len() < 65_536, "{} bytes", md.len());
    // Every file is still in the table, and the comment says what it left out and how to see it.
    for c in 1..=12 {
        assert!(
            md.contains(&format!("| prod | mkt_prod | app{c} | `config-mkt_prod.xml` |")),
            "app{c} missing from the table"
        );
    }
    assert!(md.contains("left out"), "{md}");
    assert!(md.contains("nlconf diff -e prod"), "{md}");
    // Diff blocks are balanced: no code fence cut in the middle.
    assert_eq!(md.matches("```").count() % 2, 0);
    assert_eq!(md.matches("<details>").count(), md.matches("</details>").count());
}

// Canonical comparison as a property ------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
}

fn value() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 &<>\"'$(){}.:/*=-]{0,12}"
}

fn node(depth: u32) -> BoxedStrategy<Node> {
    let names = prop::sample::select(vec!["mta", "web", "relay", "url", "shared", "dataStore", "wfserver", "child"]);
    let attrs = prop::collection::btree_map(
        prop::sample::select(vec!["a", "b", "autoStart", "urlPath", "targetUrl", "x-y", "c_d", "IPMask"]),
        value(),
        0..5,
    )
    .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<Vec<_>>());
    if depth == 0 {
        (names, attrs).prop_map(|(n, a)| Node { name: n.to_string(), attrs: a, children: vec![] }).boxed()
    } else {
        (names, attrs, prop::collection::vec(node(depth - 1), 0..4))
            .prop_map(|(n, a, c)| Node { name: n.to_string(), attrs: a, children: c })
            .boxed()
    }
}

/// How to write a document: each choice is driven by `seed` so the twin differs everywhere it may.
#[derive(Debug, Clone, Copy)]
struct Style {
    seed: u64,
}

impl Style {
    fn pick(&mut self, n: u64) -> u64 {
        // xorshift: deterministic, different at every call.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        self.seed % n
    }
}

fn escape(v: &str, style: &mut Style) -> String {
    let mut out = String::new();
    for c in v.chars() {
        let by_ref = style.pick(4) == 0;
        match c {
            '&' => out.push_str(if by_ref { "&#38;" } else { "&amp;" }),
            '<' => out.push_str(if by_ref { "&#x3C;" } else { "&lt;" }),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '>' if by_ref => out.push_str("&gt;"),
            c if by_ref && c.is_ascii_alphanumeric() => out.push_str(&format!("&#{};", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Writes `node`: plainly (`style` None) or with shuffled attributes, random quotes, indentation and
/// line breaks, `<a></a>` for `<a/>`, and character references.
fn write(node: &Node, depth: usize, style: &mut Option<Style>, out: &mut String) {
    let indent = match style {
        None => "  ".repeat(depth),
        Some(s) => " ".repeat(s.pick(7) as usize),
    };
    out.push_str(&indent);
    out.push('<');
    out.push_str(&node.name);
    let mut attrs = node.attrs.clone();
    if let Some(s) = style {
        for i in (1..attrs.len()).rev() {
            let j = s.pick(i as u64 + 1) as usize;
            attrs.swap(i, j);
        }
    }
    for (k, v) in &attrs {
        match style {
            None => out.push_str(&format!(" {k}=\"{}\"", nlconf::support::xml::escape(v))),
            Some(s) => {
                let space = ["", " ", "\n   ", "\t"][s.pick(4) as usize];
                let q = if s.pick(2) == 0 { '"' } else { '\'' };
                out.push_str(&format!(" {space}{k}{}={q}{}{q}", if s.pick(3) == 0 { " " } else { "" }, escape(v, s)));
            }
        }
    }
    let long_empty = style.as_mut().is_some_and(|s| s.pick(2) == 0);
    if node.children.is_empty() && !long_empty {
        out.push_str("/>");
    } else {
        out.push('>');
        for c in &node.children {
            if style.as_mut().is_none_or(|s| s.pick(3) != 0) {
                out.push('\n');
            }
            write(c, depth + 1, style, out);
        }
        if !node.children.is_empty() && style.as_mut().is_none_or(|s| s.pick(2) == 0) {
            out.push('\n');
            out.push_str(&indent);
        }
        out.push_str(&format!("</{}>", node.name));
    }
}

fn document(children: &[Node], style: Option<Style>) -> String {
    let mut style = style;
    let root = Node { name: "serverconf".into(), attrs: vec![], children: children.to_vec() };
    let mut out = String::from(if style.is_some() {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    } else {
        "<?xml version='1.0'?>\n"
    });
    if style.is_some() {
        out.push_str("<!-- hand-edited on the server -->\n");
    }
    write(&root, 0, &mut style, &mut out);
    out.push('\n');
    out
}

fn canonical(text: &str) -> String {
    let tree = nlconf::support::xml::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    nlconf::review::canonical::canonical(&tree)
}

/// The same tree with one attribute value changed (the `n`-th attribute found, depth first).
fn with_one_value_changed(nodes: &mut [Node], n: &mut usize) -> bool {
    for node in nodes {
        for (_, v) in node.attrs.iter_mut() {
            if *n == 0 {
                v.push('x');
                return true;
            }
            *n -= 1;
        }
        if with_one_value_changed(&mut node.children, n) {
            return true;
        }
    }
    false
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_file_and_its_reformatted_twin_are_semantically_equal_and_a_changed_value_never_is(
        children in prop::collection::vec(node(2), 1..5),
        seed in 1u64..u64::MAX,
        which in 0usize..64,
    ) {
        let plain = document(&children, None);
        let twin = document(&children, Some(Style { seed }));
        prop_assert_eq!(canonical(&plain), canonical(&twin), "\n{}\n---\n{}", plain, twin);
        let mut changed = children.clone();
        let count: usize = {
            fn count(n: &[Node]) -> usize { n.iter().map(|x| x.attrs.len() + count(&x.children)).sum() }
            count(&changed)
        };
        if count > 0 {
            let mut n = which % count;
            prop_assert!(with_one_value_changed(&mut changed, &mut n));
            let changed_twin = document(&changed, Some(Style { seed: seed ^ 0x9e37_79b9_7f4a_7c15 }));
            prop_assert_ne!(canonical(&plain), canonical(&changed_twin), "\n{}\n---\n{}", plain, changed_twin);
        }
    }
}

/// A real rendered file, parsed and written back reformatted.
fn reformatted(text: &str, seed: u64, change: Option<usize>) -> String {
    fn convert(el: &nlconf::support::xml::XmlElement) -> Node {
        let attrs = el.attrs().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        Node { name: el.name.to_string(), attrs, children: el.children.iter().map(convert).collect() }
    }
    let root = convert(&nlconf::support::xml::parse(text).unwrap());
    let mut children = root.children;
    if let Some(mut n) = change {
        assert!(with_one_value_changed(&mut children, &mut n));
    }
    document(&children, Some(Style { seed }))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn through_the_cli_a_reformatted_deployed_file_is_unchanged_and_a_changed_value_is_a_change(
        seed in 1u64..u64::MAX,
        which in 0usize..12,
    ) {
        let repo = in_sync();
        let file = repo.work_path("deployed/app2/config-mkt_prod.xml");
        let rendered = std::fs::read_to_string(&file).unwrap();
        let args = ["diff", "-e", "prod", "--deployed", "deployed", "--semantic", "--detailed-exitcode"];
        std::fs::write(&file, reformatted(&rendered, seed, None)).unwrap();
        repo.run(&args).assert_exit(0);
        std::fs::write(&file, reformatted(&rendered, seed, Some(which))).unwrap();
        repo.run(&args).assert_exit(2);
    }
}

/// A repository with a mistake is reported before any server is contacted: with an ssh target, no
/// `ssh` runs (a stand-in on PATH records each call) until every container's settings check out.
#[test]
fn a_schema_error_is_reported_before_any_server_is_contacted() {
    use std::os::unix::fs::PermissionsExt;
    let bin = tempfile::tempdir().unwrap();
    let calls = bin.path().join("calls");
    let ssh = bin.path().join("ssh");
    std::fs::write(&ssh, format!("#!/bin/sh\necho \"$@\" >> '{}'\nexit 255\n", calls.display())).unwrap();
    std::fs::set_permissions(&ssh, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default());
    let env = [("PATH", path.as_str())];

    // The stand-in is what a review of this target runs.
    let repo = Repo::with_prod();
    repo.run_with(&["diff", "-e", "prod"], b"", &env).assert_exit(1).stderr_contains("cannot read");
    assert!(calls.exists(), "the review did not go through the ssh stand-in");
    std::fs::remove_file(&calls).unwrap();

    // Only app2 is wrong: app1 alone would be worth reading.
    let text = repo.read(crate::harness::PROD_FILE).replace("mta: { autoStart: false }", "mta: { autoStart: maybe }");
    let repo = repo.raw(crate::harness::PROD_FILE, text);
    for args in [&["diff", "-e", "prod"][..], &["plan", "-e", "prod", "--out", "p.json"]] {
        let out = repo.run_with(args, b"", &env);
        out.assert_exit(1)
            .assert_no_panic()
            .stderr_contains("`autoStart` is a Boolean: expected true or false, found `maybe`");
        assert!(!out.stderr.contains("cannot read"), "{}", out.stderr);
        assert!(
            !calls.exists(),
            "{args:?} contacted a server: {}",
            std::fs::read_to_string(&calls).unwrap_or_default()
        );
    }
}

/// An `!age` secret on an attribute the schema does not call sensitive is plaintext in the deployed
/// file: the review masks it there too, with or without the key. (Without the key, the change
/// cannot be told: the value is shown "not compared".)
#[test]
fn a_secret_on_an_ordinary_attribute_is_masked_on_the_deployed_side_too() {
    const VALUE: &str = "leaky-plaintext-4242";
    const ROTATED: &str = "rotated-plaintext-5151";
    let path = "instances.mkt_prod.serverconf.shared.dataStore.hosts";
    let repo = Repo::with_prod().set_secret("prod", path, VALUE);
    // What apply would have written: the plaintext, in the deployed copy.
    repo.run(&["-i", PROD_IDENTITY, "render", "-e", "prod", "--out", "deployed", "--reveal"]).assert_exit(0);
    assert!(std::fs::read_to_string(repo.work_path("deployed/app1/config-mkt_prod.xml")).unwrap().contains(VALUE));
    let repo = repo.set_secret("prod", path, ROTATED);
    for key in [&["-i", PROD_IDENTITY][..], &[]] {
        for format in ["text", "json", "markdown"] {
            let mut args = key.to_vec();
            args.extend(["diff", "-e", "prod", "--deployed", "deployed", "-U", "1000", "--format", format]);
            let out = repo.run(&args);
            out.assert_exit(0);
            for needle in [VALUE, ROTATED] {
                assert!(
                    !out.stdout.contains(needle) && !out.stderr.contains(needle),
                    "{needle} in {args:?}:\n{}",
                    out.stdout
                );
            }
        }
    }
    let out = repo.run(&["-i", PROD_IDENTITY, "diff", "-e", "prod", "--deployed", "deployed"]);
    out.stdout_contains("hosts=\"(sensitive, changed: old value)\"")
        .stdout_contains("hosts=\"(sensitive, changed: new value)\"");
    let json = repo.run(&["diff", "-e", "prod", "--deployed", "deployed", "--format", "json"]);
    assert!(json.stdout.contains("\"attribute\": \"shared/dataStore/@hosts\""), "{}", json.stdout);
}
