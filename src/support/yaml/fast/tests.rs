//! Unit tests of `crate::support::yaml::fast`: the subset read as the general parser reads it.

use std::path::Path;

use super::super::{Nodes, parse_part};
use super::*;
use crate::support::testing::flat;

#[allow(dead_code, unreachable_pub)]
#[path = "../../../../examples/fleet.rs"]
mod fleet;

/// YAML of the subset and around it: the shipped example, the test fixtures, a generated fleet in
/// both shapes, and the corners.
fn corpus() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![
        root.join("environments/defaults.yaml"),
        root.join("tests/integration/fixtures/prod-environment.yaml"),
        root.join("tests/integration/fixtures/apply/environment.yaml"),
    ];
    for env in ["dev", "stage", "prod"] {
        for e in std::fs::read_dir(root.join("environments").join(env)).unwrap() {
            files.push(e.unwrap().path());
        }
    }
    let mut docs: Vec<String> = files
        .iter()
        .filter(|f| f.extension().is_some_and(|x| x == "yaml"))
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    for shape in [fleet::Shape::PerInstance, fleet::Shape::OneFile] {
        let mut args = fleet::Args::new(dir.path().join(format!("{shape:?}")));
        args.instances = 3;
        args.secrets = 4;
        args.deploy = false;
        args.shape = shape;
        fleet::write_repository(&args).unwrap();
        for e in std::fs::read_dir(args.out.join("environments/fleet")).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "yaml") {
                docs.push(std::fs::read_to_string(p).unwrap());
            }
        }
    }
    docs.extend(
        [
            "a:\nb: 1\n",
            "a:   # c\nb: 1\n",
            "a:\n  - x\n  -\n  - y\n",
            "a:\n- x\n- y\nb:\n",
            "s:\n- a: 1\n  b: 2\n- c\n",
            "k: !age |\n  l1\n\n  l2\n\nz: 1\n",
            "k: !age\nz: |-\n   t\n",
            "k: |\n\n\n  t\n  u\n\n",
            "k: { a: 1, b: [x, y], c: \"q\", d: {}, e: [], f: 'it''s' }\n",
            "k: !empty \"\"\nl: !!str\nm: ~\nn: null\no: \"\\u00e9\\t\\\\\\\"\\/\"\n",
            "\"q\": 1\n'r': 2\n\"*\": { physical: default }\n",
            "a:\n  b:\n    c: 1\n  d: 2\n",
            "url: http://localhost:8080/x\nre: '^a.*$'\nt: a:b\nu: -1\nv: \"x # y\" # z\nw: é ü\n",
            "  indented:\n    a: 1\n  second: 2\n",
            "a: [http://x:1, \"y\", z]\nb: { u: http://h:8080, v: -x }\n",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    docs
}

/// Bytes and snippets that take a document out of the subset or out of YAML.
const NOISE: &[&str] = &[
    ":", ": ", "-", "- ", "#", " #", "\"", "'", "|", "|-", "|+", ">", "{", "}", "[", "]", ",", "!age ", "!x ", "&a ",
    "*a", "? ", "\n", "  ", " ", "\t", "~", "null", "---\n", "\\", "\\n", "é", "\u{85}", "\r\n", "x", "1", "a: b",
    "\n  ", "\n- ", "\n    ",
];

/// The fast reading is the general one's tree, or no answer.
#[track_caller]
fn agrees(doc: &str) -> bool {
    let Some(fast) = parse(doc, Part::WHOLE, &Nodes) else { return false };
    match parse_part(doc, Path::new("t.yaml"), Part::WHOLE) {
        Ok(general) => {
            assert!(general.diags.is_empty() && !general.anchors, "the general reading has more to say: {doc:?}");
            if fast != general.root {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                flat(&fast, "", &mut a);
                flat(&general.root, "", &mut b);
                let first = a.iter().zip(&b).find(|(x, y)| x != y).map(|(x, y)| format!("fast    {x}\ngeneral {y}"));
                panic!("different trees for {doc:?}:\n{}", first.unwrap_or_else(|| "(one is longer)".into()));
            }
        }
        Err(e) => panic!("the fast reading accepts what the general one refuses ({e}): {doc:?}"),
    }
    true
}

#[test]
fn the_subset_reads_as_the_general_parser_does() {
    for doc in corpus() {
        assert!(agrees(&doc), "not in the subset: {doc:?}");
    }
}

#[test]
fn every_small_change_is_read_the_same_or_left_to_the_general_parser() {
    let mut next = crate::support::testing::edits(0x2545_F491_4F6C_DD1D);
    let (mut tried, mut fast) = (0, 0);
    for doc in corpus() {
        for _ in 0..300 {
            let mut d = doc.clone();
            for _ in 0..1 + next(3) {
                crate::support::testing::edit(&mut d, NOISE, 6, &mut next);
            }
            tried += 1;
            fast += usize::from(agrees(&d));
        }
    }
    // Most small changes leave a document the subset still reads.
    assert!(fast * 4 > tried, "only {fast} of {tried} edited documents were read fast");
}
