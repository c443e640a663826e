//! The seed corpus: the repository's own files (environments, fixtures, demo, templates), read when
//! the harness starts, so that a fixture added anywhere below is fuzzed too; and a state record
//! (here) and a plan (`stages::seed_plan`) made for the fixture, as there are none in the repository.

use std::path::{Path, PathBuf};

use nlconf::credentials::{AppliedCredential, STATE_SCHEMA, StateRecord};
use nlconf::support::yaml::{self, Kind, Node, Tag};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir` (relative to the repository) whose name `keep` accepts, in path order.
fn files(dir: &str, keep: impl Fn(&str) -> bool + Copy) -> Vec<PathBuf> {
    fn walk(dir: &Path, keep: impl Fn(&str) -> bool + Copy, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, keep, out);
            } else if keep(&entry.file_name().to_string_lossy()) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join(dir), keep, &mut out);
    out.sort();
    out
}

fn read(paths: Vec<PathBuf>) -> Vec<Vec<u8>> {
    paths.iter().map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("read seed {}: {e}", p.display()))).collect()
}

fn is_yaml(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml")
}

/// Which repository an environment file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// This repository's `environments/` (dev, stage and prod, over `defaults.yaml`).
    Repository,
    /// The integration tests' production environment (`PROD_ENVIRONMENT` and its recipients) as
    /// `environments/prod/`.
    Fixture,
}

/// An environment YAML file, its place, and the environment that reads it.
pub struct EnvFile {
    pub layout: Layout,
    /// Relative to the repository.
    pub path: String,
    pub env: String,
    pub bytes: Vec<u8>,
}

/// The files of a layout, by path in the repository.
pub fn layout_files(layout: Layout) -> Vec<(String, Vec<u8>)> {
    let fixtures = root().join("tests/integration/fixtures");
    let paths: Vec<(String, PathBuf)> = match layout {
        Layout::Repository => files("environments", |_| true)
            .into_iter()
            .map(|p| (p.strip_prefix(root()).expect("under the repository").display().to_string(), p))
            .collect(),
        Layout::Fixture => vec![
            ("environments/prod/environment.yaml".into(), fixtures.join("prod-environment.yaml")),
            ("environments/prod/recipients".into(), fixtures.join("prod-recipients")),
        ],
    };
    paths.into_iter().map(|(rel, p)| (rel, std::fs::read(&p).expect("read a seed file"))).collect()
}

/// Every environment YAML file: this repository's, and the test fixtures' in the place of
/// `environments/prod/environment.yaml`.
pub fn environment_files() -> Vec<EnvFile> {
    let mut out = Vec::new();
    for (path, bytes) in layout_files(Layout::Repository) {
        let mut parts = path.split('/').skip(1);
        let (Some(first), second) = (parts.next(), parts.next()) else { continue };
        if !is_yaml(&path) {
            continue;
        }
        // `defaults.yaml` is under every environment: read it as dev's.
        let env = if second.is_some() { first.to_string() } else { "dev".to_string() };
        out.push(EnvFile { layout: Layout::Repository, path, env, bytes });
    }
    for fixture in files("tests/integration/fixtures", is_yaml) {
        out.push(EnvFile {
            layout: Layout::Fixture,
            path: "environments/prod/environment.yaml".into(),
            env: "prod".into(),
            bytes: std::fs::read(&fixture).expect("read a fixture"),
        });
    }
    out
}

/// The bytes of `environment_files`.
pub fn environment_yaml() -> Vec<Vec<u8>> {
    environment_files().into_iter().map(|f| f.bytes).collect()
}

/// Every `recipients` file, and the demo's public keys.
pub fn recipients() -> Vec<Vec<u8>> {
    let mut paths = files("environments", |n| n == "recipients");
    paths.extend(files("tests/integration/fixtures", |n| n.ends_with("recipients")));
    paths.extend(files("demo/keys", |n| n.ends_with(".pub")));
    read(paths)
}

/// The text of every `!age` value in the environment YAML files.
pub fn armor() -> Vec<Vec<u8>> {
    fn collect(node: &Node, out: &mut Vec<Vec<u8>>) {
        match &node.kind {
            Kind::Scalar(text, _) if node.tag == Tag::Age => out.push(text.as_bytes().to_vec()),
            Kind::Map(entries) => entries.iter().for_each(|e| collect(&e.value, out)),
            Kind::Seq(items) => items.iter().for_each(|n| collect(n, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for bytes in environment_yaml() {
        let text = String::from_utf8(bytes).expect("the seed YAML is UTF-8");
        let (root, _) = yaml::parse(&text, Path::new("seed.yaml")).expect("the seed YAML parses");
        collect(&root, &mut out);
    }
    out
}

/// Deployed files: the demo's, and the fixtures of the import tests (a malformed one included).
pub fn deployed_xml() -> Vec<Vec<u8>> {
    let mut paths = files("demo/deployed", |n| n.starts_with("config-") && n.ends_with(".xml"));
    paths.extend(files("tests/integration/fixtures", |n| n.ends_with(".xml")));
    read(paths)
}

/// The repository's templates (the built-in ones), each at its place under `templates/`, and the
/// same in one file of more lines, with text between the tags (where mutations keep it a template).
pub fn templates() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = files("templates", |n| n.ends_with(".xml"))
        .into_iter()
        .map(|p| (p.strip_prefix(root()).expect("under the repository").display().to_string(), p))
        .map(|(rel, p)| (rel, std::fs::read(&p).expect("read a template")))
        .collect();
    out.push(("templates/config-instance.xml".into(), ONE_FILE_TEMPLATE.as_bytes().to_vec()));
    out
}

const ONE_FILE_TEMPLATE: &str = r#"<?xml version='1.0'?>
<!-- {{ environment }}/{{ instance }} on {{ container }} ({{ host | default(value="no host") }}), build {{ build }} -->
<{{ root }}>
{% for line in lines -%}
{% if line.kind == "close" -%}
{{ line.indent }}</{{ line.name }}>
{% else -%}
{{ line.indent }}<{{ line.name }}{% for a in line.attrs %} {{ a.name }}="{{ a.value }}"{% endfor -%}
{% if line.kind == "empty" %}/>
{% elif line.kind == "text" %}>{{ line.text }}</{{ line.name }}>
{% else %}>
{% endif -%}
{% endif -%}
{% endfor -%}
</{{ root }}>
"#;

/// State records as apply writes them: with credentials, pending steps and secret attributes, and
/// a bare one.
pub fn state_records() -> Vec<Vec<u8>> {
    let full = StateRecord {
        schema: STATE_SCHEMA.into(),
        environment: "prod".into(),
        instance: "mkt_prod".into(),
        container: "app1".into(),
        credentials: [
            (
                "ims".to_string(),
                AppliedCredential {
                    fields: [
                        ("auth", "oauth"),
                        ("orgId", "0123456789ABCDEF01234567@AdobeOrg"),
                        ("clientId", "e053e1a87cf74c68a6ec8e71d4a82662"),
                        ("technicalAccountId", "6657031C5C095BB40A4B0123@techacct.adobe.com"),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                    fingerprint: format!(
                        "scrypt:15:8:1:{}:{}",
                        "3f1c0a9e6b2d4f8a".repeat(2),
                        "9b0f6c1e2d3a4b5c".repeat(4)
                    ),
                    ciphertexts: format!("sha256:{}", "9b0f6c1e2d3a4b5c".repeat(4)),
                },
            ),
            (
                "dblogin".to_string(),
                AppliedCredential {
                    fields: [("provider", "PostgreSQL"), ("login", "campaign:mkt_prod"), ("server", "db1")]
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    fingerprint: format!("pbkdf2-sha256:4096:{}", "3f1c0a9e6b2d4f8a".repeat(4)),
                    ciphertexts: format!("sha256:{}", "9b0f6c1e2d3a4b5c".repeat(4)),
                },
            ),
        ]
        .into_iter()
        .collect(),
        pending: vec![vec!["config".into(), "-reload".into()]],
        secret_attributes: vec!["shared/dataStore/@hosts".into()],
        applied_at: "2025-03-14T09:26:53Z".into(),
        nlconf_version: env!("CARGO_PKG_VERSION").into(),
    };
    let bare =
        StateRecord { credentials: Default::default(), pending: vec![], secret_attributes: vec![], ..full.clone() };
    // A record of an older nlconf (v1): the IMS step alone, PBKDF2.
    let v1 = br#"{"schema":"nlconf.state/v1","environment":"prod","instance":"mkt_prod","container":"app1","credentials":{"auth":"oauth","org_id":"0123456789ABCDEF01234567@AdobeOrg","client_id":"e053e1a87cf74c68a6ec8e71d4a82662","technical_account_id":"6657031C5C095BB40A4B0123@techacct.adobe.com","fingerprint":"pbkdf2-sha256:4096:3f1c","ciphertexts":"sha256:9b0f"},"applied_at":"2025-03-14T09:26:53Z","nlconf_version":"0.1.0"}"#;
    vec![
        serde_json::to_vec_pretty(&full).expect("serialise a state record"),
        serde_json::to_vec(&bare).expect("serialise a state record"),
        v1.to_vec(),
    ]
}
