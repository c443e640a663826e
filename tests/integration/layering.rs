//! Layering (DESIGN §3), lowest first: `environments/defaults.yaml`, the environment's files in name
//! order, the top-level `defaults:` block, the instance, `containerOverrides.<container>`. Maps merge
//! deeply, scalars and lists replace, `null` removes what a lower layer set.

use crate::harness::Repo;

/// Example Corp's conventions, a production environment split in two files, and a container that
/// differs: each layer changes something the layer below set.
fn layered() -> Repo {
    Repo::new()
        .file(
            "environments/defaults.yaml",
            r#"
            # Example Corp conventions, merged under every environment.
            campaign:
              build: 9383
            defaults:
              serverconf:
                shared:
                  dataStore:
                    hosts: "*"
                    lang: en_US
                mta:
                  autoStart: true
                  maxMemoryMb: 2048
                  logLevel: 1
                wfserver: { autoStart: true }
                web:
                  relay:
                    url:
                      - { urlPath: "/r/*", targetUrl: "http://localhost:8080", relayPath: true }
                      - { urlPath: "/nms/jsp/*", targetUrl: "http://localhost:8080", relayPath: true }
            "#,
        )
        .file(
            "environments/prod/10-instances.yaml",
            r#"
            target: { kind: local, conf_dir: /srv/campaign/conf }
            instances:
              mkt_prod:
                containers:
                  app1: { host: app1.prod.example.com }
                  app2: { host: app2.prod.example.com }
                serverconf:
                  shared:
                    dataStore:
                      hosts: "console.example.com*"
                  mta:
                    maxMemoryMb: 4096
                  web:
                    relay:
                      url:
                        - { urlPath: "/r/*", targetUrl: "http://tracking.internal:8080", relayPath: true }
                containerOverrides:
                  app2:
                    serverconf:
                      mta: { autoStart: false, logLevel: null, maxMemoryMb: 1024 }
                      wfserver: null
            "#,
        )
        .file(
            "environments/prod/20-tuning.yaml",
            "
            # Production logs more than the company default, and its MTA needs more memory.
            defaults:
              serverconf:
                mta:
                  logLevel: 2
            instances:
              mkt_prod:
                serverconf:
                  mta:
                    maxMemoryMb: 6144
            ",
        )
}

fn rendered(repo: &Repo, container: &str) -> String {
    let out = repo.run(&["render", "-e", "prod", "--instance", "mkt_prod", "--container", container]);
    out.assert_exit(0).stderr_is("");
    // The prologue is the same for every test here; the body is what layering decides.
    out.stdout.split_once("<serverconf>").map(|(_, body)| format!("<serverconf>{body}")).unwrap()
}

#[test]
fn each_layer_overrides_the_one_below() {
    let repo = layered();
    // hosts: defaults.yaml "*" < instance. logLevel: defaults.yaml 1 < `defaults:` of 20-tuning.yaml.
    // maxMemoryMb: defaults.yaml 2048 < 10-instances.yaml 4096 < 20-tuning.yaml 6144.
    // The relay list of the instance replaces the two URLs of defaults.yaml.
    assert_eq!(
        rendered(&repo, "app1"),
        crate::harness::dedent(
            r#"
            <serverconf>
              <shared>
                <dataStore hosts="console.example.com*" lang="en_US"/>
              </shared>
              <mta autoStart="true" logLevel="2" maxMemoryMb="6144"/>
              <web>
                <relay>
                  <url relayPath="true" targetUrl="http://tracking.internal:8080" urlPath="/r/*"/>
                </relay>
              </web>
              <wfserver autoStart="true"/>
            </serverconf>
            "#
        )
    );
}

#[test]
fn container_overrides_come_last_and_null_removes_attributes_and_elements() {
    // app2: autoStart and maxMemoryMb replaced, logLevel removed, <wfserver> removed altogether.
    assert_eq!(
        rendered(&layered(), "app2"),
        crate::harness::dedent(
            r#"
            <serverconf>
              <shared>
                <dataStore hosts="console.example.com*" lang="en_US"/>
              </shared>
              <mta autoStart="false" maxMemoryMb="1024"/>
              <web>
                <relay>
                  <url relayPath="true" targetUrl="http://tracking.internal:8080" urlPath="/r/*"/>
                </relay>
              </web>
            </serverconf>
            "#
        )
    );
}

