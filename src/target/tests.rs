//! Unit tests of `crate::target`.

use super::*;

#[test]
fn quotes_for_the_shell() {
    assert_eq!(shell_quote("/a b/it's"), "'/a b/it'\\''s'");
}
