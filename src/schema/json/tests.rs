//! Unit tests of `crate::schema::json` (the integration tests validate the shipped files with a
//! JSON Schema validator).

use super::*;

fn definition<'a>(s: &'a Json, name: &str) -> &'a Json {
    &s["definitions"][name]
}

#[test]
fn draft_07_with_every_environment_key_and_no_other() {
    let s = environment_schema();
    assert_eq!(s["$schema"], DRAFT_07);
    assert_eq!(s["additionalProperties"], json!(false));
    let top: Vec<&str> = s["properties"].as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = keys::names(keys::TOP);
    expected.sort();
    assert_eq!(top, expected);
    let ims = &s["properties"]["instances"]["additionalProperties"]["properties"]["ims"];
    assert_eq!(ims["properties"]["clientSecret"]["pattern"], AGE_ARMOR);
    assert_eq!(ims["additionalProperties"], json!(false));
}

#[test]
fn every_element_has_a_definition_with_its_attributes() {
    let s = environment_schema();
    let schema = Schema::get();
    for path in schema.element_paths() {
        let def = schema.element(path).unwrap();
        let d = definition(&s, &def_name(def));
        assert_eq!(d["additionalProperties"], json!(false), "{path}");
        for attr in &def.attributes {
            let owned = nlserver_owned(path, &attr.name).is_some() || (path == "pipelined" && attr.is_legacy());
            assert_eq!(d["properties"].get(&attr.name).is_none(), owned, "{path}/@{}", attr.name);
        }
    }
}

#[test]
fn repeatable_elements_are_maps_or_lists_as_the_loader_takes_them() {
    let s = environment_schema();
    let data_store = definition(&s, "serverconf.shared.dataStore");
    let sources = &data_store["properties"]["dataSource"];
    assert_eq!(sources["additionalProperties"]["$ref"], "#/definitions/serverconf.shared.dataStore.dataSource");
    let relay = definition(&s, "serverconf.web.relay");
    assert_eq!(relay["properties"]["url"]["items"]["allOf"][0]["$ref"], "#/definitions/serverconf.web.relay.url");
    let zone = definition(&s, "serverconf.securityZone");
    assert_eq!(
        zone["properties"]["securityZone"]["additionalProperties"]["$ref"],
        "#/definitions/serverconf.securityZone"
    );
    let jsp = definition(&s, "serverconf.web.jsp");
    assert!(jsp["properties"]["classpath"]["type"].as_array().unwrap().contains(&json!("string")));
}

#[test]
fn types_enumerations_and_defaults_come_from_the_reference() {
    let s = environment_schema();
    let mta = &definition(&s, "serverconf.mta")["properties"];
    assert_eq!(mta["autoStart"]["default"], json!(false));
    assert_eq!(mta["logLevel"]["anyOf"][0]["enum"], json!([0, 1, 2]));
    assert_eq!(mta["logLevel"]["anyOf"][1]["pattern"], "^(?:0|1|2)?$");
    let dbcnx = &definition(&s, "serverconf.shared.dataStore.dataSource.dbcnx")["properties"];
    assert_eq!(dbcnx["provider"]["default"], "Oracle");
    assert!(dbcnx["provider"]["anyOf"][0]["enum"].as_array().unwrap().contains(&json!("PostgreSQL")));
    assert_eq!(dbcnx["password"]["pattern"], format!("^$|{AGE_ARMOR}"));
    assert!(dbcnx["password"]["description"].as_str().unwrap().contains("must be an `!age` secret"));
    let pipelined = &definition(&s, "serverconf.pipelined")["properties"];
    assert!(pipelined["monitorServerPort"]["description"].as_str().unwrap().contains("Long"));
    assert_eq!(pipelined["monitorServerPort"]["maximum"], json!(i32::MAX));
}

#[test]
fn one_of_matches_the_values_in_any_case_if_asked_or_nothing() {
    assert_eq!(one_of(&["fr_FR".into(), "a.b".into()], true), "^(?:[Ff][Rr]_[Ff][Rr]|[Aa]\\.[Bb])?$");
    assert_eq!(one_of(&["0".into(), "1".into()], false), "^(?:0|1)?$");
}

#[test]
fn the_text_is_stable_and_sorted() {
    let text = environment_schema_text();
    assert_eq!(text, environment_schema_text());
    assert!(text.ends_with("}\n"));
    let top: Vec<&str> =
        text.lines().filter(|l| l.starts_with("  \"")).map(|l| l.trim().split('"').nth(1).unwrap()).collect();
    let mut sorted_top = top.clone();
    sorted_top.sort();
    assert_eq!(top, sorted_top);
}
