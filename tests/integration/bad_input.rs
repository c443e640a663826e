//! Bad input: every mistake is refused with exit code 1, at the file:line:column where it is, with
//! a message that says what was expected; nothing is written and nothing panics (DESIGN §3, §6).
//!
//! Each case starts from the production environment (`harness::PROD_ENVIRONMENT`) and changes one
//! thing, usually in `environments/prod/override.yaml`, which is merged over it.

use std::collections::BTreeSet;
use std::path::Path;

use crate::harness::{OVERRIDE, Repo};

/// Every file and folder under `dir`, relative to it.
fn tree(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let path = e.path();
            out.insert(path.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(path);
            }
        }
    }
    out
}

/// A value encrypted by hand (`age -a -r <the recipient in fixtures/prod-recipients>`), so without
/// nlconf's binding header: accepted, with a warning until `secret rekey` binds it.
const HAND_ENCRYPTED: &str = "\
-----BEGIN AGE ENCRYPTED FILE-----
YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBxRzhBL21SK0pFQXZUOHBB
RW40ckxYVFVSMjFibzlNT3ZOTWVEUHF1a0ZRClRyRUp5UWR3R1BHVDVOMnZRUUNQ
cHZVRHVWdjFYN3JxamZ4bUdvMmpRNVkKLS0tIDQ5Qk5NVEZDaG1ZZUVCaVdrM2Np
VVJaOEdHd1FhY3UrOEIzdmZiQlB2SGMK7scy1hH21PyBDRDE/5nPYfTCQyWVCdvm
FL5MEqzj4/djp7HeuBr4dU/dHN0=
-----END AGE ENCRYPTED FILE-----
";

/// `text` indented by `spaces`, line by line, to go under a YAML block scalar.
fn indented(text: &str, spaces: usize) -> String {
    text.lines().map(|l| format!("{}{l}\n", " ".repeat(spaces))).collect()
}

/// `validate` and `render --out` both refuse the repository with exactly `expected` on stderr;
/// render writes nothing, and the repository is left as it was.
#[track_caller]
fn refused(repo: &Repo, expected: &str) {
    let before = tree(repo.root());
    repo.run(&["validate"]).assert_exit(1).stdout_is("").stderr_is(expected);
    repo.run(&["render", "-e", "prod", "--out", "out"]).assert_exit(1).stdout_is("").stderr_is(expected);
    assert!(!repo.work_path("out").exists(), "render --out wrote files although it failed");
    assert_eq!(tree(repo.root()), before, "the repository changed");
}

/// The production environment with `yaml` merged over it.
fn prod_with(yaml: &str) -> Repo {
    Repo::with_prod().file(OVERRIDE, yaml)
}

// YAML syntax ---------------------------------------------------------------------------------------

#[test]
fn malformed_yaml_an_unclosed_flow_mapping() {
    // The parser notices at the end of the file, which is where it reports.
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                serverconf:
                  mta: { autoStart: true
            ",
        ),
        "
        environments/prod/override.yaml:5:1: error: invalid YAML: while parsing a flow mapping, did not find expected ',' or '}'
        ",
    );
}

#[test]
fn malformed_yaml_a_value_that_looks_like_a_key() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                serverconf:
                  mta: autoStart: true
            ",
        ),
        "
        environments/prod/override.yaml:4:21: error: invalid YAML: mapping values are not allowed in this context
        ",
    );
}

#[test]
fn duplicate_keys() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                serverconf:
                  mta:
                    autoStart: true
                    maxMemoryMb: 2048
                    autoStart: false
            ",
        ),
        "
        environments/prod/override.yaml:7:9: error: duplicate key `autoStart`
          help: first defined at line 5, column 9
        ",
    );
}

#[test]
fn a_tab_in_indentation() {
    // The tab is the first character of line 5.
    refused(
        &Repo::with_prod().raw(OVERRIDE, "instances:\n  mkt_prod:\n    serverconf:\n      mta:\n\tautoStart: true\n"),
        "
        environments/prod/override.yaml:5:1: error: invalid YAML: tabs disallowed within this context (block indentation)
        ",
    );
}

#[test]
fn an_unknown_yaml_tag() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                serverconf:
                  mta: { autoStart: !bool true }
            ",
        ),
        "
        environments/prod/override.yaml:4:25: error: unknown YAML tag `!bool`; nlconf knows `!age` (a secret) and `!empty` (an empty value)
        ",
    );
}

