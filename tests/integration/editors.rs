//! Editors (README "Editors", DESIGN §11): `nlconf schema` describes an environment file as a JSON
//! Schema (draft-07) that an editor checks the YAML against as it is typed. Checked here with a real
//! validator: every shipped file passes, and what `nlconf validate` refuses the schema refuses too.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};

use crate::harness::{Repo, STAGE, dedent};
use nlconf::support::yaml;

/// `nlconf schema`, parsed.
fn schema() -> Json {
    let out = Repo::new().run(&["schema"]);
    out.assert_exit(0).stderr_is("");
    serde_json::from_str(&out.stdout).expect("nlconf schema prints JSON")
}

fn validator(schema: &Json) -> jsonschema::Validator {
    jsonschema::draft7::new(schema).expect("the schema compiles as draft-07")
}

/// A YAML file as JSON, the way yaml-language-server reads it (YAML 1.2 core schema): plain scalars
/// become booleans, numbers or null; a tagged scalar (`!age`, `!empty`) is the string it tags.
fn yaml_to_json(text: &str) -> Json {
    let (root, _) = yaml::parse(text, Path::new("test.yaml")).expect("the test's YAML parses");
    node_to_json(&root)
}

fn node_to_json(node: &yaml::Node) -> Json {
    match &node.kind {
        yaml::Kind::Null => Json::Null,
        yaml::Kind::Scalar(s, yaml::Style::Plain) if node.tag == yaml::Tag::None => plain_scalar(s),
        yaml::Kind::Scalar(s, _) => Json::String(s.to_string()),
        yaml::Kind::Seq(items) => Json::Array(items.iter().map(node_to_json).collect()),
        yaml::Kind::Map(entries) => {
            Json::Object(entries.iter().map(|e| (e.key.to_string(), node_to_json(&e.value))).collect::<Map<_, _>>())
        }
    }
}

/// YAML 1.2's core schema for a plain scalar.
fn plain_scalar(s: &str) -> Json {
    match s {
        "true" | "True" | "TRUE" => return Json::Bool(true),
        "false" | "False" | "FALSE" => return Json::Bool(false),
        _ => {}
    }
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(n) = s.parse::<i64>()
    {
        return Json::from(n);
    }
    let float_like = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && digits.bytes().any(|b| b.is_ascii_digit());
    match s.parse::<f64>() {
        Ok(f) if float_like => Json::from(f),
        _ => Json::String(s.to_string()),
    }
}

/// What the schema finds wrong in a YAML file: `path: message` per error.
fn schema_errors(validator: &jsonschema::Validator, text: &str) -> Vec<String> {
    let instance = yaml_to_json(text);
    validator.iter_errors(&instance).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

/// Every YAML file under a folder, in name order.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("read the folder").map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            found.extend(yaml_files(&path));
        } else if path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            found.push(path);
        }
    }
    found
}

#[test]
fn the_schema_is_draft_07_and_valid_against_its_meta_schema() {
    let s = schema();
    assert_eq!(s["$schema"], "http://json-schema.org/draft-07/schema#");
    jsonschema::draft7::meta::validate(&s).expect("the schema is a valid draft-07 schema");
    let detected = jsonschema::validator_for(&s).expect("the schema compiles");
    assert_eq!(detected.draft(), jsonschema::Draft::Draft7);
}

#[test]
fn the_schema_output_is_stable_and_pretty() {
    let first = Repo::new().run(&["schema"]);
    let second = Repo::new().run(&["schema"]);
    first.assert_exit(0);
    assert_eq!(first.stdout, second.stdout);
    assert!(first.stdout.starts_with("{\n  \"$comment\": "), "{}", &first.stdout[..80]);
    let reparsed: Json = serde_json::from_str(&first.stdout).unwrap();
    assert_eq!(serde_json::to_string_pretty(&reparsed).unwrap() + "\n", first.stdout, "keys sorted, pretty");
}

