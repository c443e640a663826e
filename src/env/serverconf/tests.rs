//! Unit tests of `crate::env::serverconf`: checking an instance's settings once for its containers
//! (`Shared`) gives the tree checking each container's settings whole gives.

use std::path::Path;

use crate::env::Environment;
use crate::repo::Repository;

/// Every container's tree, checked whole and with its instance's shared check, as text; and how
/// many containers had a shared check to use.
fn both_ways(env: &Environment) -> (Vec<(String, String)>, usize) {
    let mut used = 0;
    let mut trees = Vec::new();
    for inst in &env.instances {
        let shared = env.shared_serverconf(inst);
        used += shared.as_ref().map_or(0, |_| inst.containers.len());
        for c in &inst.containers {
            let whole = format!("{:?}", env.checked_serverconf(inst, c).map(|w| w.value).map_err(|d| d.sorted()));
            let with = format!(
                "{:?}",
                env.checked_serverconf_with(inst, c, shared.as_ref()).map(|w| w.value).map_err(|d| d.sorted())
            );
            trees.push((whole, with));
        }
    }
    (trees, used)
}

/// The shipped example's environments, by name, each loaded as the commands that render load it.
fn shipped_environments() -> Vec<(&'static str, Environment)> {
    let repo = Repository::open(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
    ["dev", "stage", "prod"]
        .into_iter()
        .map(|name| {
            let loaded = crate::env::load_for_rendering(&repo, name);
            (name, loaded.unwrap_or_else(|d| panic!("{name}: {:?}", d.sorted())).value)
        })
        .collect()
}

#[test]
fn the_shipped_environments_check_the_same_with_their_instances_checked_once() {
    for (name, env) in shipped_environments() {
        let (trees, used) = both_ways(&env);
        // Instances whose own settings have a warning (dev's lower-case provider) are checked whole.
        if name != "dev" {
            assert_eq!(used, trees.len(), "{name}: every instance's settings are checked once");
        }
        for (whole, with) in trees {
            assert_eq!(whole, with, "{name}");
        }
    }
}

/// Overrides of every kind: a keyed element's attribute, a new keyed element, a list replaced, an
/// element removed by `null`, raw attributes, text content, nested security zones, pipelined
/// turned on per container (its rules look at the whole tree: here, an error without `ims:`), a
/// container without overrides, and an instance whose own settings have an error.
#[test]
fn overrides_of_every_kind_check_the_same_with_their_instances_checked_once() {
    let dir = tempfile::tempdir().unwrap();
    let env_dir = dir.path().join("environments/t");
    std::fs::create_dir_all(&env_dir).unwrap();
    std::fs::write(
        env_dir.join("environment.yaml"),
        r#"
campaign: { build: 9400 }
target: { kind: local, conf_dir: /tmp/nowhere }
defaults:
  serverconf:
    shared:
      dataStore:
        lang: en_US
        rawAttributes: { uploadWhitelist: '.+\.csv' }
        dataSource:
          default:
            dbcnx: { provider: PostgreSQL, server: db.example.net, login: "campaign:a" }
            pool: { maxCnx: 50, aliveTestDelaySec: 300 }
          archive:
            dbcnx: { provider: PostgreSQL, server: db2.example.net, login: "campaign:b" }
      urlPermission:
        action: deny
        url:
          - { dnsSuffix: adobelogin.com, urlRegEx: 'https://ims-na1\.adobelogin\.com/.*' }
    web:
      jsp: { classpath: "/usr/share/java/a.jar:/usr/share/java/b.jar" }
    mta: { autoStart: false }
    pipelined: { autoStart: false }
instances:
  a:
    containers:
      web1: { host: web1.example.net }
      web2: { host: web2.example.net }
      mta1: { host: mta1.example.net }
      pipe: { host: pipe.example.net }
      plain: { host: plain.example.net }
    serverconf:
      securityZone:
        corp:
          label: Corp
          subNetwork:
            hq: { label: HQ, mask: 10.20.0.0/16 }
          securityZone:
            lab: { label: Lab, subNetwork: { l: { label: L, mask: 10.30.0.0/16 } } }
    containerOverrides:
      web1:
        serverconf:
          shared: { dataStore: { dataSource: { default: { pool: { maxCnx: 80 } } } } }
      web2:
        serverconf:
          shared:
            dataStore:
              dataSource: { reports: { dbcnx: { provider: PostgreSQL, server: db3.example.net, login: "campaign:c" } } }
            urlPermission:
              url:
                - { dnsSuffix: example.org, urlRegEx: 'https://example\.org/.*' }
          web: { jsp: { classpath: "/opt/x.jar" } }
      mta1:
        serverconf:
          shared: { dataStore: { dataSource: { archive: null } } }
          securityZone: { corp: { securityZone: { lab: { label: Lab 2 } } } }
          mta: { autoStart: true }
      pipe:
        serverconf:
          pipelined: { autoStart: true }
  b:
    containers:
      one: { host: one.example.net }
      two: { host: two.example.net }
    serverconf:
      mta: { autoStrat: true }
    containerOverrides:
      two:
        serverconf:
          mta: { maxSpareServers: 4 }
"#,
    )
    .unwrap();
    let repo = Repository::open(dir.path()).unwrap();
    let env = crate::env::load_for_rendering(&repo, "t").unwrap_or_else(|d| panic!("{:?}", d.sorted())).value;
    let (trees, used) = both_ways(&env);
    assert_eq!(trees.len(), 7);
    assert_eq!(used, 5, "instance a is checked once; b, with an error, whole per container");
    for (whole, with) in &trees {
        assert_eq!(whole, with);
    }
    // (Not vacuous: the overrides show in the trees, and b's containers fail.)
    assert!(trees[0].0.contains("\"80\"") && trees[4].0.contains("\"50\""), "{}", trees[0].0);
    assert!(trees[1].0.contains("reports") && trees[1].0.contains("example\\\\.org"), "{}", trees[1].0);
    assert!(!trees[2].0.contains("archive") && trees[2].0.contains("Lab 2"), "{}", trees[2].0);
    assert!(trees[3].0.starts_with("Err") && trees[3].0.contains("pipelined is enabled"), "{}", trees[3].0);
    assert!(trees[5].0.starts_with("Err") && trees[6].0.starts_with("Err"));
}

#[test]
fn every_instance_is_found_by_its_name_and_no_other() {
    for (name, env) in shipped_environments() {
        assert!(!env.instances.is_empty());
        for inst in &env.instances {
            let found = env.instance(&inst.name).map(std::ptr::from_ref);
            assert_eq!(found, Some(std::ptr::from_ref(inst)), "{name}: {}", inst.name);
        }
        assert!(env.instance("no_such_instance").is_none());
        assert!(env.instance("").is_none());
    }
}

#[test]
fn instances_reordered_after_loading_are_still_found_by_name() {
    // `instances` is public, its index is not: one that no longer matches is not trusted.
    for (name, mut env) in shipped_environments() {
        env.instances.reverse();
        for inst in &env.instances {
            assert_eq!(env.instance(&inst.name).map(|i| i.name.as_str()), Some(inst.name.as_str()), "{name}");
        }
    }
}