#[test]
fn a_second_yaml_document() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                serverconf:
                  mta: { autoStart: true }
            ---
            campaign: { build: 9032 }
            ",
        ),
        "
        environments/prod/override.yaml:5:1: error: a second YAML document (`---`); an nlconf file holds one document
        ",
    );
}

#[test]
fn a_file_that_is_not_a_map_of_settings() {
    refused(
        &prod_with("mkt_prod"),
        "
        environments/prod/override.yaml:1:1: error: expected a map of settings at the top of the file, found a scalar
        ",
    );
}

// Files that cannot be read --------------------------------------------------------------------------

#[test]
fn an_alias_bomb() {
    // Ten levels of ten aliases each: 10^10 nodes if expanded.
    let mut yaml = String::from("lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let prev = format!("*lol{}", i - 1);
        yaml.push_str(&format!("lol{i}: &lol{i} [{}]\n", [prev.as_str(); 10].join(", ")));
    }
    refused(
        &Repo::with_prod().raw(OVERRIDE, yaml),
        "
        environments/prod/override.yaml:5:63: error: aliases expand to more than 100000 nodes; refusing (an alias bomb?)
        ",
    );
}

#[test]
fn nesting_deeper_than_configuration_ever_needs() {
    let yaml = format!("instances: {}{}\n", "[".repeat(100), "]".repeat(100));
    refused(
        &Repo::with_prod().raw(OVERRIDE, yaml),
        "
        environments/prod/override.yaml:1:75: error: nesting deeper than 64 levels; refusing
        ",
    );
}

#[test]
fn ten_thousand_open_brackets() {
    let yaml = format!("instances: {}\n", "[".repeat(10_000));
    refused(
        &Repo::with_prod().raw(OVERRIDE, yaml),
        "
        environments/prod/override.yaml:1:267: error: invalid YAML: recursion limit exceeded
        ",
    );
}

#[test]
fn a_fifty_megabyte_file() {
    let repo = Repo::with_prod();
    // Sparse: the size is what matters, and writing 50 MB would only slow the suite down.
    std::fs::File::create(repo.path(OVERRIDE)).unwrap().set_len(50 * 1024 * 1024).unwrap();
    refused(
        &repo,
        "
        environments/prod/override.yaml:1:1: error: file is 50.0 MB; nlconf reads YAML files up to 32 MB
          help: split the configuration into several files in the environment folder
        ",
    );
}

#[test]
fn bytes_that_are_not_utf8() {
    // "café" in Latin-1: the 0xe9 byte is the 37th character of line 4.
    refused(
        &Repo::with_prod().raw(
            OVERRIDE,
            b"instances:\n  mkt_prod:\n    serverconf:\n      mta: { statServerAddress: \"caf\xe9\" }\n",
        ),
        "
        environments/prod/override.yaml:4:37: error: invalid UTF-8 (byte 0xe9); YAML files must be UTF-8 text
        ",
    );
}

#[test]
fn a_folder_where_a_yaml_file_is_expected() {
    refused(
        &Repo::with_prod().folder("environments/prod/override.yaml"),
        "
        environments/prod/override.yaml: error: is a directory, expected a YAML file
        ",
    );
}

#[test]
fn a_symbolic_link_loop() {
    // Tests run as root, where `chmod 000` does not stop reading: a link to itself cannot be read by anyone.
    refused(
        &Repo::with_prod().symlink(OVERRIDE, "override.yaml"),
        "
        environments/prod/override.yaml: error: cannot read: Too many levels of symbolic links
        ",
    );
}

#[test]
fn a_dangling_symbolic_link() {
    refused(
        &Repo::with_prod().symlink(OVERRIDE, "../shared/mkt_prod.yaml"),
        "
        environments/prod/override.yaml: error: is a symlink to a file that does not exist
        ",
    );
}

// The environment's own keys -------------------------------------------------------------------------

#[test]
fn an_unknown_top_level_key() {
    refused(
        &prod_with(
            "
            instance:
              mkt_prod: {}
            ",
        ),
        "
        environments/prod/override.yaml:1:1: error: unknown key `instance` in the environment
          help: did you mean `instances`?
        ",
    );
}

