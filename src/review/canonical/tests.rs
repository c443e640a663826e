//! Unit tests of `crate::review::canonical`.

use super::*;
use crate::support::xml::parse;

#[test]
fn formatting_does_not_matter() {
    let a =
        parse("<?xml version='1.0'?>\n<serverconf>\n  <mta autoStart=\"true\" args='x'/>\n</serverconf>\n").unwrap();
    let b = parse("<serverConf><mta args=\"&#120;\"\n autoStart=\"1\"></mta></serverConf>").unwrap();
    assert_eq!(canonical(&a), canonical(&b));
    let c = parse("<serverconf><mta args=\"y\" autoStart=\"true\"/></serverconf>").unwrap();
    assert_ne!(canonical(&a), canonical(&c));
    let d = parse("<serverconf><wfserver/><mta/><url a='1'/><url a='2'/></serverconf>").unwrap();
    let e = parse("<serverconf><mta/><url a='1'/><wfserver/><url a='2'/></serverconf>").unwrap();
    let f = parse("<serverconf><mta/><url a='2'/><wfserver/><url a='1'/></serverconf>").unwrap();
    assert_eq!(canonical(&d), canonical(&e));
    assert_ne!(canonical(&d), canonical(&f));
    // `1` is not `true` where the attribute is not a Boolean.
    let g = parse("<serverconf><mta args=\"1\"/></serverconf>").unwrap();
    let h = parse("<serverconf><mta args=\"true\"/></serverconf>").unwrap();
    assert_ne!(canonical(&g), canonical(&h));
}

#[test]
fn markers_stand_for_the_values_they_replace_as_if_the_masked_text_were_parsed() {
    let text = "<serverconf><shared><dataStore><dataSource name='default'><dbcnx password=\"@abc\" login='x'/></dataSource></dataStore></shared></serverconf>";
    let tree = parse(text).unwrap();
    let at = text.find("@abc").unwrap();
    let markers: Markers = [(at, "(sensitive, unchanged)".to_string())].into_iter().collect();
    let masked = text.replace("@abc", "(sensitive, unchanged)");
    assert_eq!(canonical_masked(&tree, &markers), canonical(&parse(&masked).unwrap()));
    assert_ne!(canonical_masked(&tree, &markers), canonical(&tree));
    // No markers: the tree as it is.
    assert_eq!(canonical_masked(&tree, &Markers::new()), canonical(&tree));
}
