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
        yaml::Kind::Scalar(s, _) => Json::String(s.clone()),
        yaml::Kind::Seq(items) => Json::Array(items.iter().map(node_to_json).collect()),
        yaml::Kind::Map(entries) => {
            Json::Object(entries.iter().map(|e| (e.key.clone(), node_to_json(&e.value))).collect::<Map<_, _>>())
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