/// Each rendered file names its container in an XML comment, which cannot hold `--`: such a name
/// would write a file that ACC's parser refuses.
#[test]
fn a_container_name_with_two_hyphens() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                containers:
                  web--3: { host: acc-web3.prod.nwo.example.net }
            ",
        ),
        "
        environments/prod/override.yaml:4:7: error: container name `web--3`: use letters, digits, `_` and `-` only, without `--` (it names a folder, and a comment in its files)
        ",
    );
}

#[test]
fn null_on_a_required_key_in_a_higher_layer() {
    refused(
        &prod_with("campaign: { build: null }"),
        "
        environments/prod/override.yaml:1:20: error: `campaign.build` is required, but `null` removes it
          help: add it, for example `build: 9383`
        ",
    );
}

#[test]
fn container_overrides_for_an_unknown_container() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                containerOverrides:
                  app3:
                    serverconf: { mta: { autoStart: false } }
            ",
        ),
        "
        environments/prod/override.yaml:4:7: error: containerOverrides.app3: instance `mkt_prod` has no such container
          help: did you mean `app1`?
        ",
    );
}

// serverconf against the schema ----------------------------------------------------------------------

#[test]
fn an_unknown_element() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                serverconf:
                  wfsever: { autoStart: true }
            ",
        ),
        "
        environments/prod/override.yaml:4:7: error: unknown element `wfsever` in serverconf
          help: did you mean `wfserver`? (ACC silently ignores names it does not know)
        ",
    );
}

#[test]
fn an_unknown_attribute() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                serverconf:
                  mta:
                    autoStrat: true
            ",
        ),
        "
        environments/prod/override.yaml:5:9: error: unknown attribute `autoStrat` in <mta>
          help: did you mean `autoStart`? (ACC silently ignores names it does not know)
        ",
    );
}

#[test]
fn a_boolean_that_is_not_true_or_false() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                serverconf:
                  mta:
                    autoStart: yes
            ",
        ),
        "
        environments/prod/override.yaml:5:20: error: `autoStart` is a Boolean: expected true or false, found `yes`
        ",
    );
}

#[test]
fn a_long_out_of_range() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                serverconf:
                  mta:
                    maxMemoryMb: 99999999999
            ",
        ),
        "
        environments/prod/override.yaml:5:22: error: `maxMemoryMb` is a Long: 99999999999 is out of range (-2147483648 to 2147483647)
        ",
    );
}

#[test]
fn a_long_that_is_not_a_number() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                serverconf:
                  mta:
                    maxMemoryMb: 2GB
            ",
        ),
        "
        environments/prod/override.yaml:5:22: error: `maxMemoryMb` is a Long (a whole number), found `2GB`
        ",
    );
}

#[test]
fn a_short_out_of_range() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                serverconf:
                  web: { httpPort: 80800 }
            ",
        ),
        "
        environments/prod/override.yaml:4:24: error: `httpPort` is a Short: 80800 is out of range (-32768 to 32767)
        ",
    );
}

#[test]
fn a_value_that_is_not_in_the_allowed_list() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                serverconf:
                  shared:
                    dataStore:
                      dataSource:
                        default:
                          dbcnx: { provider: Postgres }
            ",
        ),
        "
        environments/prod/override.yaml:8:34: error: `provider`: `Postgres` is not an allowed value; expected one of: Oracle, MSSQL, PostgreSQL, Teradata, MySQL, Netezza, AsterData, SAPHANA, RedShift, ODBC, Relay
        ",
    );
}

