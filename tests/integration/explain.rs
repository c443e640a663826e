//! `nlconf explain -e ENV --instance I [--container C] [PATH]`: every final value, the file:line:column
//! that set it, and what it overrode.

use insta::assert_snapshot;

use crate::harness::Repo;

#[test]
fn the_instance_view_shows_where_containers_differ() {
    let out = Repo::with_prod().run(&["explain", "-e", "prod", "--instance", "mkt_prod"]);
    out.assert_exit(0).stderr_is("");
    assert_snapshot!("explain_mkt_prod", out.stdout);
}

#[test]
fn the_container_view_shows_what_container_overrides_replaced() {
    let out = Repo::with_prod().run(&["explain", "-e", "prod", "--instance", "mkt_prod", "--container", "app2"]);
    out.assert_exit(0).stderr_is("");
    assert_snapshot!("explain_mkt_prod_app2", out.stdout);
}

#[test]
fn a_path_narrows_the_output() {
    let out = Repo::with_prod().run(&["explain", "-e", "prod", "--instance", "mkt_prod", "serverconf.mta"]);
    out.assert_exit(0).stderr_is("");
    assert_snapshot!("explain_mkt_prod_mta", out.stdout);

    Repo::with_prod()
        .run(&["explain", "-e", "prod", "--instance", "mkt_prod", "--container", "app2", "serverconf.mta.autoStart"])
        .assert_exit(0)
        .stdout_is(
            "
            # prod / mkt_prod / app2
            serverconf.mta.autoStart = false
                set at environments/prod/environment.yaml:51:29
                overrides `true` from environments/prod/environment.yaml:21:25
            ",
        );
}

#[test]
fn a_path_matches_whole_keys_only() {
    // `serverconf.mt` is not a prefix of `serverconf.mta`: nothing matches.
    Repo::with_prod()
        .run(&["explain", "-e", "prod", "--instance", "mkt_prod", "serverconf.mt"])
        .assert_exit(1)
        .stdout_is("")
        .stderr_is(
            "
            error: no value under `serverconf.mt`
              help: paths are dotted keys such as serverconf.mta or ims.clientId; run explain without PATH to list them all
            ",
        );
}

#[test]
fn secrets_show_as_sensitive() {
    let out = Repo::with_prod().run(&["explain", "-e", "prod", "--instance", "mkt_prod", "ims"]);
    out.assert_exit(0).stdout_contains(
        "
ims.clientSecret = (sensitive)
    set at environments/prod/environment.yaml:34:21
",
    );
    assert!(!out.stdout.contains("AGE ENCRYPTED") && !out.stdout.contains("YWdlLWVuY3J5cHRpb24"), "{}", out.stdout);
}

#[test]
fn explain_names_an_unknown_container() {
    Repo::with_prod()
        .run(&["explain", "-e", "prod", "--instance", "mkt_prod", "--container", "web1"])
        .assert_exit(1)
        .stdout_is("")
        .stderr_is(
            "
            error: instance `mkt_prod` has no container `web1`
              help: containers are: app1, app2
            ",
        );
}
