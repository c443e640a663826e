//! Unit tests of `crate::plan`.

use super::*;

fn container(i: usize) -> PlannedContainer {
    PlannedContainer {
        instance: format!("mkt_{i}"),
        container: "app\"1".into(),
        location: "/srv/conf".into(),
        deployed_digest: "absent".into(),
        state_digest: "absent".into(),
        rendered_digest: "sha256:0".into(),
        rendered: "<?xml version='1.0'?>\n<serverconf>\n  <web relay=\"true\"/>\t\n</serverconf>\n".into(),
        steps: Steps {
            instance: format!("mkt_{i}"),
            container: "app\"1".into(),
            write_file: i != 1,
            credentials: if i == 1 {
                vec![PlannedCredential { kind: "ims".into(), why: "never applied".into() }]
            } else {
                Vec::new()
            },
            post: vec![vec!["config".into(), "-reload".into()], vec![]],
            reasons: vec![String::new(), String::new()],
        },
        shown_steps: (0..i).map(|k| format!("step {k}")).collect(),
    }
}

#[test]
fn the_parallel_json_is_what_serde_json_writes() {
    for n in [0, 1, 3, 300] {
        let plan = PlanFile {
            schema: PLAN_SCHEMA.into(),
            nlconf_version: "0.1.0".into(),
            created_at: "2026-11-27T00:00:00Z".into(),
            environment: "prod".into(),
            inputs: [("a".to_string(), "sha256:1".to_string())].into(),
            containers: (0..n).map(container).collect(),
        };
        let ours = String::from_utf8(plan.to_json().unwrap()).unwrap();
        let theirs = String::from_utf8(serde_json::to_vec_pretty(&plan).unwrap()).unwrap() + "\n";
        assert_eq!(ours, theirs, "{n} containers");
    }
}