#[test]
fn every_shipped_environment_file_validates_against_the_schema() {
    let v = validator(&schema());
    let files = yaml_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("environments"));
    assert!(files.len() >= 6, "the shipped example has defaults.yaml and dev, stage and prod files: {files:?}");
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for e in schema_errors(&v, &text) {
            failures.push(format!("{}: {e}", file.display()));
        }
    }
    assert!(failures.is_empty(), "shipped files the schema refuses:\n{}", failures.join("\n"));
}

/// The same file, told apart the same way by `nlconf validate` and by the schema: the staging
/// environment (`harness::STAGE`) with `environments/stage/override.yaml` over it.
#[track_caller]
fn agree(v: &jsonschema::Validator, override_yaml: &str, valid: bool) {
    let out = Repo::new()
        .file("environments/stage/environment.yaml", STAGE)
        .file("environments/stage/override.yaml", override_yaml)
        .run(&["validate"]);
    out.assert_exit(if valid { 0 } else { 1 });
    let errors = schema_errors(v, &dedent(override_yaml));
    assert_eq!(errors.is_empty(), valid, "the schema disagrees with nlconf validate on\n{override_yaml}\n{errors:#?}");
}

#[test]
fn a_misspelt_attribute_fails_the_schema_as_it_fails_validate() {
    let v = validator(&schema());
    agree(&v, "instances: { mkt_stage: { serverconf: { mta: { autoStrat: true } } } }", false);
    agree(&v, "defaults: { serverconf: { shared: { dataStore: { langage: en_US } } } }", false);
    agree(&v, "instances: { mkt_stage: { serverconf: { wfserver: { autoStart: true } } } }", true);
}

#[test]
fn a_misspelt_environment_key_fails_the_schema_as_it_fails_validate() {
    let v = validator(&schema());
    agree(&v, "targt: { kind: ssh }", false);
    agree(&v, "instances: { mkt_stage: { containerOverride: { app1: {} } } }", false);
    agree(&v, "instances: { mkt_stage: { containers: { app1: { hots: a.example.com } } } }", false);
    agree(&v, "target: { kind: ssh, user: neolane, connect_timeout: 30 }", true);
}

#[test]
fn container_names_agree_with_validate() {
    let v = validator(&schema());
    let container = |name: &str| {
        format!("instances: {{ mkt_stage: {{ containers: {{ \"{name}\": {{ host: h.example.com }} }} }} }}")
    };
    for name in ["app-3", "-app3", "app3-", "a_b-c-d", "-"] {
        agree(&v, &container(name), true);
    }
    // Each rendered file names its container in an XML comment, which cannot hold `--`.
    for name in ["app--3", "--", "a-b---c", "app3--"] {
        agree(&v, &container(name), false);
    }
}

#[test]
fn a_wrong_enumeration_value_fails_the_schema_as_it_fails_validate() {
    let v = validator(&schema());
    agree(&v, "defaults: { serverconf: { shared: { urlPermission: { action: block } } } }", false);
    agree(&v, "target: { kind: sftp }", false);
    // Adobe's own examples write the provider in lower case: accepted (with a warning).
    let provider = "
        instances:
          mkt_stage:
            serverconf: { shared: { dataStore: { dataSource: { default: { dbcnx: { provider: postgresql } } } } } }
        ";
    agree(&v, provider, true);
    agree(&v, "instances: { mkt_stage: { serverconf: { mta: { logLevel: 3 } } } }", false);
}

