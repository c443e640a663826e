//! Unit tests of `crate::support::xml`.

use super::*;

#[test]
fn escaped_values_parse_back_exactly() {
    let value = "a&b<c>d\"e'f\ng\th\r$(XTK_INSTALL_DIR)";
    let doc = format!("<?xml version='1.0'?>\n<serverconf a=\"{}\"/>", escape(value));
    let root = parse(&doc).unwrap();
    assert_eq!(root.attr("a"), Some(value));
    assert_eq!(&doc[root.value_ranges().next().unwrap()], escape(value));
    let two = parse("<a x=\"1\" yy=\"&lt;2\"/>").unwrap();
    assert_eq!(two.attrs().collect::<Vec<_>>(), [("x", "1"), ("yy", "<2")]);
    assert_eq!(two.attr("yy"), Some("<2"));
    assert_eq!(two.attr("y"), None);
}

#[test]
fn malformed_xml_reports_line_and_column() {
    let err = parse("<serverconf>\n  <mta autoStart=\"true\">\n</serverconf>\n").unwrap_err();
    assert_eq!(err.line, 3, "{err}");
}
