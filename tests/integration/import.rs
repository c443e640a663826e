//! Import (issue 7): `nlconf import -e ENV --instance I CONTAINER=FILE...` adopts the deployed
//! `config-<instance>.xml` of each container into `environments/<env>/<instance>.yaml`.
//!
//! The guarantee, on every fixture: right after the import, `nlconf diff --semantic
//! --detailed-exitcode` against the same files exits 0. Then what the import reports (what nlserver
//! keeps, typos, comments, the technical account), the YAML it writes (snapshots), bad input (exit 1,
//! file:line:column, nothing written), and that no nlserver ciphertext or database password of the
//! deployed files reaches the output or the YAML.
//!
//! The fixtures are under `fixtures/import/` (their README says where each comes from).

use std::collections::BTreeSet;

use insta::assert_snapshot;

use crate::harness::{Output, PROD_IDENTITY, PROD_RECIPIENTS, Repo};
use crate::leak::{Allowed, LeakRepo};

const MIGRATION: &str = include_str!("fixtures/import/adobe-migration.xml");
const ENTERPRISE_MALFORMED: &str = include_str!("fixtures/import/adobe-enterprise.malformed.xml");
const ENTERPRISE: &str = include_str!("fixtures/import/adobe-enterprise.xml");
const FILE_RES: &str = include_str!("fixtures/import/adobe-file-res.xml");
const TRACKING: &str = include_str!("fixtures/import/adobe-tracking.xml");
const IMS_CONFIG_741: &str = include_str!("fixtures/import/adobe-ims-config-741.xml");
const LEGACY_PIPELINED: &str = include_str!("fixtures/import/legacy-pipelined.xml");
const SENSITIVE_ONLY: &str = include_str!("fixtures/import/sensitive-only.xml");

/// One instance on two application servers and a front server.
const MULTI: &[(&str, &str)] = &[
    ("app1", include_str!("fixtures/import/multi/app1.xml")),
    ("app2", include_str!("fixtures/import/multi/app2.xml")),
    ("web1", include_str!("fixtures/import/multi/web1.xml")),
];

/// A stage instance whose app2 holds the technical account of another Adobe I/O project.
const DISAGREE: &[(&str, &str)] = &[
    ("app1", include_str!("fixtures/import/disagree/app1.xml")),
    ("app2", include_str!("fixtures/import/disagree/app2.xml")),
    ("app3", include_str!("fixtures/import/disagree/app3.xml")),
];

/// The production environment before adoption: the build and where the containers' files are, no
/// instance yet. The local target is the `deployed/` folder beside the repository.
const ENVIRONMENT: &str = "\
# Production, before adoption: nlconf knows where the files are, not what is in them.
campaign:
  build: 9400
target:
  kind: local
  conf_dir: ../deployed/{container}
";

const ENV_FILE: &str = "environments/prod/environment.yaml";

/// Attributes whose values nlserver encrypts, or that hold a password.
const SECRET_ATTRIBUTES: &[&str] = &[
    "password",
    "trackingPassword",
    "authIMSTAClientSecret",
    "authIMSTAPrivateKey",
    "authIMSClientSecret",
    "authIMSCode",
    "authPrivateKey",
];

/// Every `name="value"` (or `name='value'`) attribute of an XML text, raw (not unescaped).
fn attributes(xml: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let bytes = xml.as_bytes();
    let mut i = 0;
    while let Some(eq) = xml[i..].find('=').map(|p| p + i) {
        i = eq + 1;
        let Some(&quote) = bytes.get(eq + 1) else { break };
        if quote != b'"' && quote != b'\'' {
            continue;
        }
        let name_start = xml[..eq].rfind(|c: char| c.is_whitespace()).map_or(0, |p| p + 1);
        let Some(len) = xml[eq + 2..].find(quote as char) else { break };
        out.push((xml[name_start..eq].to_string(), xml[eq + 2..eq + 2 + len].to_string()));
        i = eq + 2 + len + 1;
    }
    out
}

/// What must never be printed nor written into the YAML: every password and nlserver ciphertext
/// (`@...=`) of the deployed files, and the base64 inside each ciphertext.
fn secrets_of(files: &[(&str, &str)]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (_, xml) in files {
        for (name, value) in attributes(xml) {
            let ciphertext = value.len() > 3 && value.starts_with('@') && value.ends_with('=');
            if (SECRET_ATTRIBUTES.contains(&name.as_str()) || ciphertext) && !value.is_empty() {
                if let Some(body) = value.strip_prefix('@') {
                    out.insert(body.to_string());
                }
                out.insert(value);
            }
        }
    }
    out
}

