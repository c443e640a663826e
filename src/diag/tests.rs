//! Unit tests of `crate::diag`.

use super::*;

#[test]
fn suggests_close_names_only() {
    let names = ["autoStart", "args", "initScript", "runLevel"];
    assert_eq!(did_you_mean("autoStrat", names), Some("autoStart"));
    assert_eq!(did_you_mean("autostart", names), Some("autoStart"));
    assert_eq!(did_you_mean("completelyDifferent", names), None);
    assert_eq!(did_you_mean("prdo", ["dev", "prod", "stage"]), Some("prod"));
}