#[test]
fn explain_names_every_layer_a_value_went_through() {
    layered()
        .run(&["explain", "-e", "prod", "--instance", "mkt_prod", "--container", "app2", "serverconf.mta"])
        .assert_exit(0)
        .stderr_is("")
        .stdout_is(
            "
            # prod / mkt_prod / app2
            serverconf.mta.autoStart = false
                set at environments/prod/10-instances.yaml:20:29
                overrides `true` from environments/defaults.yaml:11:18
            serverconf.mta.maxMemoryMb = 1024
                set at environments/prod/10-instances.yaml:20:65
                overrides `6144` from environments/prod/20-tuning.yaml:10:22
                overrides `4096` from environments/prod/10-instances.yaml:12:22
                overrides `2048` from environments/defaults.yaml:12:20
            serverconf.mta.logLevel = null (removed)
                set at environments/prod/10-instances.yaml:20:46
                overrides `2` from environments/prod/20-tuning.yaml:5:17
                overrides `1` from environments/defaults.yaml:13:17
            ",
        );
}

#[test]
fn explain_of_the_instance_shows_the_defaults_and_where_containers_differ() {
    layered()
        .run(&["explain", "-e", "prod", "--instance", "mkt_prod", "serverconf.mta"])
        .assert_exit(0)
        .stderr_is("")
        .stdout_is(
            "
            # prod / mkt_prod (containers: app1, app2)
            serverconf.mta.autoStart differs by container:
              app1: true  (set at environments/defaults.yaml:11:18)
              app2: false  (set at environments/prod/10-instances.yaml:20:29)
            serverconf.mta.maxMemoryMb differs by container:
              app1: 6144  (set at environments/prod/20-tuning.yaml:10:22)
              app2: 1024  (set at environments/prod/10-instances.yaml:20:65)
            serverconf.mta.logLevel differs by container:
              app1: 2  (set at environments/prod/20-tuning.yaml:5:17)
              app2: null (removed)  (set at environments/prod/10-instances.yaml:20:46)
            ",
        );
}

#[test]
fn a_list_is_replaced_whole_and_explain_says_what_it_replaced() {
    layered()
        .run(&["explain", "-e", "prod", "--instance", "mkt_prod", "--container", "app1", "serverconf.web"])
        .assert_exit(0)
        .stdout_is(
            "
            # prod / mkt_prod / app1
            serverconf.web.relay.url = [1 items]
                set at environments/prod/10-instances.yaml:16:13
                overrides `[2 items]` from environments/defaults.yaml:18:11
            ",
        );
}

#[test]
fn a_later_file_of_the_environment_overrides_an_earlier_one() {
    // The same key in two files of one environment: the file later in name order wins.
    let repo = layered().file(
        "environments/prod/30-freeze.yaml",
        "
        # Change freeze: no workflow server on app1 either.
        instances:
          mkt_prod:
            serverconf:
              wfserver: { autoStart: false }
        ",
    );
    assert!(rendered(&repo, "app1").contains("  <wfserver autoStart=\"false\"/>\n"));
    repo.run(&["explain", "-e", "prod", "--instance", "mkt_prod", "--container", "app1", "serverconf.wfserver"])
        .assert_exit(0)
        .stdout_is(
            "
            # prod / mkt_prod / app1
            serverconf.wfserver.autoStart = false
                set at environments/prod/30-freeze.yaml:5:30
                overrides `true` from environments/defaults.yaml:14:28
            ",
        );
}

#[test]
fn null_removes_a_required_key_and_says_so_where_the_null_is() {
    layered()
        .file("environments/prod/30-broken.yaml", "campaign: { build: null }")
        .run(&["validate"])
        .assert_exit(1)
        .stderr_is(
            "
            environments/prod/30-broken.yaml:1:20: error: `campaign.build` is required, but `null` removes it
              help: add it, for example `build: 9383`
            ",
        );
}

#[test]
fn null_still_removes_what_is_below_when_a_later_file_sets_the_element_again() {
    // 30 drops every inherited MTA setting; 40 then starts this instance's <mta> from nothing. The
    // company defaults removed by 30 must not come back because 40 mentions <mta> again.
    let repo = layered()
        .file(
            "environments/prod/30-mta-reset.yaml",
            "
            instances:
              mkt_prod:
                serverconf:
                  mta: null
            ",
        )
        .file(
            "environments/prod/40-mta.yaml",
            "
            instances:
              mkt_prod:
                serverconf:
                  mta: { runLevel: 20 }
            ",
        );
    let xml = rendered(&repo, "app1");
    assert!(xml.contains("  <mta runLevel=\"20\"/>\n"), "{xml}");
}
