//! Credential steps (DESIGN §9, issue 14): the database login through `-setdblogin`, deployed
//! truth, and reviews that show every credential change.

use crate::apply::{ENV_FILE, SECRET, SECRET2, Site, call, reload, state};
use crate::harness::Output;

/// A database password chosen by a person, with shell and XML characters.
const DB_PASSWORD: &str = "Tr0ub4dor&3 $HOME \"quoted\" 'x' <y>";
const DB_PASSWORD2: &str = "correct-horse-battery-staple";
const DBCNX: &str = "instances.mkt_prod.serverconf.shared.dataStore.dataSource.default.dbcnx.password";

/// The apply site with a default data source on mkt_prod, of `provider` and `login`.
fn site_with_db(provider: &str, login: &str) -> Site {
    let site = Site::local();
    site.edit(
        "          hosts: \"console.example.com*\"\n",
        &format!(
            "          hosts: \"console.example.com*\"\n          dataSource:\n            default:\n              dbcnx:\n                provider: {provider}\n                login: \"{login}\"\n                server: db1.prod.example.com\n"
        ),
    );
    site.set_secret(DBCNX, DB_PASSWORD);
    site
}

/// Neither password in anything a command printed, nor in any file but the stand-in's argv record.
#[track_caller]
fn assert_no_db_leak(site: &Site, outs: &[&Output]) {
    for out in outs {
        for p in [DB_PASSWORD, DB_PASSWORD2] {
            assert!(
                !out.stdout.contains(p) && !out.stderr.contains(p),
                "LEAK of a DB password:\n{}{}",
                out.stdout,
                out.stderr
            );
        }
    }
    for (path, entry) in crate::apply::tree(&site.repo.work_path("")) {
        if path.ends_with("nlserver-argv.jsonl") {
            continue;
        }
        let text = String::from_utf8_lossy(&entry.bytes);
        for p in [DB_PASSWORD, DB_PASSWORD2] {
            assert!(!text.contains(p), "LEAK of a DB password in {path}");
        }
    }
}

#[test]
fn the_database_login_is_set_by_setdblogin_with_the_exact_argv_per_provider() {
    for (provider, login, arg) in [
        (
            "PostgreSQL",
            "campaign:mkt_prod",
            format!("-setdblogin:PostgreSQL:campaign:mkt_prod/{DB_PASSWORD}@db1.prod.example.com"),
        ),
        (
            "MSSQL",
            "campaign:mkt_prod",
            format!("-setdblogin:MSSQL:campaign:mkt_prod/\"{}\"@db1.prod.example.com", "Tr0ub4dor&3 $HOME 'x' <y>"),
        ),
        ("Oracle", "campaign", format!("-setdblogin:Oracle:campaign/{DB_PASSWORD}@db1.prod.example.com")),
    ] {
        let site = site_with_db(provider, login);
        if provider == "MSSQL" {
            // A double quote cannot go inside MSSQL's quoted password: another one here.
            site.set_secret(DBCNX, "Tr0ub4dor&3 $HOME 'x' <y>");
        }
        let plan = site.plan("p.plan", 2);
        let quote = if provider == "MSSQL" { "\"" } else { "" };
        plan.stdout_contains(&format!(
            "config -setdblogin:{provider}:{login}/{quote}(sensitive){quote}@db1.prod.example.com -instance:mkt_prod  # no record of the database login on this container"
        ));
        let apply = site.apply("p.plan");
        apply.stdout_contains("set the database login");
        let argv = site.take_argv();
        for c in ["app1", "app2"] {
            let db = call(c, &["config", &arg, "-instance:mkt_prod"]);
            let at = argv.iter().position(|a| *a == db).unwrap_or_else(|| panic!("{provider}: no {db:?} in {argv:?}"));
            // Before the reload, after the IMS step.
            let reload_at = argv.iter().rposition(|a| *a == reload(c)).unwrap();
            assert!(at < reload_at, "{provider}: the login is set after the reload: {argv:?}");
        }
        // nlserver wrote it encrypted; nlconf never rendered it, and keeps it from now on.
        let file = std::fs::read_to_string(site.deployed("app1", "config-mkt_prod.xml")).unwrap();
        assert!(file.contains("encrypted=\"1\"") && file.contains("password=\"@"), "{file}");
        let record = state(&site, "app1", "mkt_prod");
        assert_eq!(record["credentials"]["dblogin"]["fields"]["login"], login, "{record}");
        assert!(record["credentials"]["dblogin"]["fingerprint"].as_str().unwrap().starts_with("scrypt:"));
        let again = site.plan("q.plan", 0);
        assert_no_db_leak(&site, &[&plan, &apply, &again]);
        // A new password: the step again, on every container.
        site.set_secret(DBCNX, DB_PASSWORD2);
        site.plan("r.plan", 2).stdout_contains("# password changed since the last apply");
    }
}

