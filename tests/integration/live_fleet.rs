//! Operating a live fleet (DESIGN §10, issue 15): adopting a running environment without running
//! nlserver, a change ACC would not see written without a reload, the restart policy, re-applied
//! plans, and what explain says nlconf adds by rule.

use crate::apply::{FILES, Site};

/// A site as an administrator finds it before nlconf: the files in place (with the encrypted
/// credentials nlserver wrote), no state record, and one file formatted by other hands.
fn running_without_records() -> Site {
    let site = Site::local();
    site.deploy();
    for (c, _) in FILES {
        let _ = std::fs::remove_dir_all(site.conf(c).join(".nlconf"));
    }
    let file = site.deployed("app2", "config-mkt_prod.xml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("<mta autoStart=\"true\"/>", "<mta   autoStart='true' ></mta>")).unwrap();
    site
}

#[test]
fn adopt_records_a_running_environment_without_running_nlserver() {
    let site = running_without_records();
    // Without records, a plan would set every credential again and restart pipelined.
    site.plan("before.plan", 2)
        .stdout_contains("# no record of the IMS technical-account credentials on this container");
    let out = site.run(&["adopt", "-e", "prod"]);
    out.assert_exit(0);
    out.stdout_contains("adopted app1 (mkt_prod): recorded ims\n");
    out.stdout_contains(
        "adopted app2 (mkt_prod): rewrote config-mkt_prod.xml in nlconf's form (formatting only), recorded ims\n",
    );
    out.stdout_contains("adopted app3 (mid_prod): recorded (no credential step)\n");
    out.stdout_contains("4 of 4 containers adopted");
    out.stderr_contains("nlconf cannot check the secrets themselves against the deployed ciphertexts");
    assert!(site.take_argv().is_empty(), "adopt ran nlserver");
    // The first plan has nothing to do.
    site.plan("after.plan", 0);
    assert!(site.take_argv().is_empty());
}

#[test]
fn adopt_leaves_a_container_whose_deployed_client_id_differs_and_exits_1() {
    let site = running_without_records();
    let file = site.deployed("app2", "config-mkt_prod.xml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace(
            "authIMSTAClientId=\"e053e1a87cf74c68a6ec8e71d4a82662\"",
            "authIMSTAClientId=\"0a1b2c3d4e5f60718293a4b5c6d7e8f9\"",
        ),
    )
    .unwrap();
    let out = site.run(&["adopt", "-e", "prod"]);
    out.assert_exit(1);
    out.stdout_contains("NOT adopted app2 (mkt_prod): the IMS technical-account credentials: the deployed authIMSTAClientId is `0a1b2c3d4e5f60718293a4b5c6d7e8f9`, not the YAML's");
    out.stdout_contains("3 of 4 containers adopted");
    assert!(!site.conf("app2").join(".nlconf/state-mkt_prod.json").exists(), "a refused container got a record");
    assert!(site.take_argv().is_empty());
    // --instance limits adopt to an instance.
    let _ = std::fs::remove_dir_all(site.conf("app3").join(".nlconf"));
    site.run(&["adopt", "-e", "prod", "--instance", "mid_prod"])
        .assert_exit(0)
        .stdout_contains("2 of 2 containers adopted");
}

#[test]
fn a_change_acc_would_not_see_is_written_without_a_reload() {
    let site = Site::local();
    site.deploy();
    let file = site.deployed("app1", "config-mid_prod.xml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("<mta autoStart=\"true\"/>", "<mta autoStart='true'></mta>")).unwrap();
    let out = site.plan("p.plan", 2);
    out.stdout_contains("app1: config-mid_prod.xml: modified (cosmetic only: formatting, no change ACC would see)");
    assert!(!out.stdout.contains("config -reload"), "a reload for a formatting change:\n{}", out.stdout);
    site.apply("p.plan").stdout_contains("app1 (mid_prod): done: wrote config-mid_prod.xml\n");
    assert!(site.take_argv().is_empty(), "nlserver ran for a formatting change");
    site.plan("q.plan", 0);
}

#[test]
fn applying_a_plan_again_says_already_applied_and_runs_nothing() {
    let site = Site::local();
    site.plan("p.plan", 2);
    site.apply("p.plan");
    site.take_argv();
    let before = site.tree();
    site.apply("p.plan").stdout_contains("apply prod: already applied");
    assert!(site.take_argv().is_empty(), "a re-applied plan ran nlserver");
    assert_eq!(crate::apply::tree_differences(&before, &site.tree()), Vec::<String>::new());
    // Carried out in part (a step failed on one container): the plan stays stale.
    let site = Site::local();
    site.plan("p.plan", 2);
    site.run_env(&["apply", "p.plan"], &[("NLSERVER_STANDIN_FAIL", "restart")]).assert_exit(1);
    site.run(&["apply", "p.plan"]).assert_exit(1).stderr_contains("apply refused");
}