/// A temporary repository holding `ENVIRONMENT`, and the deployed file of `instance` on each
/// container under `deployed/<container>/config-<instance>.xml`.
struct Adoption {
    repo: Repo,
    instance: &'static str,
    containers: Vec<&'static str>,
    secrets: BTreeSet<String>,
}

fn adoption(instance: &'static str, files: &[(&'static str, &str)]) -> Adoption {
    let mut repo = Repo::new().raw(ENV_FILE, ENVIRONMENT);
    for (container, xml) in files {
        repo = repo.raw(&format!("../deployed/{container}/config-{instance}.xml"), xml);
    }
    Adoption { repo, instance, containers: files.iter().map(|(c, _)| *c).collect(), secrets: secrets_of(files) }
}

impl Adoption {
    fn yaml_path(&self) -> String {
        format!("environments/prod/{}.yaml", self.instance)
    }

    /// `CONTAINER=deployed/CONTAINER/config-I.xml` for each container.
    fn specs(&self) -> Vec<String> {
        self.containers.iter().map(|c| format!("{c}=deployed/{c}/config-{}.xml", self.instance)).collect()
    }

    /// `nlconf import -e prod --instance I EXTRA... SPECS...`.
    fn import(&self, extra: &[&str]) -> Output {
        let specs = self.specs();
        let mut args = vec!["import", "-e", "prod", "--instance", self.instance];
        args.extend(extra);
        args.extend(specs.iter().map(String::as_str));
        self.repo.run(&args)
    }

    /// `nlconf diff -e prod --deployed deployed EXTRA...`.
    fn diff(&self, extra: &[&str]) -> Output {
        let mut args = vec!["diff", "-e", "prod", "--deployed", "deployed"];
        args.extend(extra);
        self.repo.run(&args)
    }

    fn yaml(&self) -> String {
        self.repo.read(&self.yaml_path())
    }

    /// The files of the environment folder.
    fn env_files(&self) -> BTreeSet<String> {
        std::fs::read_dir(self.repo.path("environments/prod"))
            .expect("read environments/prod")
            .map(|e| e.expect("a directory entry").file_name().to_string_lossy().into_owned())
            .collect()
    }

    /// No password nor nlserver ciphertext of the deployed files in this output, nor in the YAML.
    #[track_caller]
    fn assert_no_leak(&self, out: &Output) {
        let yaml = std::fs::read_to_string(self.repo.path(&self.yaml_path())).unwrap_or_default();
        for secret in &self.secrets {
            for (place, text) in [("stdout", &out.stdout), ("stderr", &out.stderr), ("the YAML", &yaml)] {
                assert!(
                    !text.contains(secret.as_str()),
                    "LEAK: `{secret}` of the deployed files appears in {place} of `nlconf {}`\n{}",
                    out.args.join(" "),
                    text
                );
            }
        }
    }

    /// Import failed: exit 1, nothing on stdout, nothing written into the environment.
    #[track_caller]
    fn refused(&self, extra: &[&str]) -> Output {
        let before = self.env_files();
        let out = self.import(extra);
        out.assert_exit(1).assert_no_temp_path();
        assert_eq!(out.stdout, "", "a refused import printed a report");
        assert_eq!(self.env_files(), before, "a refused import wrote into environments/prod");
        out
    }
}

/// The guarantee: import exits 0, writes the YAML and says so, and the semantic diff right after,
/// against the same files, finds nothing (exit 0). Nothing secret is printed or written.
#[track_caller]
fn round_trip(instance: &'static str, files: &[(&'static str, &str)]) -> (Adoption, Output) {
    let a = adoption(instance, files);
    let out = a.import(&[]);
    out.assert_exit(0)
        .assert_no_temp_path()
        .stdout_contains(&format!("wrote {} ({} container", a.yaml_path(), files.len()))
        .stderr_contains("nlconf diff -e prod --deployed DIR --semantic");
    a.assert_no_leak(&out);
    let diff = a.diff(&["--semantic", "--detailed-exitcode"]);
    diff.assert_exit(0).stdout_contains(&format!("prod: 0 of {} files change", files.len()));
    a.assert_no_leak(&diff);
    let text = a.diff(&[]);
    a.assert_no_leak(&text);
    (a, out)
}