#[test]
fn a_password_the_syntax_cannot_carry_is_refused_at_its_yaml_line() {
    for (bad, character) in [("p@ssword", "@"), ("pass/word", "/"), ("pass:word", ":")] {
        let site = site_with_db("PostgreSQL", "campaign:mkt_prod");
        site.set_secret(DBCNX, bad);
        let text = site.repo.read(ENV_FILE);
        let line = text.lines().position(|l| l.contains("password: !age")).unwrap() + 1;
        let col = text.lines().nth(line - 1).unwrap().find("!age").unwrap() + 1;
        let expected = format!(
            "environments/prod/environment.yaml:{line}:{col}: error: instances.mkt_prod.serverconf.shared.dataStore.dataSource.default.dbcnx.password contains `{character}`, a separator of nlserver config -setdblogin"
        );
        site.run(&["plan", "-e", "prod", "--out", "p.plan"]).assert_exit(1).stderr_contains(&expected);
        assert!(!site.repo.work_path("p.plan").exists());
        site.run(&["validate"]).assert_exit(1).stderr_contains(&expected);
        site.run(&["secret", "check"]).assert_exit(1).stderr_contains(&expected);
        // Without a key, validate cannot know.
        site.run_without_identity(&["validate"]).assert_exit(0);
    }
    // MSSQL quotes the password: a double quote cannot be in it.
    let site = site_with_db("MSSQL", "campaign:mkt_prod");
    site.run(&["plan", "-e", "prod", "--out", "p.plan"])
        .assert_exit(1)
        .stderr_contains("for MSSQL nlserver takes the password between double quotes");
}

#[test]
fn a_client_secret_with_a_slash_is_refused_wherever_a_key_is_at_hand() {
    let site = Site::local();
    site.set_secret("instances.mkt_prod.ims.clientSecret", "p8e-with/slash");
    for args in [vec!["validate"], vec!["secret", "check"], vec!["plan", "-e", "prod", "--out", "p.plan"]] {
        site.run(&args).assert_exit(1).stderr_contains("instances.mkt_prod.ims.clientSecret contains `/`");
    }
}

#[test]
fn an_age_password_on_another_data_source_is_refused_with_the_reason() {
    let site = site_with_db("PostgreSQL", "campaign:mkt_prod");
    site.edit(
        "                server: db1.prod.example.com\n",
        "                server: db1.prod.example.com\n            reporting:\n              dbcnx:\n                provider: PostgreSQL\n                login: \"r:rep\"\n                server: db2\n",
    );
    site.set_secret("instances.mkt_prod.serverconf.shared.dataStore.dataSource.reporting.dbcnx.password", "x-y-z");
    site.run(&["validate"]).assert_exit(1).stderr_contains(
        "error: instances.mkt_prod: `password: !age` on data source `reporting`: nlserver config -setdblogin sets the default data source's login only",
    );
}

#[test]
fn credentials_lost_from_the_deployed_file_are_planned_again() {
    let site = site_with_db("PostgreSQL", "campaign:mkt_prod");
    site.deploy();
    let file = site.deployed("app1", "config-mkt_prod.xml");
    let text = std::fs::read_to_string(&file).unwrap();
    // Restored from an old copy: no <ims> element and no encrypted DB password.
    let lost: String = text
        .lines()
        .filter(|l| !l.contains("<ims "))
        .map(|l| {
            let mut l = l.to_string();
            if let Some(start) = l.find(" password=\"") {
                let end = start + 11 + l[start + 11..].find('"').unwrap() + 1;
                l.replace_range(start..end, "");
            }
            format!("{l}\n")
        })
        .collect();
    std::fs::write(&file, lost).unwrap();
    let out = site.plan("p.plan", 2);
    out.stdout_contains("-setimsoauth:")
        .stdout_contains("# the deployed file has no authIMSTAClientId (restored or edited?)");
    out.stdout_contains("-setdblogin:")
        .stdout_contains("# the deployed dbcnx has no encrypted password (restored or edited?)");
    site.apply("p.plan");
    site.plan("q.plan", 0);
}

#[test]
fn a_state_record_of_an_older_nlconf_is_read_and_replaced() {
    use pbkdf2::pbkdf2_hmac;
    let site = Site::local();
    site.deploy();
    let path = site.conf("app1").join(".nlconf/state-mkt_prod.json");
    let mut record = state(&site, "app1", "mkt_prod");
    // What nlconf 0.1 wrote: the IMS credentials alone, PBKDF2 over the fields and the secret.
    let material = format!("oauth\0{}\0{}\0{}\0{SECRET}\0", crate::apply::ORG, crate::apply::CLIENT, crate::apply::TA);
    let mut out = [0u8; 32];
    pbkdf2_hmac::<sha2::Sha256>(material.as_bytes(), b"nlconf-credentials-v1\0prod\0mkt_prod", 4096, &mut out);
    let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
    record["schema"] = "nlconf.state/v1".into();
    record["credentials"] = serde_json::json!({
        "auth": "oauth", "org_id": crate::apply::ORG, "client_id": crate::apply::CLIENT,
        "technical_account_id": crate::apply::TA,
        "fingerprint": format!("pbkdf2-sha256:4096:{hex}"),
        // Another ciphertext digest: the fingerprint has to be checked.
        "ciphertexts": "sha256:0000",
    });
    std::fs::write(&path, serde_json::to_vec_pretty(&record).unwrap()).unwrap();
    site.plan("p.plan", 0);
    // A wrong fingerprint in an old record is a change.
    record["credentials"]["fingerprint"] = format!("pbkdf2-sha256:4096:{}", "00".repeat(32)).into();
    std::fs::write(&path, serde_json::to_vec_pretty(&record).unwrap()).unwrap();
    site.plan("q.plan", 2).stdout_contains("# clientSecret changed since the last apply");
    site.apply("q.plan");
    let new = state(&site, "app1", "mkt_prod");
    assert_eq!(new["schema"], "nlconf.state/v2");
    assert!(new["credentials"]["ims"]["fingerprint"].as_str().unwrap().starts_with("scrypt:"), "{new}");
}

