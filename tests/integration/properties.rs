//! Properties that hold for every input, not only the examples: layer merging (DESIGN §3) and XML
//! escaping (DESIGN §5), checked on generated values through the library.

use nlconf::env::value::{Field, Kind, Origin, SourceName, Value};
use nlconf::support::yaml::{Pos, Style, Tag};
use proptest::prelude::*;

// Merging -------------------------------------------------------------------------------------------

/// A configuration tree as the merge rules see it: what it holds and which file set each scalar.
#[derive(Debug, Clone, PartialEq)]
enum Tree {
    /// `null`: removes what a lower layer set.
    Null,
    Scalar {
        text: String,
        tag: Tag,
        file: String,
    },
    List(Vec<Tree>),
    Map(Vec<(String, Tree)>),
}

fn key() -> impl Strategy<Value = String> {
    // Few names, so that layers often share keys.
    prop::sample::select(vec!["mta", "wfserver", "autoStart", "maxMemoryMb", "url", "shared", "dataStore"])
        .prop_map(str::to_string)
}

fn scalar(file: &'static str) -> impl Strategy<Value = Tree> {
    (
        prop::sample::select(vec!["true", "false", "2048", "", "$(XTK_INSTALL_DIR)"]),
        prop::sample::select(vec![Tag::None, Tag::Empty, Tag::Age]),
    )
        .prop_map(move |(text, tag)| Tree::Scalar { text: text.to_string(), tag, file: file.to_string() })
}

fn map_of(inner: impl Strategy<Value = Tree>) -> impl Strategy<Value = Tree> {
    prop::collection::vec((key(), inner), 0..5).prop_map(|fields| {
        // YAML maps have unique keys (duplicates are refused before merging).
        let mut unique: Vec<(String, Tree)> = Vec::new();
        for (k, v) in fields {
            if !unique.iter().any(|(seen, _)| *seen == k) {
                unique.push((k, v));
            }
        }
        Tree::Map(unique)
    })
}

/// A layer: a map whose leaves come from `file`.
fn layer(file: &'static str) -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![1 => Just(Tree::Null), 4 => scalar(file)];
    let tree = leaf.prop_recursive(
        4,
        40,
        5,
        |inner| prop_oneof![1 => prop::collection::vec(inner.clone(), 0..3).prop_map(Tree::List), 3 => map_of(inner)],
    );
    map_of(tree)
}

fn value(tree: &Tree, file: &str, line: &mut u32) -> Value {
    *line += 1;
    let origin = Origin { file: SourceName::new(file), pos: Pos { line: *line, col: 1 } };
    let (kind, tag) = match tree {
        Tree::Null => (Kind::Removed, Tag::None),
        Tree::Scalar { text, tag, .. } => (Kind::Scalar(text.into(), Style::Plain), *tag),
        Tree::List(items) => (Kind::Seq(items.iter().map(|t| value(t, file, line)).collect()), Tag::None),
        Tree::Map(fields) => (
            Kind::Map(
                fields
                    .iter()
                    .map(|(k, t)| Field {
                        key: k.into(),
                        key_origin: origin.clone(),
                        value: value(t, file, line).into(),
                    })
                    .collect(),
            ),
            Tag::None,
        ),
    };
    Value::new(kind, tag, origin)
}

/// A layer as `Value`, every node at its own line of `file`.
fn layer_value(tree: &Tree, file: &str) -> Value {
    value(tree, file, &mut 0)
}

/// What a merged value holds, and which file set each scalar; removals show as `Null`.
fn tree(v: &Value) -> Tree {
    match &v.kind {
        Kind::Removed => Tree::Null,
        Kind::Scalar(text, _) => Tree::Scalar { text: text.to_string(), tag: v.tag, file: v.origin.file.to_string() },
        Kind::Seq(items) => Tree::List(items.iter().map(tree).collect()),
        Kind::Map(fields) => Tree::Map(fields.iter().map(|f| (f.key.to_string(), tree(&f.value))).collect()),
    }
}

/// Only what is present: removed keys left out.
fn present(t: &Tree) -> Tree {
    match t {
        Tree::Map(fields) => {
            Tree::Map(fields.iter().filter(|(_, v)| *v != Tree::Null).map(|(k, v)| (k.clone(), present(v))).collect())
        }
        Tree::List(items) => Tree::List(items.iter().map(present).collect()),
        other => other.clone(),
    }
}

/// DESIGN §3 as a few lines: maps merge key by key (lower keys first, in their order, then the new
/// ones); anything else, `null` included, replaces what is below.
fn merged(lower: &Tree, upper: &Tree) -> Tree {
    match (lower, upper) {
        (Tree::Map(low), Tree::Map(up)) => {
            let mut out = low.clone();
            for (k, u) in up {
                match out.iter_mut().find(|(k2, _)| k2 == k) {
                    Some((_, l)) => *l = merged(l, u),
                    None => out.push((k.clone(), u.clone())),
                }
            }
            Tree::Map(out)
        }
        (_, u) => u.clone(),
    }
}

fn keys(t: &Tree) -> Vec<String> {
    match t {
        Tree::Map(fields) => fields.iter().map(|(k, _)| k.clone()).collect(),
        _ => Vec::new(),
    }
}

