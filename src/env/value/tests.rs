//! Unit tests of `crate::env::value`.

use super::*;
use std::path::Path;

pub(crate) fn value(text: &str, file: &str) -> Value {
    let (node, _) = yaml::parse(text, Path::new(file)).unwrap();
    Value::from_node(&node, &Arc::from(file))
}

#[test]
fn maps_merge_scalars_and_lists_replace_null_removes() {
    let lower = value("mta: {autoStart: true, args: x}\nurls: [a, b]\nkeep: 1\n", "low.yaml");
    let upper = value("mta: {autoStart: false}\nurls: [c]\nkeep: null\n", "up.yaml");
    let merged = lower.merge(upper);
    let mta = merged.get("mta").unwrap();
    assert_eq!(mta.get("autoStart").unwrap().as_str(), Some("false"));
    assert_eq!(mta.get("args").unwrap().as_str(), Some("x"));
    let auto = mta.get("autoStart").unwrap();
    assert_eq!(auto.origin.to_string(), "up.yaml:1:18");
    assert_eq!(auto.overrode[0].origin.to_string(), "low.yaml:1:18");
    assert_eq!(auto.overrode[0].shown, "true");
    match &merged.get("urls").unwrap().kind {
        Kind::Seq(items) => assert_eq!(items.len(), 1),
        other => panic!("{other:?}"),
    }
    assert!(merged.get("keep").is_none());
    assert!(merged.field("keep").unwrap().value.is_removed());
}

#[test]
fn overlay_is_merge_without_history() {
    let cases = [
        ("a: {b: 1, c: {d: 2}}\nl: [1, 2]\n", "a: {c: {e: 3}, f: 4}\nl: [3]\ng: x\n"),
        ("a: {b: 1}\n", "a: null\n"),
        ("a: null\n", "a: {b: 2}\n"),
        ("a: {b: 1}\n", "a: x\n"),
        ("a: x\n", "a: {b: 1}\n"),
        ("a: {b: !empty \"\"}\n", "a: {b: !empty \"\", c: y}\n"),
        ("s: {k: 1}\n", "s: !empty \"\"\n"),
    ];
    for (low, up) in cases {
        // Also over values that already carry a merge (`replaces` flags, history).
        let uppers = [value(up, "up.yaml"), value(low, "u0.yaml").merge(value(up, "up.yaml"))];
        let lowers = [
            value(low, "low.yaml"),
            value(up, "l0.yaml").merge(value("a: null\ns: null\n", "l1.yaml")).merge(value(low, "low.yaml")),
        ];
        for upper in &uppers {
            for lower in &lowers {
                // What `merge` gives, history left out on both sides.
                let expected = lower.clone().merge(upper.clone()).lean_clone();
                assert_eq!(lower.overlay(upper).lean_clone(), expected, "{low:?} under {up:?}");
            }
        }
    }
}

/// Settings built straight from a file's YAML are the settings built from its nodes, whichever
/// parser reads it (the fast one, in parts, or saphyr for what the fast one leaves).
#[test]
fn settings_built_from_the_yaml_are_those_built_from_its_nodes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts = vec![std::fs::read_to_string(root.join("environments/defaults.yaml")).unwrap()];
    for env in ["dev", "stage", "prod"] {
        for e in std::fs::read_dir(root.join("environments").join(env)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "yaml") {
                texts.push(std::fs::read_to_string(p).unwrap());
            }
        }
    }
    // Left to saphyr: an anchor and an alias, a folded scalar, a multi-line flow map.
    texts.push("a: &x 1\nb: *x\nc: >\n  folded\n  text\nd: {\n  e: 1 }\ns: !age |\n  x\nn: ~\n".into());
    // A large file, parsed in parts.
    let mut big = String::from("campaign: { build: 9400 }\ninstances:\n");
    for i in 0..4000 {
        big.push_str(&format!(
            "  i{i}:\n    containers: {{ a: {{}} }}\n    serverconf:\n      mta: {{ autoStart: true }}\n"
        ));
    }
    texts.push(big);
    let name = SourceName::new("t.yaml");
    for text in &texts {
        let (built, _) = yaml::parse_with(text, Path::new("t.yaml"), &Settings(name)).unwrap();
        let (node, _) = yaml::parse(text, Path::new("t.yaml")).unwrap();
        assert!(built == Value::from_owned_node(node, name), "{text}");
    }
}

#[test]
fn a_value_stays_small() {
    // A fleet's environment is a million values and fields: each word here is megabytes touched.
    assert_eq!(std::mem::size_of::<Origin>(), 16);
    assert!(std::mem::size_of::<Value>() <= 64, "Value is {} bytes", std::mem::size_of::<Value>());
    assert!(std::mem::size_of::<Field>() <= 48, "Field is {} bytes", std::mem::size_of::<Field>());
}
