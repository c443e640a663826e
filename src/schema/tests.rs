//! Unit tests of `crate::schema`.

use super::*;

#[test]
fn tables_load_with_keys_and_amendments() {
    let s = Schema::get();
    let ds = s.element("shared/dataStore/dataSource").unwrap();
    assert!(ds.repeatable);
    assert_eq!(ds.key.as_deref(), Some("name"));
    let url = s.element("web/relay/url").unwrap();
    assert!(url.repeatable && url.key.is_none());
    let lang = s.element("shared/dataStore").unwrap().attr("lang").unwrap();
    assert!(lang.values.iter().any(|v| v == "eng"));
    let pipelined = s.element("pipelined").unwrap();
    assert_eq!(pipelined.attr("authType").unwrap().values, vec!["imsJwtToken"]);
    assert!(s.child(s.root(), "mta").is_some());
    let zone = s.element("securityZone").unwrap();
    assert!(s.child(zone, "securityZone").is_some());
    assert!(s.element("web/jsp/classpath").unwrap().text_content);
}
