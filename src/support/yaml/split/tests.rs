//! Unit tests of `crate::support::yaml::split`.

use super::super::{Node, Nodes, parse_part};
use super::*;
use crate::support::testing::flat;

/// The file parsed whole.
fn whole(text: &str) -> Result<Node, String> {
    parse_part(text, Path::new("t.yaml"), Part::WHOLE).map(|p| p.root).map_err(|d| d.to_string())
}

/// Parsed in parts of about `bytes`, it is the same tree; and whether it was cut.
fn same(text: &str, bytes: usize) -> bool {
    let parts = parse_with(text, Path::new("t.yaml"), bytes, &Nodes);
    if let Some(p) = &parts {
        let w = whole(text).expect("the parts parsed, the whole must");
        let (mut a, mut b) = (Vec::new(), Vec::new());
        flat(p, "", &mut a);
        flat(&w, "", &mut b);
        let diff: Vec<String> =
            a.iter().zip(&b).filter(|(x, y)| x != y).take(5).map(|(x, y)| format!("parts {x}\nwhole {y}")).collect();
        assert!(diff.is_empty() && a.len() == b.len(), "parts differ from the whole:\n{}", diff.join("\n"));
        assert_eq!(p, &w);
    }
    parts.is_some()
}

#[test]
fn a_fleet_in_one_file_is_cut_at_its_instances_and_parses_the_same() {
    let mut text = String::from("# fleet\ncampaign:\n  build: 9400\ntarget: { kind: local }\n\ninstances:\n");
    for i in 0..40 {
        text.push_str(&format!(
            "\n  # instance {i}\n  i{i:03}:\n    containers:\n      a{i}: {{ host: h{i} }}\n    serverconf:\n      \
             mta: {{ autoStart: true }}\n      web:\n        relay:\n          url:\n            - urlPath: \"/x/*\"\n    \
             ims:\n      clientSecret: !age |\n        -----BEGIN AGE ENCRYPTED FILE-----\n        abc\n\n        def\n",
        ));
    }
    text.push_str("restart:\n  web: [web]\n");
    for bytes in [1, 100, 1000, 5000] {
        assert!(same(&text, bytes), "not cut at {bytes} bytes");
    }
}

#[test]
fn every_way_a_part_can_end_parses_the_same() {
    let endings = [
        "x: 1",
        "x: plain text\n      over two lines",
        "x: \"quoted\"",
        "x: |\n      text\n\n",
        "x: |+\n      kept\n\n\n",
        "x: >-\n      folded\n      text",
        "x:\n      - 1\n      - [2, 3]\n      - { a: b }",
        "x:\n      y:\n        z: ~",
        "x: !age |\n      secret",
        "x: !empty \"\"",
        "x: {}\n    # a comment at the end\n\n  # and one at the next key's indentation",
    ];
    for ending in endings {
        for crlf in [false, true] {
            for last_newline in [true, false] {
                let mut text = String::from("top: 1\ninstances:\n");
                for i in 0..4 {
                    text.push_str(&format!("  i{i}:\n    a: {i}\n    {ending}\n"));
                }
                text.push_str(&format!("after:\n  {ending}\nlast: {{}}\n  # end\n"));
                if !last_newline {
                    text = text.trim_end().to_string();
                }
                if crlf {
                    text = text.replace('\n', "\r\n");
                }
                assert!(same(&text, 1), "not cut: {text:?}");
            }
        }
    }
}

#[test]
fn the_shipped_example_parses_the_same_in_parts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("environments");
    let mut files = vec![root.join("defaults.yaml")];
    for env in ["dev", "stage", "prod"] {
        for e in std::fs::read_dir(root.join(env)).unwrap() {
            files.push(e.unwrap().path());
        }
    }
    let mut cut = 0;
    for f in files.iter().filter(|f| f.extension().is_some_and(|x| x == "yaml")) {
        let text = std::fs::read_to_string(f).unwrap();
        cut += usize::from(same(&text, 1));
    }
    assert!(cut > 0, "no file of the example was cut");
}

#[test]
fn what_could_cross_a_cut_makes_the_file_parse_whole() {
    let cases = [
        // A quoted scalar over a line that looks like a key.
        "a: 1\nb: \"x\nc: y\"\nd: 2\n",
        // A flow map over lines at column 0.
        "a: {\nb: 1 }\nc: 2\n",
        // A block scalar whose text looks like keys at the inner indentation.
        "a: |2\n  b: 1\n  c: 2\nd: 1\n",
        // An anchor used in another part.
        "a: &x 1\nb: *x\nc: 2\n",
        // A key in two parts.
        "a: 1\nb: 2\na: 3\n",
        "instances:\n  x: 1\n  y: 2\n  x: 3\n",
        "instances:\n  x: 1\n  y: 2\n  z: 3\n  y: 4\nw: 5\n",
        "a: 1\ninstances:\n  x: 1\n  y: 2\nb: 2\ninstances:\n  z: 1\n",
        // Documents, directives, tabs.
        "---\na: 1\nb: 2\n",
        "a: 1\n---\nb: 2\n",
        "%YAML 1.2\n---\na: 1\n",
        "a:\n\tb: 1\nc: 2\n",
        // A list at the top, an inner list.
        "- a\n- b\n",
        "a:\n- 1\n- 2\nb: 3\n",
        "a:\n  - 1\n  - 2\nb: 3\n",
        // The instances block is a scalar.
        "a: |\n  b: 1\n  c: 2\nd: 1\n",
        "a: >\n  b: 1\n  c: 2\n",
        // Odd indentation inside.
        "a:\n    b: 1\n  c: 2\n",
        // Keys that are not simple.
        "a: 1\n\"b\": 2\nc: 3\n",
        "a: 1\n? b\n: 2\n",
        // Not valid YAML at all.
        "a: 1\nb: [\nc: 2\n",
    ];
    for text in cases {
        // Either not cut, or cut to exactly the same tree.
        same(text, 1);
        let parts = parse_with(text, Path::new("t.yaml"), 1, &Nodes);
        if whole(text).is_err() {
            assert!(parts.is_none(), "a file that does not parse was cut: {text:?}");
        }
    }
}

#[test]
fn small_files_are_not_cut() {
    assert!(parse_in_parts("a: 1\nb: 2\n", Path::new("t.yaml"), &Nodes).is_none());
}
