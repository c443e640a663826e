//! Rough edges a new user met (issue 17 item 5): where `make demo` finds the binary, what `-q`
//! keeps of a review, one order of containers in every review, the break-glass line, help texts that
//! name what they know.

use crate::apply::Site;

#[test]
fn make_uses_the_target_folder_cargo_reports() {
    if !crate::harness::have_tool("make") {
        assert!(std::env::var_os("CI").is_none(), "make is not installed, and CI is set");
        return;
    }
    let root = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new("make")
        .args(["-n", "demo", "man", "dist"])
        .current_dir(root)
        .env("CARGO_TARGET_DIR", "/tmp/nlconf-elsewhere")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("NLCONF=\"/tmp/nlconf-elsewhere/debug/nlconf\" ./demo/demo.sh"), "{text}");
    assert!(text.contains("\"/tmp/nlconf-elsewhere/debug/nlconf\" man"), "{text}");
    assert!(!text.contains(" target/debug/nlconf"), "{text}");
    // `make dist`: a release build for a static target, copied with its checksum into dist/.
    let dist = "/tmp/nlconf-elsewhere/dist/nlconf-";
    let build = text.lines().find(|l| l.starts_with("RUSTFLAGS=")).unwrap_or_default();
    assert!(build.starts_with("RUSTFLAGS='-C target-feature=+crt-static' "), "{text}");
    assert!(build.ends_with(" build --release --locked --target x86_64-unknown-linux-musl"), "{text}");
    assert!(
        text.contains(&format!("cp \"/tmp/nlconf-elsewhere/x86_64-unknown-linux-musl/release/nlconf\" \"{dist}")),
        "{text}"
    );
    assert!(text.contains("sha256sum \"nlconf-") && text.contains(".sha256"), "{text}");
}

#[test]
fn quiet_keeps_the_totals_of_a_text_review() {
    let site = Site::local();
    let out = site.run(&["-q", "diff", "-e", "prod", "--detailed-exitcode"]);
    out.assert_exit(2);
    assert_eq!(out.stdout, "prod: 4 of 4 files change (+38 -0), 4 new; 2 credential steps\n");
    let plan = site.run(&["-q", "plan", "-e", "prod", "--out", "p.plan"]);
    plan.assert_exit(0);
    assert_eq!(plan.stdout, "prod: 4 of 4 files change (+38 -0), 4 new; 2 credential steps\n");
    assert_eq!(plan.stderr, "", "-q printed notes");
    // JSON is asked for by name: whole.
    assert!(
        site.run(&["-q", "diff", "-e", "prod", "--format", "json"]).stdout.contains("\"schema\": \"nlconf.review/v1\"")
    );
}

