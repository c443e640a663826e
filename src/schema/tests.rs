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

/// Looking up by binary search finds what a search of the tables in order finds.
#[test]
fn lookups_by_name_find_what_a_search_in_order_finds() {
    let s = Schema::get();
    for def in &s.elements {
        for a in &def.attributes {
            assert!(std::ptr::eq(
                def.attr(&a.name).unwrap(),
                def.attributes.iter().find(|x| x.name == a.name).unwrap()
            ));
        }
        let children: Vec<&ElementDef> = def.children.iter().map(|&i| &s.elements[i]).collect();
        for c in &children {
            let found = s.child(def, &c.name).unwrap();
            if def.path != "securityZone" || c.name != "securityZone" {
                assert!(std::ptr::eq(found, *children.iter().find(|x| x.name == c.name).unwrap()));
            }
        }
        for unknown in ["", "zzz", "AutoStart", "a"] {
            assert!(def.attr(unknown).is_none() && s.child(def, unknown).is_none());
        }
    }
}