#[test]
fn types_ranges_and_shapes_agree_with_validate() {
    let v = validator(&schema());
    let mta = |attrs: &str| format!("instances: {{ mkt_stage: {{ serverconf: {{ mta: {{ {attrs} }} }} }} }}");
    agree(&v, &mta("autoStart: yes"), false);
    agree(&v, &mta("autoStart: 1"), true);
    agree(&v, &mta("maxProcessMemoryAlertMb: 99999999999"), false);
    agree(&v, &mta("maxProcessMemoryAlertMb: lots"), false);
    agree(&v, &mta("maxProcessMemoryAlertMb: \"4096\""), true);
    agree(&v, &mta("args: !empty \"\""), true);
    agree(&v, &mta("rawAttributes: { myUndocumentedFlag: \"1\" }"), true);
    agree(&v, "target: { connect_timeout: 3601 }", false);
    // A repeated element without a key attribute is a list; one with a key is a map keyed by it.
    agree(&v, "instances: { mkt_stage: { serverconf: { web: { relay: { url: { a: {} } } } } } }", false);
    agree(&v, "instances: { mkt_stage: { serverconf: { web: { relay: { url: [ { urlPath: \"/x/*\" } ] } } } } }", true);
    agree(&v, "instances: { mkt_stage: { serverconf: { securityZone: [ { label: lan } ] } } }", false);
    // A sensitive attribute holds an `!age` secret, never plain text.
    agree(&v, "defaults: { serverconf: { shared: { proxyConfig: { proxyHTTP: { password: hunter2 } } } } }", false);
    agree(&v, "restart: { web/rely: [web] }", false);
    agree(&v, "restart: { web/relay: [web], wfserver: [\"wfserver@{instance}\"] }", true);
    agree(&v, "instances: { mkt_stage: { serverconf: { mta: null } } }", true);
}

// nlconf init ------------------------------------------------------------------------------------

/// The hooks the generated `.pre-commit-config.yaml` runs: the ids and entries of this repository's
/// `.pre-commit-hooks.yaml`.
const PRE_COMMIT_HOOKS: &str = "
    repos:
      - repo: local
        hooks:
          - id: nlconf-validate
            name: nlconf validate
            entry: nlconf validate
            language: system
            pass_filenames: false
            files: ^(environments|templates)/
          - id: nlconf-secret-check
            name: nlconf secret check
            entry: nlconf secret check --no-decrypt
            language: system
            pass_filenames: false
            files: ^environments/
    ";

const DB_PASSWORD: &str = "instances.mkt_dev.serverconf.shared.dataStore.dataSource.default.dbcnx.password";