/// The fixture with a `restart:` map on top.
fn site_with_restart(rules: &str) -> Site {
    let site = Site::local();
    site.edit("campaign:\n", &format!("restart:\n{rules}campaign:\n"));
    site
}

#[test]
fn a_restart_rule_restarts_its_modules_after_the_reload_and_says_why() {
    let site = site_with_restart("  mta: [\"mta@{instance}\", web]\n");
    site.deploy();
    site.edit(
        "      mta: { autoStart: true }\n      pipelined:",
        "      mta: { autoStart: true, statServerAddress: app1 }\n      pipelined:",
    );
    let out = site.plan("p.plan", 2);
    out.stdout_contains(
        "config -reload\n  $NLSERVER restart mta@mkt_prod  # mta changed\n  $NLSERVER restart web  # mta changed\n"
            .replace("$NLSERVER", crate::apply::STANDIN)
            .as_str(),
    );
    site.run(&["diff", "-e", "prod", "--format", "markdown"])
        .stdout_contains("reload, restart mta@mkt_prod (mta changed), restart web (mta changed)");
    site.apply("p.plan");
    let argv = site.take_argv();
    let app1: Vec<Vec<String>> = argv.iter().filter(|(c, _)| c == "app1").map(|(_, a)| a.clone()).collect();
    assert_eq!(app1, [vec!["config", "-reload"], vec!["restart", "mta@mkt_prod"], vec!["restart", "web"]]);
}

#[test]
fn a_restart_that_failed_is_retried_and_an_empty_rule_turns_the_builtin_off() {
    let site = site_with_restart("  mta: [\"mta@{instance}\"]\n  pipelined: []\n");
    site.deploy();
    // pipelined: [] — a pipelined change restarts nothing.
    site.edit("processingThreads: 4", "processingThreads: 8");
    let out = site.plan("p.plan", 2);
    assert!(!out.stdout.contains("restart pipelined"), "{}", out.stdout);
    site.apply("p.plan");
    site.take_argv();
    // A failed restart is planned again.
    site.edit(
        "      mta: { autoStart: true }\n      pipelined:",
        "      mta: { autoStart: true, statServerAddress: app1 }\n      pipelined:",
    );
    site.plan("q.plan", 2);
    site.run_env(&["apply", "q.plan"], &[("NLSERVER_STANDIN_FAIL", "restart")]).assert_exit(1);
    site.plan("r.plan", 2).stdout_contains("restart mta@mkt_prod  # left to do by an earlier apply");
    site.apply("r.plan");
    site.plan("s.plan", 0);
}

#[test]
fn an_unknown_element_path_in_restart_is_an_error_with_a_suggestion() {
    let site = site_with_restart("  wfserve: [\"wfserver@{instance}\"]\n");
    let line = site.repo.read(crate::apply::ENV_FILE).lines().position(|l| l.contains("wfserve:")).unwrap() + 1;
    site.run(&["validate"]).assert_exit(1).stderr_contains(&format!(
        "environments/prod/environment.yaml:{line}:3: error: restart: `wfserve` is not an element path (slash-separated, as `web/relay`)\n  help: did you mean `wfserver`?"
    ));
}

#[test]
fn explain_marks_the_auth_type_nlconf_adds_by_rule() {
    let site = Site::local();
    site.edit(
        "pipelined: { autoStart: true, authType: imsJwtToken, processingThreads: 4 }",
        "pipelined: { autoStart: true, processingThreads: 4 }",
    );
    let out =
        site.run(&["explain", "-e", "prod", "--instance", "mkt_prod", "--container", "app1", "serverconf.pipelined"]);
    out.assert_exit(0).stdout_contains(
        "serverconf.pipelined.authType = imsJwtToken\n    added by nlconf: an enabled pipelined with an `ims:` block authenticates with the IMS technical account\n",
    );
    // app2 runs no pipelined: nothing is added there.
    let app2 =
        site.run(&["explain", "-e", "prod", "--instance", "mkt_prod", "--container", "app2", "serverconf.pipelined"]);
    assert!(!app2.stdout.contains("authType"), "{}", app2.stdout);
}