#[test]
fn an_allowed_value_in_another_case_is_only_a_warning_and_renders_as_written() {
    let repo = prod_with(
        "
        instances:
          mkt_prod:
            serverconf:
              shared:
                dataStore: { lang: EN_us }
        ",
    );
    repo.run(&["validate"]).assert_exit(0).stderr_is(
        "
        ok: prod (1 instance, 2 containers, 1 secret)
        environments/prod/override.yaml:5:28: warning: `lang`: `EN_us` is accepted as Adobe's `en_US` (rendered as written)
          help: write `en_US` to match Adobe's reference
        ",
    );
    let warning = "
        environments/prod/override.yaml:5:28: warning: `lang`: `EN_us` is accepted as Adobe's `en_US` (rendered as written)
          help: write `en_US` to match Adobe's reference
        ";
    let out = repo.run(&["render", "-e", "prod", "--instance", "mkt_prod", "--container", "app1"]);
    out.assert_exit(0).stderr_is(warning);
    assert!(out.stdout.contains(r#"<dataStore hosts="console.example.com*,tracking.example.com*" lang="EN_us">"#));
}

#[test]
fn an_empty_string_attribute() {
    refused(
        &prod_with(
            r#"
            instances:
              mkt_prod:
                serverconf:
                  mta: { initScript: "" }
            "#,
        ),
        r#"
        environments/prod/override.yaml:4:26: error: `initScript` of <mta>: empty value
          help: an empty attribute overrides serverConf.xml with nothing; remove the key to leave it unset, or write `!empty ""` if that is really meant
        "#,
    );
}

#[test]
fn empty_tag_on_a_value_that_is_not_empty() {
    refused(
        &prod_with(
            r#"
            instances:
              mkt_prod:
                serverconf:
                  mta: { initScript: !empty "start.js" }
            "#,
        ),
        r#"
        environments/prod/override.yaml:4:26: error: `initScript` of <mta>: `!empty` tags only the empty string; write `!empty ""`
        "#,
    );
}

#[test]
fn a_control_character_that_xml_cannot_hold() {
    refused(
        &prod_with(
            r#"
            instances:
              mkt_prod:
                serverconf:
                  mta: { xMailer: "nlserver\a" }
            "#,
        ),
        "
        environments/prod/override.yaml:4:23: error: `xMailer` of <mta>: contains the control character U+0007, which XML 1.0 cannot hold
        ",
    );
}

#[test]
fn a_list_where_an_element_map_is_expected() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                serverconf:
                  mta: [autoStart, true]
            ",
        ),
        "
        environments/prod/override.yaml:4:12: error: <mta>: expected a map of attributes and child elements, found a list
        ",
    );
}

#[test]
fn a_map_where_a_list_of_relay_urls_is_expected() {
    refused(
        &prod_with(
            r#"
            instances:
              mkt_prod:
                serverconf:
                  web:
                    relay:
                      url: { urlPath: "/r/*", targetUrl: "http://localhost:8080" }
            "#,
        ),
        "
        environments/prod/override.yaml:6:16: error: <url>: expected a list (one item per <url>, in order), found a map
        ",
    );
}

#[test]
fn a_key_attribute_repeated_inside_its_entry() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                serverconf:
                  shared:
                    dataStore:
                      dataSource:
                        default: { name: reporting }
            ",
        ),
        "
        environments/prod/override.yaml:7:24: error: `name` of <dataSource> is given by its map key `default`; remove this line
        ",
    );
}

#[test]
fn a_sensitive_attribute_in_plain_text() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                serverconf:
                  shared:
                    proxyConfig:
                      proxyHTTP: { address: proxy.example.com, port: 3128, password: x }
            ",
        ),
        "
        environments/prod/override.yaml:6:74: error: `password` of <proxyHTTP> is sensitive: it must not be stored in plain text
          help: store it encrypted: nlconf secret set -e prod instances.mkt_prod.serverconf.shared.proxyConfig.proxyHTTP.password
        ",
    );
}

#[test]
fn an_attribute_that_nlserver_owns() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                serverconf:
                  shared:
                    ims:
                      authIMSTAClientId: e053e1a87cf74c68a6ec8e71d4a82662
            ",
        ),
        "
        environments/prod/override.yaml:6:11: error: `authIMSTAClientId` of <ims> is written by `nlserver config -setimsoauth`/`-setimsjwtauth`, not set from YAML
          help: describe the technical account in the instance's `ims:` block; nlconf runs the nlserver command and keeps what it writes
        ",
    );
}

// Secrets --------------------------------------------------------------------------------------------

#[test]
fn age_on_a_map() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                ims:
                  clientSecret: !age
                    armor: YWdlLWVuY3J5cHRpb24ub3JnL3YxCg
            ",
        ),
        "
        environments/prod/override.yaml:4:21: error: `!age` must tag a scalar holding an age ciphertext, found a map
        ",
    );
}