fn empty() -> Value {
    layer_value(&Tree::Map(Vec::new()), "empty.yaml")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn merging_follows_the_layering_rules(lower in layer("lower.yaml"), upper in layer("upper.yaml")) {
        let result = layer_value(&lower, "lower.yaml").merge(layer_value(&upper, "upper.yaml"));
        prop_assert_eq!(tree(&result), merged(&lower, &upper));
    }

    #[test]
    fn merging_with_an_empty_layer_changes_no_present_value(t in layer("layer.yaml")) {
        let v = layer_value(&t, "layer.yaml");
        prop_assert_eq!(present(&tree(&v.clone().merge(empty()))), present(&t));
        prop_assert_eq!(present(&tree(&empty().merge(v))), present(&t));
    }

    #[test]
    fn a_scalar_or_a_list_above_always_wins(lower in layer("lower.yaml"), upper in layer("upper.yaml")) {
        let result = layer_value(&lower, "lower.yaml").merge(layer_value(&upper, "upper.yaml"));
        let (Tree::Map(up), Tree::Map(out)) = (&upper, tree(&result)) else { unreachable!() };
        for (k, u) in up {
            if matches!(u, Tree::Scalar { .. } | Tree::List(_)) {
                let got = out.iter().find(|(k2, _)| k2 == k).map(|(_, v)| v);
                prop_assert_eq!(got, Some(u), "key {}", k);
            }
        }
    }

    #[test]
    fn a_scalar_that_replaces_another_remembers_it(lower in layer("lower.yaml"), upper in layer("upper.yaml")) {
        let result = layer_value(&lower, "lower.yaml").merge(layer_value(&upper, "upper.yaml"));
        let low = layer_value(&lower, "lower.yaml");
        for f in result.fields() {
            let below = low.field(&f.key).map(|b| &*b.value);
            if let (Kind::Scalar(..), Some(below @ Value { kind: Kind::Scalar(..), .. })) = (&f.value.kind, below)
                && f.value.origin.file.as_ref() == "upper.yaml"
            {
                prop_assert_eq!(&f.value.overrode[0].origin, &below.origin);
                prop_assert_eq!(&f.value.overrode[0].shown, &below.shown());
            }
        }
    }

    #[test]
    fn null_removes_whatever_was_below(lower in layer("lower.yaml"), upper in layer("upper.yaml")) {
        let result = layer_value(&lower, "lower.yaml").merge(layer_value(&upper, "upper.yaml"));
        let Tree::Map(up) = &upper else { unreachable!() };
        for (k, u) in up {
            if *u == Tree::Null {
                prop_assert!(result.get(k).is_none(), "key {} is still there", k);
                prop_assert!(result.field(k).is_some_and(|f| f.value.is_removed()), "key {} left no trace for explain", k);
            }
        }
    }

    #[test]
    fn grouping_the_layers_gives_the_very_same_tree(
        a in layer("defaults.yaml"),
        b in layer("10-instances.yaml"),
        c in layer("20-tuning.yaml"),
    ) {
        // nlconf merges an environment's files pairwise (`value::merge_all`), then puts the result over
        // the `defaults:` block: any grouping must give the very same tree. Not only what is present
        // (a `null` must remove the same things), but removals and what they removed, each value's
        // origin, the history `explain` prints under it ("overrides `x` from file:line", no layer
        // dropping out of it), the order of keys.
        let (va, vb, vc) = (layer_value(&a, "defaults.yaml"), layer_value(&b, "10-instances.yaml"), layer_value(&c, "20-tuning.yaml"));
        let in_order = va.clone().merge(vb.clone()).merge(vc.clone());
        let nested = va.merge(vb.merge(vc));
        prop_assert_eq!(in_order, nested);
    }

    #[test]
    fn merging_all_the_files_at_once_is_merging_them_in_order(
        layers in prop::collection::vec(layer("layer.yaml"), 1..7),
    ) {
        let values: Vec<Value> = layers.iter().enumerate().map(|(n, t)| value(t, ["a.yaml", "b.yaml", "c.yaml", "d.yaml", "e.yaml", "f.yaml"][n], &mut 0)).collect();
        let in_order = values.clone().into_iter().reduce(Value::merge);
        prop_assert_eq!(nlconf::env::value::merge_all(values), in_order);
    }

    #[test]
    fn maps_keep_the_keys_of_both_sides(lower in layer("lower.yaml"), upper in layer("upper.yaml")) {
        let result = tree(&layer_value(&lower, "lower.yaml").merge(layer_value(&upper, "upper.yaml")));
        let mut expected = keys(&lower);
        for k in keys(&upper) {
            if !expected.contains(&k) {
                expected.push(k);
            }
        }
        prop_assert_eq!(keys(&result), expected);
    }
}

