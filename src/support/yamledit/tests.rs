//! Unit tests of `crate::support::yamledit`.

use super::*;

const ARMOR: &str = "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n";

fn set(text: &str, path: &str) -> String {
    set_age_block(text, &parse_path(path).unwrap(), ARMOR).unwrap()
}

#[test]
fn replaces_a_block_scalar_keeping_everything_else() {
    let text = "# top\na:\n  s: !age |  # rotated yearly\n    -----BEGIN-----\n    old\n    -----END-----\n\n  t: plain  # c\n";
    let out = set(text, "a.s");
    assert_eq!(
        out,
        "# top\na:\n  s: !age |  # rotated yearly\n    -----BEGIN AGE ENCRYPTED FILE-----\n    YWdl\n    -----END AGE ENCRYPTED FILE-----\n\n  t: plain  # c\n"
    );
}

#[test]
fn replaces_a_plain_scalar_keeping_its_comment() {
    let out = set("a:\n  t: plain  # c\n  u: 1\n", "a.t");
    assert_eq!(
        out,
        "a:\n  t: !age |  # c\n    -----BEGIN AGE ENCRYPTED FILE-----\n    YWdl\n    -----END AGE ENCRYPTED FILE-----\n  u: 1\n"
    );
}

#[test]
fn creates_missing_keys_at_the_end_of_the_deepest_map() {
    let text = "instances:\n  mkt:\n    ims:\n      auth: oauth\n\n# trailer\nother: 1\n";
    let out = set(text, "instances.mkt.ims.clientSecret");
    assert_eq!(
        out,
        "instances:\n  mkt:\n    ims:\n      auth: oauth\n      clientSecret: !age |\n        -----BEGIN AGE ENCRYPTED FILE-----\n        YWdl\n        -----END AGE ENCRYPTED FILE-----\n\n# trailer\nother: 1\n"
    );
    let out = set("a: 1\n", "b.\"x.y\".c");
    assert!(out.starts_with("a: 1\nb:\n  \"x.y\":\n    c: !age |\n      -----BEGIN"), "{out}");
}

#[test]
fn fills_an_empty_map_value() {
    let out = set("a:\n  ims:\n  b: 1\n", "a.ims.clientSecret");
    assert_eq!(
        out,
        "a:\n  ims:\n    clientSecret: !age |\n      -----BEGIN AGE ENCRYPTED FILE-----\n      YWdl\n      -----END AGE ENCRYPTED FILE-----\n  b: 1\n"
    );
}

#[test]
fn refuses_flow_maps_and_scalars_on_the_way() {
    assert!(set_age_block("a: {b: 1}\n", &parse_path("a.c").unwrap(), ARMOR).unwrap_err().message.contains("flow map"));
    assert!(set_age_block("a: 1\n", &parse_path("a.c").unwrap(), ARMOR).unwrap_err().message.contains("is a scalar"));
}

#[test]
fn maps_inside_lists_are_not_on_the_path() {
    let text = "a:\n  urls:\n    - { x: 1 }\n  s: old\n";
    assert!(set(text, "a.s").contains("  s: !age |\n"));
    assert!(set(text, "a.t").contains("  t: !age |\n"));
}

#[test]
fn paths_quote_keys_with_dots() {
    assert_eq!(parse_path("instances.\"a.b\".x").unwrap(), vec!["instances", "a.b", "x"]);
    assert!(parse_path("a..b").is_err());
}

#[test]
fn a_value_inside_a_flow_map_is_refused_where_it_stands() {
    let e = set_age_block("x: 1\na: {b: 1}\n", &parse_path("a.b").unwrap(), ARMOR).unwrap_err();
    assert!(e.message.contains("is in a flow map"), "{}", e.message);
    assert_eq!(e.at, Some((2, 8)));
}
