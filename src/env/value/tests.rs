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