#[test]
fn a_thousand_files_of_one_instance_each_merge_as_in_order() {
    // Large maps are merged through an index (`Value::merge`): the same tree as one by one. Every
    // file sets its own instance, and a few set a shared key and another file's instance again.
    let files: Vec<Value> = (0..1000)
        .map(|n| {
            let mut fields = vec![(format!("i{n:04}"), Tree::Map(vec![("mta".into(), scalar_tree(n))]))];
            if n % 97 == 0 {
                fields.push((format!("i{:04}", n / 2), Tree::Map(vec![("url".into(), scalar_tree(n))])));
            }
            let mut top = vec![("instances".to_string(), Tree::Map(fields))];
            if n % 10 == 0 {
                top.push(("shared".to_string(), Tree::Map(vec![("autoStart".into(), scalar_tree(n))])));
            }
            value(&Tree::Map(top), &format!("{n:04}.yaml"), &mut 0)
        })
        .collect();
    let in_order = files.clone().into_iter().reduce(Value::merge);
    assert_eq!(nlconf::env::value::merge_all(files), in_order);
}

fn scalar_tree(n: usize) -> Tree {
    Tree::Scalar { text: n.to_string(), tag: Tag::None, file: String::new() }
}

// Escaping ------------------------------------------------------------------------------------------

/// Any character XML 1.0 allows: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF],
/// with the characters that need care drawn often.
fn xml_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select(vec!['&', '<', '>', '"', '\'', '\t', '\n', '\r', ' ', '$', '(', ')', ';', '#', '\\', 'é', '€', '\u{85}', '\u{2028}', '\u{FEFF}', '🚀']),
        2 => proptest::char::range(' ', '~'),
        1 => proptest::char::range('\u{A0}', '\u{D7FF}'),
        1 => proptest::char::range('\u{E000}', '\u{FFFD}'),
        1 => proptest::char::range('\u{10000}', '\u{10FFFF}'),
    ]
}

fn xml_string(min: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(xml_char(), min..40).prop_map(|cs| cs.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn an_escaped_attribute_value_parses_back_exactly(s in xml_string(0)) {
        let doc = format!("<?xml version='1.0'?>\n<serverconf><mta xMailer=\"{}\"/></serverconf>\n", nlconf::support::xml::escape(&s));
        let root = nlconf::support::xml::parse(&doc).map_err(|e| TestCaseError::fail(format!("{e}\n{doc}")))?;
        prop_assert_eq!(root.child("mta").and_then(|m| m.attr("xMailer")), Some(s.as_str()));
    }

    #[test]
    fn escaped_element_text_parses_back_exactly(s in xml_string(0)) {
        let doc = format!("<serverconf><web><jsp><classpath>{}</classpath></jsp></web></serverconf>", nlconf::support::xml::escape(&s));
        let root = nlconf::support::xml::parse(&doc).map_err(|e| TestCaseError::fail(format!("{e}\n{doc}")))?;
        let text = root.child("web").and_then(|w| w.child("jsp")).and_then(|j| j.child("classpath")).map(|c| c.text.as_str());
        prop_assert_eq!(text, Some(s.as_str()));
    }
}

/// `s` as a YAML double-quoted scalar: escapes for what YAML would fold or refuse, the rest as is.
fn yaml_double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c < ' ' || ('\u{7F}'..='\u{9F}').contains(&c) || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}') => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

proptest! {
    // Each case writes a repository and renders it: fewer cases.
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_text_in_yaml_renders_into_the_attribute_unchanged(hosts in xml_string(1)) {
        prop_assume!(!hosts.contains("@@nlconf:"));
        let dir = tempfile::tempdir().unwrap();
        let env_dir = dir.path().join("environments/prod");
        std::fs::create_dir_all(&env_dir).unwrap();
        std::fs::write(env_dir.join("environment.yaml"), crate::harness::PROD_ENVIRONMENT).unwrap();
        std::fs::write(env_dir.join("recipients"), crate::harness::PROD_RECIPIENTS).unwrap();
        let yaml = format!(
            "instances:\n  mkt_prod:\n    serverconf:\n      shared:\n        dataStore:\n          hosts: {}\n",
            yaml_double_quoted(&hosts)
        );
        std::fs::write(env_dir.join("override.yaml"), &yaml).unwrap();

        let repo = nlconf::repo::Repository::open(dir.path()).unwrap();
        let env = nlconf::env::load(&repo, "prod")
            .map_err(|diags| {
                let messages: Vec<String> = diags.iter().map(ToString::to_string).collect();
                TestCaseError::fail(format!("{yaml}\n{}", messages.join("\n")))
            })?
            .value;
        let templates = nlconf::render::Templates::load(&repo).map_err(|_| TestCaseError::fail("templates"))?;
        let inst = env.instance("mkt_prod").unwrap();
        for container in &inst.containers {
            let file = templates
                .render_checked(&env, inst, container, None)
                .map_err(|found| TestCaseError::fail(format!("{:?}", found.sorted())))?
                .value;
            let xml = nlconf::render::mask(&file.content);
            let root = nlconf::support::xml::parse(&xml).map_err(|e| TestCaseError::fail(format!("{e}\n{xml}")))?;
            let got = root.child("shared").and_then(|s| s.child("dataStore")).and_then(|d| d.attr("hosts"));
            prop_assert_eq!(got, Some(hosts.as_str()), "{}", xml);
        }
    }
}