#[test]
fn age_on_an_attribute_that_is_not_a_string() {
    let yaml = format!(
        "instances:\n  mkt_prod:\n    serverconf:\n      mta:\n        maxMemoryMb: !age |\n{}",
        indented(HAND_ENCRYPTED, 10)
    );
    refused(
        &Repo::with_prod().raw(OVERRIDE, yaml),
        "
        environments/prod/override.yaml:5:22: error: `maxMemoryMb` of <mta> is a Long; only String attributes can hold an `!age` secret
        environments/prod/override.yaml:5:22: warning: instances.mkt_prod.serverconf.mta.maxMemoryMb: unbound secret (encrypted without nlconf's header)
          help: bind it to its place: nlconf secret rekey -e prod
        ",
    );
}

#[test]
fn a_secret_in_the_shared_defaults() {
    let yaml = format!(
        "defaults:\n  serverconf:\n    shared:\n      proxyConfig:\n        proxyHTTP:\n          password: !age |\n{}",
        indented(HAND_ENCRYPTED, 12)
    );
    refused(
        &Repo::with_prod().raw("environments/defaults.yaml", yaml),
        "
        environments/defaults.yaml:6:21: error: a secret in environments/defaults.yaml
          help: secrets belong to one environment (each has its own recipients): move it into environments/<env>/
        environments/defaults.yaml:6:21: warning: defaults.serverconf.shared.proxyConfig.proxyHTTP.password: unbound secret (encrypted without nlconf's header)
          help: bind it to its place: nlconf secret rekey -e prod
        ",
    );
}

#[test]
fn legacy_pipelined_app_name() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                serverconf:
                  pipelined:
                    appName: campaign-triggers
            ",
        ),
        "
        environments/prod/override.yaml:5:9: error: `appName` belongs to the legacy Omniture OAuth of pipelined, retired on 2021-10-20
          help: authenticate Triggers with an Adobe IMS technical account: an `ims:` block on the instance and `authType: imsJwtToken`
        ",
    );
}

#[test]
fn pipelined_enabled_without_ims() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                ims: null
                serverconf:
                  pipelined: { authType: null }
            ",
        ),
        r#"
        environments/prod/override.yaml:5:18: error: pipelined is enabled without authentication: legacy Omniture OAuth was retired on 2021-10-20
          help: add an `ims:` block to the instance (nlconf then renders authType="imsJwtToken")
        "#,
    );
}

#[test]
fn auth_type_without_ims() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                ims: null
            ",
        ),
        "
        environments/prod/environment.yaml:28:47: error: pipelined `authType: imsJwtToken` needs the instance's `ims:` block (the technical account it authenticates with)
          help: add `ims:` with auth, orgId, clientId, technicalAccountId and clientSecret
        ",
    );
}

#[test]
fn ims_with_a_bad_org_id() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                ims:
                  orgId: 0123456789ABCDEF@AdobeOrg
            ",
        ),
        "
        environments/prod/override.yaml:4:14: error: ims.orgId: `0123456789ABCDEF@AdobeOrg` is not an Adobe organization ID
          help: expected 24 letters or digits followed by @AdobeOrg, as shown in the Developer Console
        ",
    );
}

#[test]
fn ims_with_a_bad_technical_account_id() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                ims:
                  technicalAccountId: 6657031C5C095BB40A4B0123@AdobeOrg
            ",
        ),
        "
        environments/prod/override.yaml:4:27: error: ims.technicalAccountId: `6657031C5C095BB40A4B0123@AdobeOrg` is not a technical account ID
          help: expected letters and digits followed by @techacct.adobe.com
        ",
    );
}

#[test]
fn ims_oauth_on_a_build_before_9383() {
    refused(
        &prod_with("campaign: { build: 9032 }"),
        "
        environments/prod/environment.yaml:30:13: error: ims.auth `oauth` needs ACC 7.4.1 (build 9383) or later; campaign.build is 9032
          help: upgrade ACC (nlserver config -setimsoauth exists from build 9383), or correct campaign.build
        ",
    );
}

#[test]
fn ims_jwt_without_a_private_key() {
    refused(
        &prod_with(
            "
            campaign: { build: 9032 }
            instances:
              mkt_prod:
                ims:
                  auth: jwt
            ",
        ),
        "
        environments/prod/override.yaml:5:7: error: instances.mkt_prod.ims: `privateKey` is required
          help: add `privateKey: !age … (the PEM private key of the JWT credential)`
        ",
    );
}

