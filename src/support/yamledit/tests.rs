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

/// Setting several values in one reading gives the text of setting them one after the other.
#[test]
fn several_values_at_once_as_one_at_a_time() {
    let texts = [
        "# top\na:\n  s: !age |  # rotated yearly\n    -----BEGIN-----\n    old\n    -----END-----\n\n  t: plain  # c\nb:\n  u: \"q # not a comment\"\n  v: 'x'\n",
        "a:\r\n  s: one\r\n  t: !age |\r\n    old\r\n  z: 1\r\nb:\r\n  u: two\r\n  v: three # c\r\n",
        "a:\n  urls:\n    - { s: 1 }\n  s: old\n  t: |\n    block\n\n\nb:\n  u: 1\n  v: 2",
    ];
    let paths = ["a.s", "a.t", "b.u", "b.v"];
    let contents =
        ["-----BEGIN AGE ENCRYPTED FILE-----\nAAAA\n-----END AGE ENCRYPTED FILE-----\n", ARMOR, "x\ny\n", ARMOR];
    for text in texts {
        let paths: Vec<Vec<String>> = paths
            .iter()
            .filter(|p| text.contains(&format!("\n  {}:", &p[2..])))
            .map(|p| parse_path(p).unwrap())
            .collect();
        let mut one_by_one = text.to_string();
        for (p, c) in paths.iter().zip(contents) {
            one_by_one = set_age_block(&one_by_one, p, c).unwrap();
        }
        let edits: Vec<(&[String], &str)> = paths.iter().map(Vec::as_slice).zip(contents).collect();
        assert_eq!(replace_age_blocks(text, &edits).unwrap().as_deref(), Some(one_by_one.as_str()), "{text:?}");
        // In any order.
        let reversed: Vec<_> = edits.iter().rev().copied().collect();
        let mut backwards = text.to_string();
        for (p, c) in &reversed {
            backwards = set_age_block(&backwards, p, c).unwrap();
        }
        assert_eq!(replace_age_blocks(text, &reversed).unwrap().as_deref(), Some(backwards.as_str()));
    }
}

/// A path that is not a value of a block map is left to `set_age_block`, which says why.
#[test]
fn several_values_at_once_leaves_what_it_cannot_do_to_one_at_a_time() {
    let path = |p: &str| parse_path(p).unwrap();
    let (missing, flow, s) = (path("a.missing"), path("b.c"), path("a.s"));
    let text = "a:\n  s: 1\nb: {c: 2}\n";
    assert_eq!(replace_age_blocks(text, &[(&s, ARMOR), (&missing, ARMOR)]).unwrap(), None);
    assert_eq!(replace_age_blocks(text, &[(&s, ARMOR), (&flow, ARMOR)]).unwrap(), None);
    assert!(replace_age_blocks("a: [\n", &[(&s, ARMOR)]).is_err());
}

/// A file of comments only (no root map yet) gets the keys at its end.
#[test]
fn a_file_of_comments_only_gets_the_keys_at_its_end() {
    let out = set("# secrets of this environment\n", "a.b");
    assert!(out.starts_with("# secrets of this environment\na:\n  b: !age |\n    -----BEGIN"), "{out}");
    assert!(set("", "a").starts_with("a: !age |\n"));
}
