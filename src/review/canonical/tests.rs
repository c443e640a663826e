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