#[test]
fn ims_client_secret_in_plain_text() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                ims:
                  clientSecret: 5b1c8e2f-not-encrypted
            ",
        ),
        "
        environments/prod/override.yaml:4:21: error: ims.clientSecret must be an `!age` secret, not plain text
          help: encrypt it: nlconf secret set -e prod instances.mkt_prod.ims.clientSecret
        ",
    );
}

#[test]
fn ims_under_container_overrides() {
    refused(
        &prod_with(
            "
            instances:
              mkt_prod:
                containerOverrides:
                  app2:
                    ims: { auth: jwt }
            ",
        ),
        "
        environments/prod/override.yaml:5:9: error: containerOverrides may not change `ims`
          help: every container of an instance receives the same credentials (nlserver -setims* runs on each)
        ",
    );
}

// Templates ------------------------------------------------------------------------------------------

/// The built-in `partials/element.xml`, for overrides that break one thing in it.
const ELEMENT_PARTIAL: &str = r#"{{ line.indent }}{% if line.kind == "close" %}</{{ line.name }}>{% else %}<{{ line.name }}{% for a in line.attrs %} {{ a.name }}="{{ a.value }}"{% endfor %}{% if line.kind == "empty" %}/>{% elif line.kind == "text" %}>{{ line.text }}</{{ line.name }}>{% else %}>{% endif %}{% endif %}
"#;

