//! The loaders that read files, on a fixture repository or conf folder in a temporary folder: the
//! environment (`env::load`, then rendering), a container's deployed file and state record
//! (`deployed::read_one`), plan files and templates.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use nlconf::credentials::state_file;
use nlconf::deployed;
use nlconf::diag::{Diagnostic, Location};
use nlconf::env::{self, Environment};
use nlconf::plan::{self, PlanFile, Steps};
use nlconf::render::Templates;
use nlconf::repo::Repository;
use nlconf::target;

use crate::case::{Verdict, cases, fuzz};
use crate::input::{self, Input, inputs};
use crate::seeds::{self, Layout};
use crate::{line_in, line_of, located};

/// Template errors about the templates as a whole, with a file and no line.
const FILE_LEVEL: &[&str] =
    &["Circular include detected", "Circular extend detected", "is inheriting from", "rendered malformed XML"];

/// A repository in a temporary folder: a layout's files, with `files` written over them.
pub struct Fixture {
    _dir: tempfile::TempDir,
    pub repo: Repository,
}

impl Fixture {
    pub fn new(layout: Layout, files: &[(&str, &[u8])]) -> Fixture {
        let dir = tempfile::Builder::new().prefix("nlconf-fuzz-").tempdir().expect("create a temporary folder");
        let mut all = seeds::layout_files(layout);
        all.extend(files.iter().map(|(path, bytes)| (path.to_string(), bytes.to_vec())));
        for (path, bytes) in all {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().expect("a file in a folder")).expect("create the folder");
            std::fs::write(&full, bytes).expect("write the fixture file");
        }
        let repo = Repository::open(dir.path()).expect("the fixture is a repository");
        Fixture { _dir: dir, repo }
    }

    /// The integration tests' production environment, with `files` written over it.
    pub fn prod(files: &[(&str, &[u8])]) -> Fixture {
        Fixture::new(Layout::Fixture, files)
    }
}

/// The production environment, loaded once per test and shared by its cases.
struct Prod {
    fixture: Fixture,
    env: Environment,
}

fn prod() -> Arc<Prod> {
    let fixture = Fixture::prod(&[]);
    let env = env::load(&fixture.repo, "prod").expect("the prod fixture loads").value;
    Arc::new(Prod { fixture, env })
}

#[test]
fn environment_loads_and_renders_or_points_at_a_line() {
    let files = Arc::new(seeds::environment_files());
    let seeds = files.iter().map(|f| f.bytes.clone()).collect();
    fuzz("environment YAML (env::load, rendering)", cases(), inputs(&input::YAML, seeds), move |input| {
        let seed = &files[input.seed];
        let fixture = Fixture::new(seed.layout, &[(&seed.path, &input.bytes)]);
        let text = input.text();
        let rule = line_of(Path::new(&seed.path), &text);
        let env = match env::load(&fixture.repo, &seed.env) {
            Ok(w) => w.value,
            Err(findings) => return located(findings.iter(), &rule),
        };
        let templates = Templates::load(&fixture.repo).map_err(|d| format!("the built-in templates: {d:?}"))?;
        match templates.render_environment(&env, None, None) {
            Ok(_) => Ok(Verdict::Accepted),
            Err(findings) => located(findings.iter(), &rule),
        }
    });
}

/// A container's conf folder holding `files`, read as a review reads it; `fuzzed` names the file
/// that errors must point into.
fn read_deployed(prod: &Prod, files: &[(&str, &Input)], fuzzed: &str) -> Result<Verdict, String> {
    let dir = tempfile::Builder::new().prefix("nlconf-fuzz-conf-").tempdir().expect("create a temporary folder");
    for (name, input) in files {
        let full = dir.path().join(name);
        std::fs::create_dir_all(full.parent().expect("a file in a folder")).expect("create the folder");
        std::fs::write(&full, &input.bytes).expect("write the conf file");
    }
    let inst = &prod.env.instances[0];
    let location = target::Location::Local(dir.path().to_path_buf());
    let Err(d) = deployed::read_one(&location, inst, &inst.containers[0]) else { return Ok(Verdict::Accepted) };
    let path = dir.path().join(fuzzed);
    let text = files.iter().find(|(name, _)| *name == fuzzed).map(|(_, input)| input.text()).unwrap_or_default();
    located([&d], |d, location| {
        if location.file != path {
            return Err(format!("{d}: expected an error in {}", path.display()));
        }
        line_in(&d.to_string(), location.line as usize, &text)
    })
}