/// `import --force` over the example's own `mkt_prod.yaml`, from the drifted prod snapshot: what
/// the deployed files cannot give (auth, orgId, the client secret, the database password) stays.
#[test]
fn import_force_keeps_what_the_yaml_has_that_deployed_files_cannot_give() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = crate::harness::Repo::new();
    for dir in ["environments", "templates", "demo/deployed"] {
        let to = repo.path(dir);
        let _ = std::fs::remove_dir_all(&to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        crate::harness::tool_in(root, "cp", &["-r", dir, &to.display().to_string()], b"");
    }
    let file = repo.path("environments/prod/mkt_prod.yaml");
    let before = std::fs::read_to_string(&file).unwrap();
    let block = |text: &str, key: &str| -> String {
        let start = text.find(&format!("{key}: !age |")).unwrap_or_else(|| panic!("no {key} in\n{text}"));
        let end = start + text[start..].find("-----END AGE ENCRYPTED FILE-----").unwrap();
        text[start..end].lines().skip(1).map(str::trim).collect::<Vec<_>>().join("\n")
    };
    let specs: Vec<String> = ["web1", "wf1", "mta1"]
        .iter()
        .map(|c| format!("{c}={}", repo.path(&format!("demo/deployed/prod/{c}/config-mkt_prod.xml")).display()))
        .collect();
    let mut args = vec!["import", "-e", "prod", "--instance", "mkt_prod", "--force"];
    args.extend(specs.iter().map(String::as_str));
    let key = format!("{}/demo/keys/demo-ONLY-alice.agekey", root.display());
    let out = repo.run_with(&args, b"", &[("NLCONF_AGE_IDENTITY", key.as_str())]);
    out.assert_exit(0).stdout_contains("kept from the YAML it replaces: ims auth, orgId, clientSecret");
    let after = std::fs::read_to_string(&file).unwrap();
    assert!(after.contains("auth: oauth") && after.contains("orgId:"), "{after}");
    for key in ["clientSecret", "password"] {
        assert_eq!(block(&after, key), block(&before, key), "{key}: the ciphertext was not kept");
    }
    // Still bound to its place, and decrypting.
    repo.run_with(&["secret", "check", "-e", "prod"], b"", &[("NLCONF_AGE_IDENTITY", key.as_str())]).assert_exit(0);
}

/// The example's prod, running as its drifted snapshot shows it: import it, adopt it, and the first
/// plan has nothing to do; nlserver is never run.
#[test]
fn import_then_adopt_then_plan_has_nothing_to_do_and_never_runs_nlserver() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = crate::harness::Repo::new();
    for (from, to) in [("environments", "environments"), ("templates", "templates"), ("demo/deployed/prod", "live")] {
        let to = repo.path(to);
        let _ = std::fs::remove_dir_all(&to);
        crate::harness::tool_in(root, "cp", &["-r", from, &to.display().to_string()], b"");
    }
    // The snapshot stands for the servers: a local target on it, and an nlserver that records calls.
    let env_file = repo.path("environments/prod/environment.yaml");
    let text = std::fs::read_to_string(&env_file).unwrap();
    let start = text.find("target:\n").unwrap();
    let end = start + text[start..].find("ConnectTimeout=15\n").unwrap() + "ConnectTimeout=15\n".len();
    let argv = repo.work_path("nlserver-argv.jsonl");
    let local =
        format!("target:\n  kind: local\n  conf_dir: live/{{container}}\nnlserver: {}\n", crate::apply::STANDIN);
    std::fs::write(&env_file, format!("{}{local}{}", &text[..start], &text[end..])).unwrap();
    let key = format!("{}/demo/keys/demo-ONLY-alice.agekey", root.display());
    let argv_s = argv.display().to_string();
    let env = [("NLCONF_AGE_IDENTITY", key.as_str()), ("NLSERVER_STANDIN_ARGV", argv_s.as_str())];
    let run = |args: &[&str]| repo.run_with(args, b"", &env);
    run(&["import", "-e", "prod", "--instance", "mkt_prod", "--force", "web1", "wf1", "mta1"]).assert_exit(0);
    run(&["import", "-e", "prod", "--instance", "mid_prod", "--force", "mid1", "mid2"]).assert_exit(0);
    run(&["adopt", "-e", "prod"]).assert_exit(0).stdout_contains("5 of 5 containers adopted");
    run(&["plan", "-e", "prod", "--out", "p.plan", "--detailed-exitcode"])
        .assert_exit(0)
        .stdout_contains("prod: 0 of 5 files change (+0 -0)\n");
    assert!(!argv.exists(), "nlserver was run: {}", std::fs::read_to_string(&argv).unwrap_or_default());
}
