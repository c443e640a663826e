//! `nlconf render -e ENV [--out DIR] [--instance I] [--container C]`: one `config-<instance>.xml`
//! per container (DESIGN §5).

use insta::assert_snapshot;

use crate::harness::{OVERRIDE, Repo};

/// The file of one container, as `render --instance I --container C` prints it.
fn rendered(repo: &Repo, container: &str) -> String {
    let out = repo.run(&["render", "-e", "prod", "--instance", "mkt_prod", "--container", container]);
    out.assert_exit(0).stderr_is("");
    out.stdout.clone()
}

#[test]
fn each_container_gets_its_config_file() {
    let repo = Repo::with_prod();
    let app1 = rendered(&repo, "app1");
    assert!(app1.starts_with("<?xml version='1.0'?>\n") && app1.ends_with("</serverconf>\n"), "{app1}");
    assert_snapshot!("render_mkt_prod_app1", app1);
    assert_snapshot!("render_mkt_prod_app2", rendered(&repo, "app2"));
}

#[test]
fn without_out_render_lists_the_files_it_would_write() {
    let out = Repo::with_prod().run(&["render", "-e", "prod"]);
    out.assert_exit(0);
    assert_snapshot!("render_listing", out.transcript());
}

#[test]
fn the_listing_can_be_narrowed_to_one_container() {
    Repo::with_prod()
        .run(&["render", "-e", "prod", "--container", "app2"])
        .assert_exit(0)
        .stdout_is("app2/config-mkt_prod.xml  (837 bytes)\n");
}

#[test]
fn out_writes_one_folder_per_container_with_the_printed_content() {
    let repo = Repo::with_prod();
    repo.run(&["render", "-e", "prod", "--out", "out"]).assert_exit(0).stderr_is("").stdout_is(
        "
        wrote out/app1/config-mkt_prod.xml
        wrote out/app2/config-mkt_prod.xml
        ",
    );
    for container in ["app1", "app2"] {
        let written = std::fs::read_to_string(repo.work_path(&format!("out/{container}/config-mkt_prod.xml"))).unwrap();
        assert_eq!(written, rendered(&repo, container), "{container}");
    }
    let mut entries: Vec<String> = std::fs::read_dir(repo.work_path("out/app1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["config-mkt_prod.xml"], "no temporary file is left behind");
}

#[test]
fn rendering_is_byte_for_byte_deterministic() {
    let repo = Repo::with_prod();
    repo.run(&["render", "-e", "prod", "--out", "first"]).assert_exit(0);
    repo.run(&["render", "-e", "prod", "--out", "second"]).assert_exit(0);
    for container in ["app1", "app2"] {
        let file = format!("{container}/config-mkt_prod.xml");
        let first = std::fs::read(repo.work_path(&format!("first/{file}"))).unwrap();
        let second = std::fs::read(repo.work_path(&format!("second/{file}"))).unwrap();
        assert_eq!(first, second, "{file}");
    }
}

#[test]
fn values_are_escaped_for_xml_attributes_and_acc_variables_stay_text() {
    let repo = Repo::with_prod().file(
        OVERRIDE,
        r#"
        instances:
          mkt_prod:
            serverconf:
              mta:
                xMailer: "Campaign & \"Marketing\" <build $(PRODUCT_VERSION)>"
                workingPath: "$(XTK_INSTALL_DIR)/var/$(INSTANCE_NAME)/mta/"
        "#,
    );
    let xml = rendered(&repo, "app1");
    assert!(
        xml.contains(
            r#"<mta autoStart="true" statServerAddress="app1.prod.example.com:7777" workingPath="$(XTK_INSTALL_DIR)/var/$(INSTANCE_NAME)/mta/" xMailer="Campaign &amp; &quot;Marketing&quot; &lt;build $(PRODUCT_VERSION)&gt;"/>"#
        ),
        "{xml}"
    );
}

#[test]
fn an_empty_tagged_value_renders_an_empty_attribute() {
    // `initScript=""` overrides whatever serverConf.xml says: written on purpose with `!empty ""`.
    let repo = Repo::with_prod().file(
        OVERRIDE,
        r#"
        instances:
          mkt_prod:
            serverconf:
              mta: { initScript: !empty "" }
        "#,
    );
    let xml = rendered(&repo, "app1");
    assert!(
        xml.contains(r#"<mta autoStart="true" initScript="" statServerAddress="app1.prod.example.com:7777"/>"#),
        "{xml}"
    );
}

#[test]
fn booleans_render_as_true_or_false() {
    // DESIGN §3: "Booleans render as `true`/`false`", whichever accepted spelling the YAML uses.
    let repo = Repo::with_prod().file(
        OVERRIDE,
        "
        instances:
          mkt_prod:
            serverconf:
              mta: { autoStart: 1, verifyMode: 0 }
        ",
    );
    let xml = rendered(&repo, "app1");
    assert!(
        xml.contains(r#"<mta autoStart="true" statServerAddress="app1.prod.example.com:7777" verifyMode="false"/>"#),
        "{xml}"
    );
}

#[test]
fn an_enabled_pipelined_with_an_ims_block_authenticates_with_the_technical_account() {
    // authType is implied by the `ims:` block: the only supported authentication since 2021-10-20.
    let repo = Repo::with_prod().file(
        OVERRIDE,
        "
        instances:
          mkt_prod:
            serverconf:
              pipelined: { authType: null }
        ",
    );
    let xml = rendered(&repo, "app1");
    assert!(xml.contains(r#"<pipelined authType="imsJwtToken" autoStart="true"/>"#), "{xml}");
}

#[test]
fn an_undocumented_attribute_goes_through_raw_attributes_and_stays_visible() {
    let repo = Repo::with_prod().file(
        OVERRIDE,
        "
        instances:
          mkt_prod:
            serverconf:
              wfserver:
                rawAttributes: { maxSessionsPerHost: 12 }
        ",
    );
    let xml = rendered(&repo, "app1");
    assert!(xml.contains(r#"<wfserver autoStart="true" maxSessionsPerHost="12"/>"#), "{xml}");
}

#[test]
fn a_repository_template_overrides_the_built_in_one() {
    let repo = Repo::with_prod().file(
        "templates/partials/prologue.xml",
        "
        <?xml version='1.0'?>
        <!-- Example Corp: {{ instance }} on {{ host }} (ACC build {{ build }}), managed by nlconf. -->
        ",
    );
    let xml = rendered(&repo, "app2");
    assert!(
        xml.starts_with(
            "<?xml version='1.0'?>\n<!-- Example Corp: mkt_prod on app2.prod.example.com (ACC build 9383), managed by nlconf. -->\n<serverconf>\n"
        ),
        "{xml}"
    );
}

#[test]
fn the_secret_of_the_technical_account_is_never_rendered() {
    let repo = Repo::with_prod();
    for container in ["app1", "app2"] {
        let xml = rendered(&repo, container);
        assert!(!xml.contains("AGE ENCRYPTED") && !xml.contains("YWdlLWVuY3J5cHRpb24"), "{xml}");
        assert!(!xml.contains("authIMSTAClientSecret"), "nlserver writes the IMS secret, not nlconf:\n{xml}");
    }
}

#[test]
fn render_names_an_unknown_container() {
    Repo::with_prod()
        .run(&["render", "-e", "prod", "--instance", "mkt_prod", "--container", "app3"])
        .assert_exit(1)
        .stdout_is("")
        .stderr_is(
            "
            error: instance `mkt_prod` has no container `app3`
              help: containers are: app1, app2
            ",
        );
}
