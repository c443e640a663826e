//! Unit tests of `crate::import`.

use super::*;

#[test]
fn scalars_read_back_as_written() {
    for s in
        ["plain", "a b", "$(XTK_INSTALL_DIR)/var", "*", "a: b", "x #y", "", "null", "line\nbreak", "'q'", "\"d\"", "-1"]
    {
        let yaml = format!("k: {}\n", scalar(s));
        let (root, _) = crate::support::yaml::parse(&yaml, std::path::Path::new("t")).unwrap();
        let got = root.get("k").and_then(|n| n.as_str()).map(str::to_string).unwrap_or_default();
        assert_eq!(got, s, "{yaml}");
    }
}

#[test]
fn common_values_go_to_the_instance() {
    let a = Y::Map(vec![
        ("mta".into(), Y::Map(vec![("autoStart".into(), Y::Scalar("true".into()))])),
        ("x".into(), Y::Scalar("1".into())),
    ]);
    let b = Y::Map(vec![
        ("mta".into(), Y::Map(vec![("autoStart".into(), Y::Scalar("false".into()))])),
        ("x".into(), Y::Scalar("1".into())),
    ]);
    let (common, own) = split(&[Some(&a), Some(&b)]);
    assert_eq!(common, Some(Y::Map(vec![("x".into(), Y::Scalar("1".into()))])));
    assert_eq!(
        own[0],
        Some(Y::Map(vec![("mta".into(), Y::Map(vec![("autoStart".into(), Y::Scalar("true".into()))]))]))
    );
}
