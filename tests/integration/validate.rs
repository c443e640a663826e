//! `nlconf validate [-e ENV]...`: every environment by default, all problems in one run.

use insta::assert_snapshot;

use crate::harness::{OVERRIDE, Repo, STAGE};

#[test]
fn a_valid_environment_is_reported_ok_with_its_size() {
    let out = Repo::with_prod().run(&["validate"]);
    out.assert_exit(0);
    assert_snapshot!("validate_prod", out.transcript());
}

#[test]
fn every_environment_is_checked_by_default_in_name_order() {
    Repo::with_prod()
        .file("environments/stage/environment.yaml", STAGE)
        .run(&["validate"])
        .assert_exit(0)
        .stdout_is("")
        .stderr_is(
            "
            ok: prod (1 instance, 2 containers, 1 secret)
            ok: stage (1 instance, 1 container, 0 secrets)
            ",
        );
}

#[test]
fn dash_e_checks_only_the_named_environments() {
    let repo = Repo::with_prod()
        .file("environments/stage/environment.yaml", STAGE)
        .file(OVERRIDE, "campaign: { build: oops }");
    repo.run(&["validate", "-e", "stage"]).assert_exit(0).stderr_is(
        "
        ok: stage (1 instance, 1 container, 0 secrets)
        ",
    );
    // Progress lines come as each environment is done; the findings follow, sorted.
    repo.run(&["validate", "-e", "stage", "-e", "prod"]).assert_exit(1).stderr_is(
        "
        ok: stage (1 instance, 1 container, 0 secrets)
        environments/prod/override.yaml:1:20: error: campaign.build: expected an ACC build number such as 9383, found `oops`
        ",
    );
}

#[test]
fn quiet_prints_only_errors() {
    Repo::with_prod().run(&["-q", "validate"]).assert_exit(0).stdout_is("").stderr_is("");
    Repo::with_prod()
        .file(
            OVERRIDE,
            "
            instances:
              mkt_prod:
                serverconf:
                  shared:
                    dataStore: { lang: EN_us }
                  mta: { autoStrat: true }
            ",
        )
        .run(&["-q", "validate"])
        .assert_exit(1)
        .stderr_is(
            "
            environments/prod/override.yaml:6:14: error: unknown attribute `autoStrat` in <mta>
              help: did you mean `autoStart`? (ACC silently ignores names it does not know)
            ",
        );
}

#[test]
fn several_problems_in_several_files_are_reported_in_one_run_sorted_by_file_then_line() {
    Repo::with_prod()
        .file("environments/stage/environment.yaml", STAGE)
        // Merged under both environments: reported once, not once per environment.
        .file(
            "environments/defaults.yaml",
            "
            defaults:
              serverconf:
                web: { httpPort: 80800 }
            ",
        )
        // Written bottom-up on purpose: the report is in line order anyway.
        .file(
            OVERRIDE,
            "
            instances:
              mkt_prod:
                serverconf:
                  web:
                    relay:
                      url:
                        - { urlPath: \"/r/*\", status: blocked }
                  mta: { maxMemoryMb: lots }
                  stat: { autoStrat: true }
            ",
        )
        .file(
            "environments/stage/zz-tuning.yaml",
            "
            instances:
              mkt_stage:
                serverconf:
                  mta: { runLevel: 100000 }
            ",
        )
        .run(&["validate"])
        .assert_exit(1)
        .stdout_is("")
        .stderr_is(
            "
            environments/defaults.yaml:3:22: error: `httpPort` is a Short: 80800 is out of range (-32768 to 32767)
            environments/prod/override.yaml:7:42: error: `status`: `blocked` is not an allowed value; expected one of: normal, blacklist, spare
            environments/prod/override.yaml:8:27: error: `maxMemoryMb` is a Long (a whole number), found `lots`
            environments/prod/override.yaml:9:15: error: unknown attribute `autoStrat` in <stat>
              help: did you mean `autoStart`? (ACC silently ignores names it does not know)
            environments/stage/zz-tuning.yaml:4:24: error: `runLevel` is a Short: 100000 is out of range (-32768 to 32767)
            ",
        );
}

#[test]
fn a_folder_without_environments_is_not_a_repository() {
    let repo = Repo::new();
    std::fs::remove_dir(repo.path("environments")).unwrap();
    let out = repo.run(&["validate"]);
    out.assert_exit(1);
    let shown = repo.root().display().to_string();
    assert_eq!(
        out.stderr.replace(&shown, "<repo>"),
        "<repo>: error: not an nlconf repository: there is no `environments/` folder here\n  \
         help: run nlconf in the repository, or name it with -C DIR\n"
    );
}

#[test]
fn a_repository_without_environments_says_how_to_start() {
    Repo::new().run(&["validate"]).assert_exit(1).stderr_is(
        "
        environments: error: no environments: create environments/<env>/environment.yaml
        ",
    );
}

#[test]
fn an_environment_folder_without_yaml_says_what_it_expects() {
    Repo::with_prod()
        .folder("environments/stage")
        .raw("environments/stage/README.md", "# Staging\n")
        .run(&["validate"])
        .assert_exit(1)
        .stderr_is(
            "
        ok: prod (1 instance, 2 containers, 1 secret)
        environments/stage: error: the environment folder has no YAML file; expected environment.yaml
        ",
        );
}

#[test]
fn the_fixture_secret_is_bound_and_decrypts_with_the_test_key() {
    // The fixture's clientSecret was written by `nlconf secret set` for the key in fixtures/: if this
    // fails, regenerate it rather than weakening the other tests.
    let identity = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/integration/fixtures/prod-identity.agekey");
    Repo::with_prod().run(&["-i", identity, "secret", "check", "-e", "prod"]).assert_exit(0).stderr_is(
        "
        ok: prod (1 secret)
        ",
    );
}

#[test]
fn verbose_names_the_first_files_merged_and_counts_the_rest() {
    // An environment split per instance is hundreds of files: one line names a few.
    let mut repo = Repo::with_prod();
    for n in 1..=6 {
        repo = repo.file(&format!("environments/prod/{n:02}-tuning.yaml"), "instances: { mkt_prod: {} }");
    }
    let out = repo.run(&["-v", "validate"]);
    out.assert_exit(0);
    let line = out.stderr.lines().find(|l| l.starts_with("prod: merged")).expect("the merged line");
    assert!(line.starts_with("prod: merged 7 files in "), "{line}");
    assert!(
        line.ends_with(
            ": environments/prod/01-tuning.yaml, environments/prod/02-tuning.yaml, environments/prod/03-tuning.yaml, environments/prod/04-tuning.yaml, environments/prod/05-tuning.yaml, and 2 more"
        ),
        "{line}"
    );
}