#[test]
fn a_template_override_with_a_syntax_error() {
    let broken = ELEMENT_PARTIAL.replace(r#"{% if line.kind == "close" %}"#, "{% if %}");
    let expected = "
        templates/partials/element.xml:1:24: error: template: Found `%}` but expected one of: integer, float, string, bool, ident, `-`, `not`, `<`, `{`, `[` or `(`
        ";
    // validate must not print "ok: prod" as well: prod cannot be rendered.
    refused(&Repo::with_prod().raw("templates/partials/element.xml", broken), expected);
}

#[test]
fn a_template_override_with_an_undefined_variable() {
    let broken = ELEMENT_PARTIAL.replace("{{ line.indent }}", "{{ indent }}");
    refused(
        &Repo::with_prod().raw("templates/partials/element.xml", broken),
        "
        templates/partials/element.xml:1:4: error: template: Variable `indent` is not defined. Available variables: build, container, environment, host, instance, lines, root
        ",
    );
}

#[test]
fn a_template_override_that_renders_malformed_xml() {
    // Elements are opened but never closed: the output is checked before anything is written.
    let broken = ELEMENT_PARTIAL.replace(r#"{% if line.kind == "empty" %}/>"#, r#"{% if line.kind == "empty" %}>"#);
    refused(
        &Repo::with_prod().raw("templates/partials/element.xml", broken),
        "
        <built-in>/templates/config-instance.xml: error: rendered malformed XML for app1/config-mkt_prod.xml (output line 9, column 7: ill-formed document: expected `</dbcnx>`, but `</dataSource>` was found)
          help: fix the template; the output must be one well-formed <serverconf> document
        <built-in>/templates/config-instance.xml: error: rendered malformed XML for app2/config-mkt_prod.xml (output line 9, column 7: ill-formed document: expected `</dbcnx>`, but `</dataSource>` was found)
          help: fix the template; the output must be one well-formed <serverconf> document
        ",
    );
}

#[test]
fn a_template_naming_a_missing_template_and_filter() {
    // Tera finds these across templates, without a span of its own: each still gets file:line:col.
    let broken = "{% include \"partials/header.xml\" %}<{{ root }}>\n{% for line in lines %}{{ line | to_xml }}{% endfor %}</{{ root }}>\n";
    refused(
        &Repo::with_prod().raw("templates/config-instance.xml", broken),
        r#"
        templates/config-instance.xml:1:12: error: template: Unknown template `partials/header.xml`
         --> config-instance.xml:1:12
          |
        1 | {% include "partials/header.xml" %}<{{ root }}>
          |            ^^^^^^^^^^^^^^^^^^^^^
        templates/config-instance.xml:2:34: error: template: Unknown filter `to_xml`
         --> config-instance.xml:2:34
          |
        2 | {% for line in lines %}{{ line | to_xml }}{% endfor %}</{{ root }}>
          |                                  ^^^^^^
        "#,
    );
}

#[test]
fn a_template_that_includes_itself() {
    refused(
        &Repo::with_prod().raw("templates/config-instance.xml", "{% include \"config-instance.xml\" %}\n"),
        r#"
        templates/config-instance.xml: error: template: Circular include detected for template 'config-instance.xml'. Include chain: `["config-instance.xml", "config-instance.xml"]`
        "#,
    );
}

// Names given on the command line ----------------------------------------------------------------

#[test]
fn a_missing_environment() {
    let repo = Repo::with_prod();
    let expected = "
        environments: error: no environment `nope` (no folder environments/nope/)
          help: environments are: prod
        ";
    repo.run(&["validate", "-e", "nope"]).assert_exit(1).stdout_is("").stderr_is(expected);
    repo.run(&["render", "-e", "nope", "--out", "out"]).assert_exit(1).stdout_is("").stderr_is(expected);
    repo.run(&["explain", "-e", "nope", "--instance", "mkt_prod"]).assert_exit(1).stdout_is("").stderr_is(expected);
    assert!(!repo.work_path("out").exists());
}

#[test]
fn a_misspelt_environment_gets_a_suggestion() {
    Repo::with_prod().run(&["render", "-e", "prd"]).assert_exit(1).stdout_is("").stderr_is(
        "
        environments: error: no environment `prd` (no folder environments/prd/)
          help: did you mean `prod`?
        ",
    );
}

#[test]
fn a_missing_instance_for_explain() {
    Repo::with_prod()
        .run(&["explain", "-e", "prod", "--instance", "mkt_stage"])
        .assert_exit(1)
        .stdout_is("")
        .stderr_is(
            "
        error: environment `prod` has no instance `mkt_stage`
          help: instances are: mkt_prod
        ",
        );
}

#[test]
fn a_missing_instance_for_render() {
    let repo = Repo::with_prod();
    repo.run(&["render", "-e", "prod", "--instance", "mkt_stage", "--out", "out"])
        .assert_exit(1)
        .stdout_is("")
        .stderr_is(
            "
            error: environment `prod` has no instance `mkt_stage`
              help: instances are: mkt_prod
            ",
        );
    assert!(!repo.work_path("out").exists());
}

// Deployed files -----------------------------------------------------------------------------------

/// `nlconf diff -e prod --deployed deployed` with `xml` as app1's deployed file (app2 has none yet).
fn diff_against_deployed(xml: &str) -> crate::harness::Output {
    Repo::with_prod().raw("../deployed/app1/config-mkt_prod.xml", xml).folder("../deployed/app2").run(&[
        "diff",
        "-e",
        "prod",
        "--deployed",
        "deployed",
    ])
}

#[test]
fn a_deployed_file_nested_five_thousand_levels_deep() {
    // Well-formed otherwise: the tree it made overflowed the stack (exit 134). Now parsing stops at
    // the 257th level, on line 258.
    let mut xml = String::from("<?xml version='1.0'?>\n<serverconf>\n");
    for _ in 0..5_000 {
        xml.push_str("<mta>\n");
    }
    for _ in 0..5_000 {
        xml.push_str("</mta>");
    }
    xml.push_str("\n</serverconf>\n");
    diff_against_deployed(&xml).assert_exit(1).stdout_is("").stderr_is(
        "
        deployed/app1/config-mkt_prod.xml:258:1: error: app1: the deployed file is not well-formed XML: elements nested deeper than 256 levels (ACC configuration files have fewer than 10)
          help: fix or remove the file on the server; nlconf will not guess what it meant
        ",
    );
}

#[test]
fn a_deployed_file_with_a_duplicate_attribute() {
    let xml = "<?xml version='1.0'?>\n<serverconf>\n  <mta autoStart=\"true\" autoStart=\"false\"/>\n</serverconf>\n";
    diff_against_deployed(xml).assert_exit(1).stdout_is("").stderr_is(
        "
        deployed/app1/config-mkt_prod.xml:3:25: error: app1: the deployed file is not well-formed XML: attribute `autoStart` appears twice in the same element
          help: fix or remove the file on the server; nlconf will not guess what it meant
        ",
    );
}