#[test]
fn deployed_file_reads_or_points_at_a_line() {
    let prod = prod();
    let file = format!("config-{}.xml", prod.env.instances[0].name);
    fuzz("deployed XML (deployed::read_one)", cases(), inputs(&input::XML, seeds::deployed_xml()), move |input| {
        read_deployed(&prod, &[(&file, &input)], &file)
    });
}

#[test]
fn state_record_reads_or_points_at_a_line() {
    let prod = prod();
    let state = state_file(&prod.env.instances[0].name);
    let file = format!("config-{}.xml", prod.env.instances[0].name);
    let deployed = Input { seed: 0, bytes: seeds::deployed_xml().swap_remove(0) };
    fuzz("state record (deployed::read_one)", cases(), inputs(&input::JSON, seeds::state_records()), move |input| {
        read_deployed(&prod, &[(&state, &input), (&file, &deployed)], &state)
    });
}

/// A plan of the fixture as `nlconf plan` writes it: every container new, with the credential
/// step and a reload.
fn seed_plan(prod: &Prod) -> Vec<u8> {
    let templates = Templates::load(&prod.fixture.repo).expect("the built-in templates load");
    let rendered = templates.render_environment(&prod.env, None, None).expect("the fixture renders").value;
    let steps: Vec<Steps> = rendered
        .iter()
        .map(|f| Steps {
            instance: f.instance.clone(),
            container: f.container.clone(),
            write_file: true,
            credentials: vec![nlconf::plan::PlannedCredential {
                kind: "ims".into(),
                why: "never applied on this container".into(),
            }],
            post: vec![vec!["config".into(), "-reload".into()]],
            reasons: vec![String::new()],
        })
        .collect();
    let inputs = prod
        .env
        .files
        .iter()
        .map(|f| (f.display.display().to_string(), nlconf::support::digest::sha256(f.text.as_bytes())))
        .chain(templates.digests.clone())
        .collect::<BTreeMap<_, _>>();
    PlanFile::new(&prod.env, inputs, &rendered, &[], &steps).to_json().expect("serialise the plan")
}

#[test]
fn plan_file_reads_or_points_at_a_line() {
    let prod = prod();
    let seed = seed_plan(&prod);
    fuzz("plan file (plan::file::read)", cases(), inputs(&input::JSON, vec![seed]), |input| {
        let file = tempfile::NamedTempFile::new().expect("create a plan file");
        std::fs::write(file.path(), &input.bytes).expect("write the plan file");
        match plan::file::read(file.path()) {
            Ok(_) => Ok(Verdict::Accepted),
            Err(d) => located([&d], |d, location| {
                if location.file != file.path() {
                    return Err(format!("{d}: expected an error in the plan file"));
                }
                // A wrong schema or version is the file's as a whole; a JSON error has its line.
                if d.message.starts_with("not an nlconf plan file") {
                    line_in(&d.to_string(), location.line as usize, &input.text())?;
                }
                Ok(())
            }),
        }
    });
}

#[test]
fn template_loads_and_renders_or_points_at_a_line() {
    let prod = prod();
    let files = Arc::new(seeds::templates());
    let seeds = files.iter().map(|(_, bytes)| bytes.clone()).collect();
    let loader = "templates (Templates::load, render_environment)";
    fuzz(loader, cases(), inputs(&input::TEMPLATE, seeds), move |input| {
        let path = Path::new(&files[input.seed].0);
        let fixture = Fixture::prod(&[(&files[input.seed].0, &input.bytes)]);
        let text = input.text();
        let rule = |d: &Diagnostic, location: &Location| {
            // Tera names no line for a cycle of includes or extends, nor for a missing parent; and
            // malformed output is the template's as a whole (a line of the output means nothing in
            // the template).
            if location.line == 0 && FILE_LEVEL.iter().any(|m| d.message.contains(m)) {
                return Ok(());
            }
            line_of(path, &text)(d, location)
        };
        let templates = match Templates::load(&fixture.repo) {
            Ok(t) => t,
            Err(findings) => return located(findings.iter(), rule),
        };
        match templates.render_environment(&prod.env, None, None) {
            Ok(_) => Ok(Verdict::Accepted),
            Err(findings) => located(findings.iter(), rule),
        }
    });
}
