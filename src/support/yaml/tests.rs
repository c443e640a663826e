//! Unit tests of `crate::support::yaml`.

use super::*;

fn p(text: &str) -> Result<(Node, Vec<Diagnostic>), Diagnostic> {
    parse(text, Path::new("t.yaml"))
}

#[test]
fn positions_and_tags() {
    let (root, diags) = p("a:\n  b: 1\n  c: !empty \"\"\n  d: ~\n").unwrap();
    assert!(diags.is_empty());
    let a = root.get("a").unwrap();
    let b = a.entry("b").unwrap();
    assert_eq!(b.key_pos, Pos { line: 2, col: 3 });
    assert_eq!(b.value.pos, Pos { line: 2, col: 6 });
    assert_eq!(a.get("c").unwrap().tag, Tag::Empty);
    assert!(a.get("d").unwrap().is_null());
}

#[test]
fn duplicate_keys_are_reported_at_the_second() {
    let (_, diags) = p("a: 1\nb: 2\na: 3\n").unwrap();
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].to_string(), "t.yaml:3:1: error: duplicate key `a`\n  help: first defined at line 1, column 1");
}

#[test]
fn alias_bomb_is_refused() {
    let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    let mut prev = 'a';
    for c in 'b'..='j' {
        text.push_str(&format!(
            "{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
        prev = c;
    }
    let err = p(&text).unwrap_err();
    assert!(err.message.contains("alias bomb"), "{err}");
}

#[test]
fn deep_nesting_is_refused() {
    let text = "[".repeat(200) + &"]".repeat(200);
    let err = p(&text).unwrap_err();
    assert!(err.message.contains("nesting deeper"), "{err}");
}