/// `diff --base` in a git repository whose first commit has the site's environment.
fn committed(site: &Site) {
    site.repo.tool("git", &["init", "-q", "-b", "main"], b"");
    site.repo.tool("git", &["-c", "user.email=t@example.com", "-c", "user.name=t", "add", "-A"], b"");
    site.repo.tool("git", &["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "base"], b"");
}

fn base_review(site: &Site, format: &str, with_key: bool) -> Output {
    let args = ["diff", "-e", "prod", "--base", "HEAD", "--format", format, "--detailed-exitcode"];
    if with_key { site.run(&args) } else { site.run_without_identity(&args) }
}

#[test]
fn diff_base_shows_a_credential_only_change_in_every_format() {
    // orgId and clientId: non-secret fields, old -> new; exit 2 though no file changes.
    for (from, to) in [
        ("orgId: 0123456789ABCDEF01234567@AdobeOrg", "orgId: ABCDEF0123456789ABCDEF01@AdobeOrg"),
        ("clientId: e053e1a87cf74c68a6ec8e71d4a82662", "clientId: 0a1b2c3d4e5f60718293a4b5c6d7e8f9"),
    ] {
        let site = Site::local();
        committed(&site);
        site.edit(from, to);
        let (key, old) = from.split_once(": ").unwrap();
        let new = to.split_once(": ").unwrap().1;
        let text = base_review(&site, "text", false);
        text.assert_exit(2).stdout_contains(&format!(
            "mkt_prod: IMS credentials changed: {key}: {old} -> {new} (on app1, app2)\nprod: 0 of 4 files change (+0 -0); 2 credential steps\n"
        ));
        let json: serde_json::Value = serde_json::from_str(&base_review(&site, "json", false).stdout).unwrap();
        assert_eq!(json["totals"]["changed"], 0);
        assert_eq!(json["totals"]["credential_steps"], 2);
        assert_eq!(json["credentials"][0]["fields"][0], serde_json::json!({"name": key, "old": old, "new": new}));
        base_review(&site, "markdown", false)
            .assert_exit(2)
            .stdout_contains(&format!("| mkt_prod | IMS credentials | changed: {key}: {old} -> {new} | app1, app2 |"));
    }
}

#[test]
fn diff_base_tells_a_rotation_from_a_rekey_when_a_key_is_at_hand() {
    let site = site_with_db("PostgreSQL", "campaign:mkt_prod");
    committed(&site);
    // A rotation of the client secret and a new database password.
    site.set_secret("instances.mkt_prod.ims.clientSecret", SECRET2);
    site.set_secret(DBCNX, DB_PASSWORD2);
    let with_key = base_review(&site, "text", true);
    with_key.assert_exit(2);
    with_key.stdout_contains("mkt_prod: IMS credentials changed: clientSecret (sensitive, changed) (on app1, app2)");
    with_key.stdout_contains("mkt_prod: database login changed: password (sensitive, changed) (on app1, app2)");
    with_key.stdout_contains("; 4 credential steps");
    let without = base_review(&site, "text", false);
    without.assert_exit(2).stdout_contains("clientSecret (sensitive, changed or re-encrypted)");
    let markdown = base_review(&site, "markdown", false);
    markdown.assert_exit(2).stdout_contains(
        "| mkt_prod | database login | changed: password (sensitive, changed or re-encrypted) | app1, app2 |",
    );
    assert_no_db_leak(&site, &[&with_key, &without, &markdown]);

    // The same values encrypted again: nothing runs, and with a key the review says so.
    let site = site_with_db("PostgreSQL", "campaign:mkt_prod");
    committed(&site);
    site.set_secret(DBCNX, DB_PASSWORD);
    base_review(&site, "text", true).assert_exit(0).stdout_contains(
        "mkt_prod: database login re-encrypted: password (sensitive, re-encrypted, unchanged) (nothing runs)",
    );
    base_review(&site, "text", false).assert_exit(2).stdout_contains("password (sensitive, changed or re-encrypted)");
}