/// Every file under a folder, relative to it, in name order.
fn files_under(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// Writes a file into the fake home folder the harness runs nlconf with.
fn in_home(repo: &Repo, rel: &str, text: &str) {
    let path = repo.work_path(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn init_writes_a_repository_that_validates_at_once() {
    let repo = Repo::new();
    let out = repo.run(&["init"]);
    out.assert_exit(0);
    assert_eq!(out.stderr, "");
    out.stdout_contains("wrote a new nlconf repository in ")
        .stdout_contains("\n  environments/dev/environment.yaml\n")
        .stdout_contains("no public key was found: add yours to environments/dev/recipients")
        .stdout_contains("next steps:");
    assert_eq!(
        files_under(repo.root()),
        [
            ".gitignore",
            ".nlconf-schema.json",
            ".pre-commit-config.yaml",
            "environments/defaults.yaml",
            "environments/dev/environment.yaml",
            "environments/dev/recipients"
        ]
    );
    repo.run(&["validate"]).assert_exit(0).stderr_is("ok: dev (1 instance, 1 container, 0 secrets)\n");
    // Without a key, recipients says how to add one, and is still a valid file for a repository
    // without secrets.
    let recipients = repo.read("environments/dev/recipients");
    assert!(recipients.lines().all(|l| l.is_empty() || l.starts_with('#')), "{recipients}");
    assert!(recipients.contains("age-keygen -o ~/.config/nlconf/identity.txt"), "{recipients}");

    assert!(repo.read(".pre-commit-config.yaml").contains(&dedent(PRE_COMMIT_HOOKS)));
    let gitignore = repo.read(".gitignore");
    for pattern in ["*.agekey", "*.key", "identity.txt", "id_ed25519"] {
        assert!(gitignore.lines().any(|l| l == pattern), "{pattern} is not ignored:\n{gitignore}");
    }
}

#[test]
fn init_files_validate_against_the_schema_their_modeline_names() {
    let repo = Repo::new();
    repo.run(&["init"]).assert_exit(0);
    let written: Json = serde_json::from_str(&repo.read(".nlconf-schema.json")).unwrap();
    assert_eq!(written, schema(), "init writes what `nlconf schema` prints");
    let v = validator(&written);
    for rel in ["environments/defaults.yaml", "environments/dev/environment.yaml"] {
        let text = repo.read(rel);
        let modeline = text.lines().next().unwrap();
        let target = modeline.strip_prefix("# yaml-language-server: $schema=").expect("a modeline first");
        let schema_path = repo.path(rel).parent().unwrap().join(target);
        assert_eq!(
            std::fs::canonicalize(schema_path).unwrap(),
            std::fs::canonicalize(repo.path(".nlconf-schema.json")).unwrap()
        );
        assert_eq!(schema_errors(&v, &text), Vec::<String>::new(), "{rel}");
    }
}

#[test]
fn init_puts_the_users_age_public_key_in_recipients() {
    let repo = Repo::new();
    let identity = std::fs::read_to_string(crate::harness::PROD_IDENTITY).unwrap();
    in_home(&repo, ".config/nlconf/identity.txt", &identity);
    repo.run(&["init"])
        .assert_exit(0)
        .stdout_contains("environments/dev/recipients holds your public key (from ~/.config/nlconf/identity.txt)");
    let recipients = repo.read("environments/dev/recipients");
    let key = crate::harness::PROD_RECIPIENTS.lines().last().unwrap();
    assert!(recipients.lines().any(|l| l == key), "{recipients}");
    assert!(!recipients.contains("AGE-SECRET-KEY"), "no private key in recipients");
    // The user can set a secret and check it at once.
    let repo = repo.set_secret("dev", DB_PASSWORD, "s3cret-db-password");
    repo.run(&["secret", "check"]).assert_exit(0);
    repo.run(&["validate"]).assert_exit(0).stderr_is("ok: dev (1 instance, 1 container, 1 secret)\n");
}

#[test]
fn init_puts_the_users_ssh_public_key_in_recipients_when_there_is_no_identity() {
    let repo = Repo::new();
    let public =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/demo/keys/demo-ONLY-bob-ed25519.pub")).unwrap();
    in_home(&repo, ".ssh/id_ed25519.pub", &public);
    repo.run(&["init"])
        .assert_exit(0)
        .stdout_contains("holds your public key (from ~/.ssh/id_ed25519.pub)")
        .stdout_contains("export NLCONF_AGE_IDENTITY=~/.ssh/id_ed25519");
    let recipients = repo.read("environments/dev/recipients");
    assert!(recipients.lines().any(|l| l == public.trim()), "{recipients}");
    repo.run(&["secret", "check"]).assert_exit(0);
}

#[test]
fn init_refuses_to_overwrite_any_file_and_writes_nothing() {
    let repo = Repo::new().file(".gitignore", "target/\n").file("environments/dev/environment.yaml", STAGE);
    let out = repo.run(&["init"]);
    out.assert_exit(1).stdout_is("");
    out.stderr_contains(".gitignore: error: already exists: nlconf init overwrites nothing, so it wrote no file")
        .stderr_contains("environments/dev/environment.yaml: error: already exists");
    assert_eq!(files_under(repo.root()), [".gitignore", "environments/dev/environment.yaml"]);
    assert_eq!(repo.read(".gitignore"), "target/\n");
}

#[test]
fn init_writes_into_a_named_folder_and_creates_it() {
    let repo = Repo::new();
    repo.run(&["init", "ops/acc-config"]).assert_exit(0).stdout_contains("/ops/acc-config:");
    assert!(repo.path("ops/acc-config/environments/dev/environment.yaml").is_file());
    // A file where the folder would be: refused, nothing written.
    let repo = Repo::new().file("taken", "x\n");
    repo.run(&["init", "taken"]).assert_exit(1).stderr_contains("taken: error: exists and is not a folder");
    assert_eq!(files_under(repo.root()), ["taken"]);
}
