//! The parsers of one format each, called on the text: YAML, recipients, armor, XML, JSON.

use std::path::Path;

use nlconf::credentials::StateRecord;
use nlconf::secrets::{Ciphertext, RecipientSet};
use nlconf::support::{xml, yaml};

use crate::case::{Verdict, cases, fuzz};
use crate::input::{self, inputs};
use crate::{line_in, line_of, located, seeds};

#[test]
fn yaml_parses_or_points_at_a_line() {
    fuzz("YAML (support::yaml::parse)", cases(), inputs(&input::YAML, seeds::environment_yaml()), |input| {
        let text = input.text();
        let file = Path::new("environments/prod/environment.yaml");
        match yaml::parse(&text, file) {
            // Duplicate keys are reported beside the tree.
            Ok((_, found)) if found.is_empty() => Ok(Verdict::Accepted),
            Ok((_, found)) => located(&found, line_of(file, &text)),
            Err(d) => located([&d], line_of(file, &text)),
        }
    });
}

#[test]
fn recipients_parse_or_point_at_a_line() {
    fuzz("recipients (RecipientSet::parse)", cases(), inputs(&input::RECIPIENTS, seeds::recipients()), |input| {
        let text = input.text();
        match RecipientSet::parse(&text) {
            Ok(_) => Ok(Verdict::Accepted),
            Err(errors) if errors.is_empty() => Err("refused without an error".into()),
            Err(errors) => {
                for e in &errors {
                    line_in(&e.to_string(), e.line, &text)?;
                    if e.column == 0 {
                        return Err(format!("{e}: column 0"));
                    }
                }
                Ok(Verdict::Rejected)
            }
        }
    });
}

#[test]
fn armor_parses_or_points_at_a_line() {
    fuzz("armor (Ciphertext::parse)", cases(), inputs(&input::ARMOR, seeds::armor()), |input| {
        let text = input.text();
        match Ciphertext::parse(&text) {
            // What nlconf writes back reads the same.
            Ok(ct) => match Ciphertext::parse(&ct.to_text()) {
                Ok(again) if again == ct => Ok(Verdict::Accepted),
                other => Err(format!("the canonical text of an accepted secret reads differently: {other:?}")),
            },
            Err(e) => line_in(&e.to_string(), e.line, &text).map(|()| Verdict::Rejected),
        }
    });
}

#[test]
fn xml_parses_or_points_at_a_line() {
    fuzz("deployed XML (support::xml::parse)", cases(), inputs(&input::XML, seeds::deployed_xml()), |input| {
        let text = input.text();
        match xml::parse(&text) {
            Ok(_) => Ok(Verdict::Accepted),
            Err(e) if e.col == 0 => Err(format!("{e}: column 0")),
            Err(e) => line_in(&e.to_string(), e.line as usize, &text).map(|()| Verdict::Rejected),
        }
    });
}

#[test]
fn state_json_parses_or_points_at_a_line() {
    fuzz("state record (serde_json -> StateRecord)", cases(), inputs(&input::JSON, seeds::state_records()), |input| {
        match serde_json::from_slice::<StateRecord>(&input.bytes) {
            Ok(_) => Ok(Verdict::Accepted),
            Err(e) => line_in(&e.to_string(), e.line(), &input.text()).map(|()| Verdict::Rejected),
        }
    });
}
