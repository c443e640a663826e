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

#[test]
fn a_very_long_name_gets_no_suggestion() {
    // A 1 MB key must not cost a 1M x N matrix: it is not a typo anyway.
    let long = "a".repeat(1024 * 1024);
    assert_eq!(did_you_mean(&long, ["autoStart", "args"]), None);
    // Nor a long name a letter away from a long candidate: both are the user's (container names).
    let typed = format!("{}x", "c".repeat(999));
    let known = format!("{}y", "c".repeat(999));
    assert_eq!(did_you_mean(&typed, [known.as_str()]), None);
    // Up to the bound, suggestions still work.
    let typed = format!("{}x", "b".repeat(MAX_SUGGESTION_NAME - 1));
    let known = format!("{}y", "b".repeat(MAX_SUGGESTION_NAME - 1));
    assert_eq!(did_you_mean(&typed, [known.as_str()]), Some(known.as_str()));
}