/// The YAML with the import date replaced, for snapshots.
fn dated(yaml: &str) -> String {
    let mut out = String::new();
    for line in yaml.lines() {
        match line.strip_prefix("# Imported by `nlconf import` on ") {
            Some(rest) if rest.len() > 10 && rest.is_char_boundary(10) => {
                out.push_str(&format!("# Imported by `nlconf import` on [date]{}\n", &rest[10..]));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

// The guarantee, on every fixture --------------------------------------------------------------------

#[test]
fn adobe_migration_example_round_trips() {
    let (a, out) = round_trip("mkt_prod", &[("app1", MIGRATION)]);
    assert_snapshot!("import_adobe_migration_yaml", dated(&a.yaml()));
    assert_snapshot!("import_adobe_migration_report", out.transcript());
}

#[test]
fn adobe_enterprise_example_corrected_round_trips_with_mapping_and_list_protect() {
    let (a, out) = round_trip("mkt_prod", &[("app1", ENTERPRISE)]);
    let yaml = a.yaml();
    for line in [
        "          mapping:\n            \"*\":\n              physical: default\n",
        "      listProtect:\n        autoStart: false\n",
    ] {
        assert!(yaml.contains(line), "the YAML lacks\n{line}in\n{yaml}");
    }
    out.stdout_contains("XML comments, not carried:\n  deployed/app1/config-mkt_prod.xml: line 4\n");
}

#[test]
fn adobe_file_res_example_round_trips_keeping_lang_fra_and_variables() {
    let (a, _) = round_trip("mkt_prod", &[("app1", FILE_RES)]);
    let yaml = a.yaml();
    for line in [
        "          lang: fra\n",
        "            images:\n              path: /var/www/images\n",
        "              path: $(XTK_INSTALL_DIR)/var/res/$(INSTANCE_NAME)/\n",
    ] {
        assert!(yaml.contains(line), "the YAML lacks\n{line}in\n{yaml}");
    }
}

#[test]
fn adobe_tracking_example_round_trips_keeping_the_tracking_password_and_db_password_out() {
    // Adobe's file is `config-prod.xml`: the instance is `prod`.
    let (a, out) = round_trip("prod", &[("track1", TRACKING)]);
    out.stdout_contains(
        "kept by nlserver, with the other sensitive values (left out of the YAML; carried over from the deployed files on render):\n  \
         shared/dataStore/dataSource/dbcnx/@encrypted\n  \
         shared/dataStore/dataSource/dbcnx/@password\n  \
         web/redirection/@trackingPassword\n",
    );
    let yaml = a.yaml();
    assert!(yaml.contains("          databaseId: u7F0000010554364C\n"), "{yaml}");
    assert!(yaml.contains("                login: <dbuser>:<base_unicode>\n"), "{yaml}");
    assert!(!yaml.contains("trackingPassword") && !yaml.contains("encrypted:"), "{yaml}");
}

#[test]
fn adobe_ims_config_741_example_round_trips_and_keeps_the_serverconf_spelling() {
    let (a, out) = round_trip("mkt_prod", &[("app1", IMS_CONFIG_741)]);
    assert_snapshot!("import_adobe_ims_config_741_yaml", dated(&a.yaml()));
    assert_snapshot!("import_adobe_ims_config_741_report", out.transcript());
    // Rendered against the deployed file, the root keeps its capital C: the text diff shows it as an
    // unchanged line, and only nlconf's header as new.
    let text = a.diff(&[]);
    text.assert_exit(0)
        .stdout_contains("\n <serverConf>\n")
        .stdout_contains("(cosmetic only: formatting, no change ACC would see)");
    assert!(!text.stdout.to_lowercase().contains("\n+<serverconf>"), "{}", text.stdout);
}

#[test]
fn both_root_spellings_in_one_instance_each_container_keeps_its_own() {
    let (a, _) = round_trip("mkt_prod", &[("app1", MIGRATION), ("app2", IMS_CONFIG_741)]);
    let text = a.diff(&[]);
    text.assert_exit(0).stdout_contains("\n <serverconf>\n").stdout_contains("\n <serverConf>\n");
    assert!(!text.stdout.to_lowercase().contains("\n+<serverconf>"), "{}", text.stdout);
}

#[test]
fn multi_container_instance_round_trips() {
    let (a, out) = round_trip("mkt_prod", MULTI);
    assert_snapshot!("import_multi_yaml", dated(&a.yaml()));
    assert_snapshot!("import_multi_report", out.transcript());
}

/// An element holding only a sensitive value (an encrypted `internalPassword`, a proxy password whose
/// address is in serverConf.xml) is left out of the YAML, so render must bring it back from the
/// deployed file, as it does for `dbcnx/@password`.
#[test]
fn elements_holding_only_a_sensitive_value_round_trip() {
    round_trip("mkt_prod", &[("app1", SENSITIVE_ONLY)]);
}

#[test]
fn containers_on_different_adobe_io_projects_round_trip() {
    round_trip("mkt_stage", DISAGREE);
}

#[test]
fn all_of_adobes_examples_side_by_side_as_one_instance_round_trip() {
    round_trip(
        "mkt_prod",
        &[("app1", MIGRATION), ("app2", ENTERPRISE), ("media1", FILE_RES), ("app3", IMS_CONFIG_741)],
    );
}

#[test]
fn legacy_pipelined_imports_and_validate_then_names_the_retired_authentication_and_its_replacement() {
    let a = adoption("mkt_prod", &[("app1", LEGACY_PIPELINED)]);
    let out = a.import(&[]);
    out.assert_exit(0).stdout_contains("  pipelined/@authPrivateKey\n");
    a.assert_no_leak(&out);
    let yaml = a.yaml();
    assert!(yaml.contains("        appName: df73c224e5-triggers-test\n"), "{yaml}");
    assert!(!yaml.contains("authPrivateKey"), "{yaml}");
    let line = |needle: &str| yaml.lines().position(|l| l.contains(needle)).expect(needle) + 1;
    let (pipelined, app_name) = (line("      pipelined:"), line("appName:"));
    let v = a.repo.run(&["validate", "-e", "prod"]);
    v.assert_exit(1)
        .stderr_contains(&format!(
            "environments/prod/mkt_prod.yaml:{}:9: error: pipelined is enabled without authentication: \
             legacy Omniture OAuth was retired on 2021-10-20\n  \
             help: add an `ims:` block to the instance (nlconf then renders authType=\"imsJwtToken\")\n",
            pipelined + 1
        ))
        .stderr_contains(&format!(
            "environments/prod/mkt_prod.yaml:{app_name}:9: error: `appName` belongs to the legacy Omniture OAuth \
             of pipelined, retired on 2021-10-20\n  \
             help: authenticate Triggers with an Adobe IMS technical account: an `ims:` block on the instance \
             and `authType: imsJwtToken`\n"
        ));
    a.assert_no_leak(&v);
}

/// Without files, import reads each container's file from the environment's target; the first
/// import of a shop starts from an environment with no instance yet.
#[test]
fn import_reads_the_files_from_the_target_of_an_environment_with_no_instance_yet() {
    let a = adoption("mkt_prod", MULTI);
    let out = a.repo.run(&["import", "-e", "prod", "--instance", "mkt_prod", "app1", "app2", "web1"]);
    out.assert_exit(0).stdout_contains("wrote environments/prod/mkt_prod.yaml (3 containers)");
    a.assert_no_leak(&out);
    a.repo.run(&["diff", "-e", "prod", "--semantic", "--detailed-exitcode"]).assert_exit(0);
}

#[test]
fn import_reads_the_files_from_the_target_beside_an_instance_already_adopted() {
    let a = adoption("mkt_prod", MULTI);
    let a = Adoption {
        repo: a
            .repo
            .raw("environments/prod/mid_prod.yaml", "instances:\n  mid_prod:\n    containers:\n      mid1: {}\n"),
        ..a
    };
    a.repo.run(&["render", "-e", "prod", "--instance", "mid_prod", "--out", "deployed"]).assert_exit(0);
    let out = a.repo.run(&["import", "-e", "prod", "--instance", "mkt_prod", "app1", "app2", "web1"]);
    out.assert_exit(0)
        .stdout_contains("wrote environments/prod/mkt_prod.yaml (3 containers)")
        .stderr_contains("nlconf diff -e prod --semantic (nothing should change)");
    a.assert_no_leak(&out);
    a.repo
        .run(&["diff", "-e", "prod", "--semantic", "--detailed-exitcode"])
        .assert_exit(0)
        .stdout_contains("prod: 0 of 4 files change");
    // A container with no file on the target is named.
    let missing = a.repo.run(&["import", "-e", "prod", "--instance", "mkt_prod", "--force", "app1", "app9"]);
    missing.assert_exit(1).stderr_contains("deployed/app9/config-mkt_prod.xml").stderr_contains("app9: no such file");
}

// What the report says -------------------------------------------------------------------------------

#[test]
fn report_lists_what_nlserver_keeps_typos_with_the_closest_name_and_comments() {
    let a = adoption("mkt_prod", MULTI);
    let out = a.import(&[]);
    out.assert_exit(0)
        .stdout_contains(
            "kept by nlserver, with the other sensitive values (left out of the YAML; carried over from the deployed files on render):\n  \
             shared/dataStore/dataSource/dbcnx/@encrypted\n  \
             shared/dataStore/dataSource/dbcnx/@password\n  \
             shared/ims/@authIMSTAClientId\n  \
             shared/ims/@authIMSTAClientSecret\n  \
             shared/ims/@authIMSTAId\n",
        )
        .stdout_contains(
            "unknown to the schema, written under rawAttributes (each may be a typo that ACC ignores):\n  \
             mta/@retryLostMessage: did you mean `retryLostMessages`? ACC ignores `retryLostMessage` [app1, app2, web1]\n  \
             wfserver/@autoStrat: did you mean `autoStart`? ACC ignores `autoStrat` [app2]\n",
        )
        .stdout_contains(
            "XML comments, not carried:\n  \
             deployed/app1/config-mkt_prod.xml: line 4\n  \
             deployed/app2/config-mkt_prod.xml: line 4\n  \
             deployed/web1/config-mkt_prod.xml: line 12\n",
        );
    // The typos are kept where they were, so that ACC keeps ignoring them until someone fixes them.
    let yaml = a.yaml();
    let mta = "      mta:\n        statServerAddress: app1.mkt.example.com:7777\n        \
               rawAttributes:\n          retryLostMessage: false\n";
    assert!(yaml.contains(mta), "{yaml}");
    assert!(
        yaml.contains("          wfserver:\n            rawAttributes:\n              autoStrat: true\n"),
        "{yaml}"
    );
}

#[test]
fn report_gives_the_ims_commands_with_the_org_id_the_files_name() {
    let a = adoption("mkt_prod", MULTI);
    a.import(&[]).assert_exit(0).stdout_contains(
        "technical account:\n  \
         the files name the technical account (clientId e053e1a87cf74c68a6ec8e71d4a82662) but not the organization, \
         the auth mode nor the client secret: its credentials are \"not managed\" until you add them:\n    \
         in environments/prod/mkt_prod.yaml under instances.mkt_prod.ims add `auth: oauth` (build >= 9383; `jwt` before) \
         and `orgId: C5E715D2535E8B4E0A4C98A4@AdobeOrg`\n    \
         printf %s \"$CLIENT_SECRET\" | nlconf secret set -e prod instances.mkt_prod.ims.clientSecret\n",
    );
    let yaml = a.yaml();
    assert!(
        yaml.contains(
            "    ims:\n      clientId: e053e1a87cf74c68a6ec8e71d4a82662\n      \
             technicalAccountId: 6657031C5C095BB40A4B0123@techacct.adobe.com\n"
        ),
        "{yaml}"
    );
    // Until then the credentials are "not managed": the instance validates, with a warning.
    a.repo
        .run(&["validate", "-e", "prod"])
        .assert_exit(0)
        .stderr_contains("instances.mkt_prod.ims has no `auth`: nlconf does not manage these credentials");
}

/// Doing what the report says makes the credentials managed: validate counts the secret, and the
/// next diff plans `-setimsoauth` on every container (no secret printed).
#[test]
fn following_the_reported_ims_steps_makes_the_credentials_managed() {
    let a = adoption("mkt_prod", MULTI);
    a.import(&[]).assert_exit(0);
    let path = a.yaml_path();
    let yaml = a.yaml().replacen(
        "    ims:\n",
        "    ims:\n      auth: oauth\n      orgId: C5E715D2535E8B4E0A4C98A4@AdobeOrg\n",
        1,
    );
    let repo = a.repo.raw(&path, yaml).raw("environments/prod/recipients", PROD_RECIPIENTS).set_secret(
        "prod",
        "instances.mkt_prod.ims.clientSecret",
        "p8e-Mkt-Prod-Client-Secret-0123456789abcdef",
    );
    repo.run(&["validate", "-e", "prod"])
        .assert_exit(0)
        .stderr_contains("ok: prod (1 instance, 3 containers, 1 secret)");
    let diff = repo.run(&["-i", PROD_IDENTITY, "diff", "-e", "prod", "--deployed", "deployed", "--semantic"]);
    diff.assert_exit(0)
        .stdout_contains("-setimsoauth:C5E715D2535E8B4E0A4C98A4@AdobeOrg/e053e1a87cf74c68a6ec8e71d4a82662/");
    assert!(!diff.stdout.contains("p8e-Mkt-Prod-Client-Secret"), "{}", diff.stdout);
}

#[test]
fn report_says_when_the_containers_disagree_on_the_adobe_io_project() {
    let a = adoption("mkt_stage", DISAGREE);
    let out = a.import(&[]);
    out.assert_exit(0).stdout_contains(
        "technical account:\n  \
         the containers disagree on the Adobe I/O project (app2 on a64f5f10849a410a97ffdac8ae1b3c0d; \
         app1, app3 on e053e1a87cf74c68a6ec8e71d4a82662); the YAML names the most common one\n",
    );
    // No org ID in the files: the report shows its form.
    out.stdout_contains("and `orgId: <24 hex digits>@AdobeOrg`\n");
    assert!(a.yaml().contains("      clientId: e053e1a87cf74c68a6ec8e71d4a82662\n"));
    a.assert_no_leak(&out);
}

#[test]
fn report_of_adobes_examples_without_a_technical_account() {
    for (xml, kept) in [(MIGRATION, true), (ENTERPRISE, false), (FILE_RES, false), (IMS_CONFIG_741, false)] {
        let a = adoption("mkt_prod", &[("app1", xml)]);
        let out = a.import(&[]);
        out.assert_exit(0).stdout_contains(
            "technical account:\n  \
             no technical account is configured in these files (shared/ims/@authIMSTAClientId is absent)\n",
        );
        assert_eq!(out.stdout.contains("kept by nlserver"), kept, "{}", out.stdout);
        assert!(!out.stdout.contains("rawAttributes"), "Adobe's examples use documented names only\n{}", out.stdout);
        assert!(!out.stdout.contains("NOT carried"), "{}", out.stdout);
    }
}

#[test]
fn yaml_keeps_values_as_acc_reads_them() {
    let (a, _) = round_trip("mkt_prod", MULTI);
    let yaml = a.yaml();
    for line in [
        // An empty attribute overrides serverConf.xml: imported as the explicit empty value.
        "        args: !empty \"\"\n",
        // ACC variables, literally.
        "          exportDirectory: $(XTK_INSTALL_DIR)/var/$(INSTANCE_NAME)/export/\n",
        // Character references decoded once; quotes kept.
        "          expirationURL: https://www.example.com/expired?src=acc&lang=en\n",
        "        errorForwardAddress: \"\\\"Campaign errors\\\" <campaign-errors@example.com>\"\n",
        // The trailing comma of affinity means "and workflows without affinity".
        "        affinity: XXX,YYY,\n",
        // Enum spelling as written.
        "                provider: PostgreSQL\n",
        // What only one container has goes to its override.
        "            maxMemoryMb: 2048\n",
        "              IMSOrgId: C5E715D2535E8B4E0A4C98A4@AdobeOrg\n",
    ] {
        assert!(yaml.contains(line), "the YAML lacks\n{line}in\n{yaml}");
    }
    let (m, _) = round_trip("mkt_prod", &[("app1", MIGRATION)]);
    assert!(m.yaml().contains("                provider: postgresql\n"), "Adobe's lower-case spelling is kept");
}

#[test]
fn an_element_unknown_to_the_schema_is_reported_as_not_carried() {
    let xml = MIGRATION.replace(
        "  <sms autoStart=\"false\"/>\n",
        "  <sms autoStart=\"false\"/>\n  <predictive autoStart=\"true\"/>\n",
    );
    let a = adoption("mkt_prod", &[("app1", &xml)]);
    a.import(&[]).assert_exit(0).stdout_contains(
        "NOT carried:\n  <predictive> under the root: not in the schema, so nlconf cannot manage it [app1]\n",
    );
}

// Bad input: exit 1, the file and line:column, nothing written -----------------------------------------

#[test]
fn adobe_enterprise_example_as_published_is_refused_at_the_line_and_column_of_the_problem() {
    let a = adoption("mkt_prod", &[("app1", ENTERPRISE_MALFORMED)]);
    let out = a.refused(&[]);
    // The parser finds `</serverconf>` (line 13, column 1) where `</mta>` (opened line 8) should be.
    out.stderr_contains("deployed/app1/config-mkt_prod.xml:13:1: error: app1: not well-formed XML: ")
        .stderr_contains("expected `</mta>`, but `</serverconf>` was found");
}

#[test]
fn an_empty_file_is_refused() {
    let a = adoption("mkt_prod", &[("app1", "")]);
    a.refused(&[]).stderr_is(
        "deployed/app1/config-mkt_prod.xml:1:1: error: app1: not well-formed XML: no root element (the file is empty)\n",
    );
}

#[test]
fn a_yaml_file_is_refused_as_not_xml() {
    let a = adoption("mkt_prod", &[("app1", ENVIRONMENT)]);
    a.refused(&[]).stderr_is(
        "deployed/app1/config-mkt_prod.xml:1:1: error: app1: not well-formed XML: text outside the root element\n",
    );
}

#[test]
fn a_binary_file_is_refused_as_not_text_naming_the_file_and_position() {
    // A gzip header: someone copied config-mkt_prod.xml.gz under the wrong name.
    let a = adoption("mkt_prod", &[("app1", "")]);
    let gz: &[u8] = &[0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xff, 0xfe, 0x00, 0x01];
    let a = Adoption { repo: a.repo.raw("../deployed/app1/config-mkt_prod.xml", gz), ..a };
    let out = a.refused(&[]);
    out.stderr_contains("deployed/app1/config-mkt_prod.xml:1:2: error: ").stderr_contains("UTF-8");
    // It is an XML file, not a YAML one.
    assert!(!out.stderr.contains("YAML"), "the message calls the XML file a YAML file:\n{}", out.stderr);
}

#[test]
fn a_file_of_another_instance_is_refused() {
    let a = adoption("mkt_prod", &[]);
    let a = Adoption { repo: a.repo.raw("../deployed/mid1/config-mid_prod.xml", MIGRATION), ..a };
    let before = a.env_files();
    a.repo
        .run(&["import", "-e", "prod", "--instance", "mkt_prod", "mid1=deployed/mid1/config-mid_prod.xml"])
        .assert_exit(1)
        .stdout_is("")
        .stderr_is(
            "
            deployed/mid1/config-mid_prod.xml: error: this is the file of instance `mid_prod`, not `mkt_prod`
              help: import config-mkt_prod.xml files for --instance mkt_prod
            ",
        );
    assert_eq!(a.env_files(), before);
}

#[test]
fn a_root_that_is_not_serverconf_is_refused_at_its_line_and_column() {
    // Tomcat's server.xml, copied under the instance file's name.
    let tomcat = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
                  <Server port=\"8005\" shutdown=\"SHUTDOWN\">\n  <Service name=\"Catalina\"/>\n</Server>\n";
    let a = adoption("mkt_prod", &[("app1", tomcat)]);
    let out = a.refused(&[]);
    out.stderr_contains("the root element is <Server>, expected <serverconf>: not an ACC instance file");
    out.stderr_contains("deployed/app1/config-mkt_prod.xml:2:1: error: ");
}

#[test]
fn a_missing_file_is_refused_naming_it() {
    let a = adoption("mkt_prod", &[("app1", MIGRATION)]);
    let before = a.env_files();
    a.repo
        .run(&[
            "import",
            "-e",
            "prod",
            "--instance",
            "mkt_prod",
            "app1=deployed/app1/config-mkt_prod.xml",
            "app2=deployed/app2/config-mkt_prod.xml",
        ])
        .assert_exit(1)
        .stdout_is("")
        .stderr_is("deployed/app2/config-mkt_prod.xml: error: cannot read: No such file or directory\n");
    assert_eq!(a.env_files(), before);
}

#[test]
fn a_missing_environment_is_refused() {
    let a = adoption("mkt_prod", &[("app1", MIGRATION)]);
    let specs = a.specs();
    a.repo.run(&["import", "-e", "stage", "--instance", "mkt_prod", &specs[0]]).assert_exit(1).stdout_is("").stderr_is(
        "
            environments: error: no environment `stage` (no folder environments/stage/)
              help: environments are: prod
            ",
    );
    assert!(!a.repo.path("environments/stage").exists());
}

#[test]
fn an_existing_yaml_is_kept_without_force_and_replaced_with_it() {
    let a = adoption("mkt_prod", MULTI);
    let hand_written =
        "# Started by hand in 2024, never finished.\ninstances:\n  mkt_prod:\n    containers:\n      app1: {}\n";
    let a = Adoption { repo: a.repo.raw("environments/prod/mkt_prod.yaml", hand_written), ..a };
    a.refused(&[]).stderr_is(
        "
        environments/prod/mkt_prod.yaml: error: already exists; nlconf import never overwrites a file
          help: move it away, or pass --force to replace it
        ",
    );
    assert_eq!(a.yaml(), hand_written);
    let out = a.import(&["--force"]);
    out.assert_exit(0).stdout_contains("wrote environments/prod/mkt_prod.yaml (3 containers)");
    assert!(a.yaml().starts_with("# Imported by `nlconf import` on "), "{}", a.yaml());
    a.diff(&["--semantic", "--detailed-exitcode"]).assert_exit(0);
}

#[test]
fn an_instance_already_defined_in_the_environment_is_refused_where_it_is_defined() {
    let env = format!("{ENVIRONMENT}instances:\n  mkt_prod:\n    containers:\n      app1: {{}}\n");
    let a = adoption("mkt_prod", &[("app1", MIGRATION)]);
    let a = Adoption { repo: a.repo.raw(ENV_FILE, env), ..a };
    a.refused(&[]).stderr_is(
        "environments/prod/environment.yaml:8:3: error: instance `mkt_prod` is already defined here; import writes a new instance\n",
    );
    // Also when another file of the environment defines it.
    let b = adoption("mkt_prod", &[("app1", MIGRATION)]);
    let b = Adoption {
        repo: b.repo.raw(
            "environments/prod/marketing.yaml",
            "instances:\n  mid_prod:\n    containers: { mid1: {} }\n  mkt_prod:\n    containers: { app1: {} }\n",
        ),
        ..b
    };
    b.refused(&[]).stderr_is(
        "environments/prod/marketing.yaml:4:3: error: instance `mkt_prod` is already defined here; import writes a new instance\n",
    );
}

#[test]
fn a_container_named_twice_is_refused() {
    let a = adoption("mkt_prod", MULTI);
    let before = a.env_files();
    let out = a.repo.run(&[
        "import",
        "-e",
        "prod",
        "--instance",
        "mkt_prod",
        "app1=deployed/app1/config-mkt_prod.xml",
        "app1=deployed/app2/config-mkt_prod.xml",
    ]);
    out.assert_exit(1).stderr_contains("app1");
    assert_eq!(a.env_files(), before, "import wrote a YAML with the container `app1` twice");
}

/// Two `<dataSource>` without `name` are both `default`: import must not write a YAML with a
/// duplicate key (which nothing can read back); it says so instead.
#[test]
fn repeated_elements_with_the_same_key_never_give_a_yaml_with_duplicate_keys() {
    let xml = MIGRATION.replace(
        "      </dataSource>\n",
        "      </dataSource>\n      <dataSource>\n        \
         <dbcnx login=\"reporting\" provider=\"postgresql\" server=\"replica\"/>\n      </dataSource>\n",
    );
    let a = adoption("mkt_prod", &[("app1", &xml)]);
    let out = a.import(&[]);
    out.assert_no_panic();
    assert!(
        out.stdout.contains("dataSource") || out.stderr.contains("dataSource"),
        "import does not mention the second <dataSource default>\n{}{}",
        out.stdout,
        out.stderr
    );
    if a.repo.path(&a.yaml_path()).exists() {
        let v = a.repo.run(&["validate", "-e", "prod"]);
        assert!(
            !v.stderr.contains("duplicate key"),
            "import wrote a YAML with a duplicate key:\n{}\n{}",
            a.yaml(),
            v.stderr
        );
    }
}

/// A value the schema rejects (`autoStart="yes"`) gives a YAML that does not validate: import must
/// say so rather than print "nothing should change".
#[test]
fn a_value_the_schema_rejects_is_reported_by_import() {
    let xml = MIGRATION.replace("<wfserver autoStart=\"true\"/>", "<wfserver autoStart=\"yes\"/>");
    let a = adoption("mkt_prod", &[("app1", &xml)]);
    let out = a.import(&[]);
    out.assert_no_panic();
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.lines().any(|l| l.contains("autoStart") && l.contains("yes")),
        "import does not report `autoStart=\"yes\"`, which validate rejects:\n{all}"
    );
}

// Leaks ------------------------------------------------------------------------------------------------

/// The leak helper's deployed files (nlserver ciphertexts in `shared/ims` and `dbcnx`, plaintext
/// proxy and internal passwords) imported into a new environment: nothing secret reaches stdout,
/// stderr or the YAML.
#[test]
fn leak_helper_import_of_the_deployed_files_prints_and_writes_no_secret() {
    let lr = LeakRepo::new().with_deployed();
    std::fs::create_dir_all(lr.repo.path("environments/adopt")).expect("create environments/adopt");
    std::fs::write(lr.repo.path("environments/adopt/environment.yaml"), ENVIRONMENT).expect("write the environment");
    let out = lr.run(
        "import",
        &[
            "import",
            "-e",
            "adopt",
            "--instance",
            "mkt_prod",
            "app1=deployed/app1/config-mkt_prod.xml",
            "app2=deployed/app2/config-mkt_prod.xml",
        ],
        b"",
        Allowed::default(),
    );
    out.assert_exit(0).stdout_contains("wrote environments/adopt/mkt_prod.yaml (2 containers)");
    // (Whether this diff is empty is `elements_holding_only_a_sensitive_value_round_trip`'s business.)
    for format in ["text", "json", "markdown"] {
        lr.run(
            "diff after import",
            &["diff", "-e", "adopt", "--deployed", "deployed", "--format", format],
            b"",
            Allowed::default(),
        )
        .assert_no_panic();
    }
}

#[test]
fn no_fixture_secret_reaches_the_output_or_the_yaml() {
    let everything: Vec<(&'static str, &str)> = MULTI
        .iter()
        .copied()
        .chain([("mig1", MIGRATION), ("track1", TRACKING), ("legacy1", LEGACY_PIPELINED), ("proxy1", SENSITIVE_ONLY)])
        .collect();
    let a = adoption("mkt_prod", &everything);
    // The helper found them: the ciphertexts, and Adobe's plain `myPassword`.
    for s in ["myPassword", "myPassword=", "xxxx=", "@cDhlLU1rdFByb2RDbGllbnRTZWNyZXRBcHAxRW5jcnlwdGVk="] {
        assert!(a.secrets.contains(s), "{s} not among {:?}", a.secrets);
    }
    for args in [&[][..], &["-v", "--force"], &["--force"]] {
        let out = a.import(args);
        out.assert_exit(0);
        a.assert_no_leak(&out);
    }
    for extra in [&[][..], &["--semantic"], &["--format", "json"], &["--format", "markdown"]] {
        let out = a.diff(extra);
        out.assert_no_panic();
        a.assert_no_leak(&out);
    }
}