#[test]
fn every_review_lists_containers_in_the_yaml_order() {
    let site = Site::local();
    // app3 before app1 in the YAML: not the alphabetical order.
    site.edit(
        "      app1: { host: 127.0.0.1 }\n      app3: { host: 127.0.0.1 }\n",
        "      app3: { host: 127.0.0.1 }\n      app1: { host: 127.0.0.1 }\n",
    );
    site.repo.tool("git", &["init", "-q", "-b", "main"], b"");
    site.repo.tool("git", &["-c", "user.email=t@example.com", "-c", "user.name=t", "add", "-A"], b"");
    site.repo.tool("git", &["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "base"], b"");
    site.edit("hosts: \"mid.example.com*\"", "hosts: \"mid2.example.com*\"");
    site.edit("hosts: \"console.example.com*\"", "hosts: \"console2.example.com*\"");
    let lines = |out: &str| {
        crate::apply::summary(out)
            .iter()
            .map(|l| l.split(": ").take(2).collect::<Vec<_>>().join(": "))
            .collect::<Vec<_>>()
    };
    let deployed = lines(&site.run(&["diff", "-e", "prod"]).stdout);
    let base = lines(&site.run(&["diff", "-e", "prod", "--base", "HEAD"]).stdout);
    assert_eq!(
        deployed,
        [
            "app3: config-mid_prod.xml",
            "app1: config-mid_prod.xml",
            "app1: config-mkt_prod.xml",
            "app2: config-mkt_prod.xml"
        ]
    );
    assert_eq!(base, deployed);
}

#[test]
fn a_null_that_removes_nothing_is_a_warning_at_its_line() {
    let site = Site::local();
    std::fs::write(
        site.repo.path("environments/prod/zz-override.yaml"),
        "defaults:\n  serverconf:\n    mta: { logLevel: null }\ninstances:\n  mkt_prod:\n    serverconf:\n      mta: { autoStart: null }\n      wfserver: null\n",
    )
    .unwrap();
    let out = site.run(&["validate"]);
    out.assert_exit(0);
    out.stderr_contains("environments/prod/zz-override.yaml:3:22: warning: `defaults.serverconf.mta.logLevel: null` removes nothing: no lower layer sets it");
    out.stderr_contains("environments/prod/zz-override.yaml:8:17: warning: `instances.mkt_prod.serverconf.wfserver: null` removes nothing: no lower layer sets it");
    // `autoStart` is set by the file below: that null removes it, and says nothing.
    assert!(!out.stderr.contains("mta.autoStart: null"), "{}", out.stderr);
}

/// Each finding once per run, whatever the command loads and renders along the way.
#[test]
fn a_warning_is_printed_once() {
    let yaml = format!(
        "instances:\n  mkt_prod:\n    serverconf:\n      shared:\n        proxyConfig:\n          proxyHTTP:\n            password: !age |\n{}",
        crate::secrets::indented(crate::secrets::HAND_ENCRYPTED, 14)
    );
    let repo = crate::harness::Repo::with_prod().raw("environments/prod/override.yaml", yaml);
    for args in [vec!["validate"], vec!["diff", "-e", "prod", "--deployed", "nowhere"], vec!["render", "-e", "prod"]] {
        let out = repo.run(&args);
        assert_eq!(out.stderr.matches("unbound secret").count(), 1, "{args:?}:\n{}", out.stderr);
    }
}

/// The README's break-glass line (yq and the age CLI, no nlconf) decrypts the example's secret with
/// the demo key, and a value encrypted by hand (no nlconf header) too. It runs with the `yq` on PATH:
/// kislyuk's in CI (Debian's package), Mike Farah's where that is the one installed.
#[test]
fn the_readme_break_glass_line_decrypts_with_yq_and_age() {
    use crate::harness::{have_tool, tool_in};
    use std::path::Path;
    if !have_tool("yq") || !have_tool("age") || !have_tool("bash") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let from = readme.find("**Break-glass decryption**").expect("the README's break-glass section");
    let line = readme[from..].lines().find(|l| l.starts_with("yq ")).expect("a yq line in the break-glass section");
    let key = root.join("demo/keys/demo-ONLY-alice.agekey").display().to_string();
    let line = line.replace("key.txt", &key);
    let yq = String::from_utf8_lossy(&tool_in(root, "yq", &["--version"], b"")).trim().to_string();
    let run = |dir: &Path| String::from_utf8(tool_in(dir, "bash", &["-o", "pipefail", "-c", &line], b"")).unwrap();

    // The armor of the example's client secret, decrypted by age directly.
    let yaml = std::fs::read_to_string(root.join("environments/prod/mkt_prod.yaml")).unwrap();
    let at = yaml.find("clientSecret: !age |").unwrap();
    let end = at + yaml[at..].find("-----END AGE ENCRYPTED FILE-----").unwrap();
    let armor: String = yaml[at..end]
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .filter(|l| !l.is_empty())
        .chain(["-----END AGE ENCRYPTED FILE-----"])
        .map(|l| format!("{l}\n"))
        .collect();
    let expected = String::from_utf8(tool_in(root, "age", &["-d", "-i", &key], armor.as_bytes())).unwrap();
    assert!(!expected.is_empty());
    assert_eq!(run(root), expected, "with {yq}: {line}");

    // Encrypted by hand: the armor is the whole value (`sed 1d` cut its first line).
    let dir = tempfile::tempdir().unwrap();
    let public = "age1af3x6qs0h7d84pte7tmy6m3k5ejxyf5tcmkkvp440r8x7kg405rq2k24gm";
    let by_hand = String::from_utf8(tool_in(dir.path(), "age", &["-a", "-r", public], b"demo-ONLY-by-hand")).unwrap();
    let indented: String = by_hand.lines().map(|l| format!("        {l}\n")).collect();
    std::fs::create_dir_all(dir.path().join("environments/prod")).unwrap();
    std::fs::write(
        dir.path().join("environments/prod/mkt_prod.yaml"),
        format!("instances:\n  mkt_prod:\n    ims:\n      clientSecret: !age |\n{indented}"),
    )
    .unwrap();
    assert_eq!(run(dir.path()), "demo-ONLY-by-hand", "with {yq}: {line}");
}

/// A help names the environment and the YAML path it knows, in the layer that wrote the value:
/// `secret set` then replaces that very value.
#[test]
fn helps_name_the_environment_and_the_yaml_path() {
    let repo = crate::harness::Repo::with_prod().file(
        crate::harness::OVERRIDE,
        "
        defaults:
          serverconf:
            shared:
              proxyConfig:
                proxyHTTPS:
                  password: hunter3
        instances:
          mkt_prod:
            serverconf:
              shared:
                proxyConfig:
                  proxyHTTP:
                    password: hunter2
            containerOverrides:
              app2:
                serverconf:
                  shared:
                    proxyConfig:
                      proxyHTTP:
                        password: hunter4
        ",
    );
    let out = repo.run(&["validate"]);
    out.assert_exit(1);
    for help in [
        "environments/prod/override.yaml:6:21: error: `password` of <proxyHTTPS> is sensitive: it must not be stored in plain text\n  help: store it encrypted: nlconf secret set -e prod defaults.serverconf.shared.proxyConfig.proxyHTTPS.password\n",
        "environments/prod/override.yaml:13:23: error: `password` of <proxyHTTP> is sensitive: it must not be stored in plain text\n  help: store it encrypted: nlconf secret set -e prod instances.mkt_prod.serverconf.shared.proxyConfig.proxyHTTP.password\n",
        "environments/prod/override.yaml:20:27: error: `password` of <proxyHTTP> is sensitive: it must not be stored in plain text\n  help: store it encrypted: nlconf secret set -e prod instances.mkt_prod.containerOverrides.app2.serverconf.shared.proxyConfig.proxyHTTP.password\n",
    ] {
        assert_eq!(out.stderr.matches(help).count(), 1, "{help}\nnot once in:\n{}", out.stderr);
    }
    // The path given is the value's: set there, the plain-text value is gone.
    let repo = repo.set_secret(
        "prod",
        "instances.mkt_prod.containerOverrides.app2.serverconf.shared.proxyConfig.proxyHTTP.password",
        "demo-ONLY-proxy",
    );
    assert!(!repo.run(&["validate"]).stderr.contains("containerOverrides.app2"));

    crate::harness::Repo::with_prod()
        .file(crate::harness::OVERRIDE, "instances: { mkt_prod: { ims: { clientSecret: 5b1c8e2f-not-encrypted } } }")
        .run(&["validate"])
        .assert_exit(1)
        .stderr_contains("help: encrypt it: nlconf secret set -e prod instances.mkt_prod.ims.clientSecret\n");

    let empty = crate::harness::Repo::with_prod().file(
        crate::harness::OVERRIDE,
        "
        instances:
          mkt_prod:
            serverconf:
              shared:
                proxyConfig:
                  proxyHTTP: { password: !age \"\" }
        ",
    );
    empty.run(&["validate"]).assert_exit(1).stderr_contains(
        "help: set it with: nlconf secret set -e prod instances.mkt_prod.serverconf.shared.proxyConfig.proxyHTTP.password\n",
    );
    let unmanaged = crate::harness::Repo::with_prod().file(
        crate::harness::OVERRIDE,
        "
        instances:
          mkt_prod:
            ims: { auth: null, clientSecret: null, orgId: null }
        ",
    );
    unmanaged.run(&["validate"]).stderr_contains("nlconf secret set -e prod instances.mkt_prod.ims.clientSecret\n");
    crate::harness::Repo::with_prod()
        .run(&["render", "-e", "prod", "--container", "nosuch"])
        .assert_exit(1)
        .stderr_contains("help: nlconf render -e prod lists every container of the environment\n");
}

/// No help or message in the sources says `-e ENV` or `<path to ...>` where it could name them.
#[test]
fn no_message_in_the_sources_has_a_placeholder_for_a_known_name() {
    fn walk(dir: &std::path::Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (i, line) in text.lines().enumerate() {
                    let code = line.trim_start();
                    if !code.starts_with("//") && (code.contains("-e ENV") || code.contains("<path to")) {
                        found.push(format!("{}:{}: {code}", path.display(), i + 1));
                    }
                }
            }
        }
    }
    let mut found = Vec::new();
    walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut found);
    assert!(found.is_empty(), "placeholders where the names are known:\n{}", found.join("\n"));
}

/// How many times mimalloc gave memory back to the system in a run of `nlconf validate` on the
/// shipped example (its statistics, printed at exit with MIMALLOC_SHOW_STATS).
fn purges(extra_env: &[(&str, &str)]) -> u64 {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nlconf"))
        .args(["-C", env!("CARGO_MANIFEST_DIR"), "validate"])
        .env("MIMALLOC_SHOW_STATS", "1")
        .env_remove("MIMALLOC_PURGE_DELAY")
        .envs(extra_env.iter().copied())
        .output()
        .unwrap();
    let stats = String::from_utf8_lossy(&out.stderr);
    let line = stats.lines().find(|l| l.trim_start().starts_with("purges:")).expect("mimalloc's statistics");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a count of purges")
}

#[test]
fn memory_freed_in_a_run_is_kept_for_the_run() {
    // Given back and touched again, freed memory costs a page fault and a cleared page each time:
    // a run lasts a fraction of a second, so nlconf keeps it (src/main.rs)...
    assert_eq!(purges(&[]), 0);
    // ...where mimalloc would give it back (which shows the count is read), and the variable still
    // decides when set.
    assert!(purges(&[("MIMALLOC_PURGE_DELAY", "0")]) > 0);
}
