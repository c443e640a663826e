//! Micro-benchmarks of the stages a review goes through, on fleets written by the fleet generator
//! (examples/fleet.rs, included below): `cargo bench --bench core`. See bench/README.md.
//!
//! - `load_env`: read, merge and validate an environment (`nlconf::env::load`), for 10 and 40
//!   instances of 5 containers: the time should grow linearly.
//! - `render_container`: render one ~10 KB file (`Templates::render_checked`), without and with a
//!   deployed tree to carry nlserver's attributes from.
//! - `xml_parse`, `canonical`: parse a rendered file; its canonical form (`review::canonical`).
//! - `compare_*`: `review::compare` of a large file (1,000 and 10,000 relay rules) with itself and with
//!   a copy in which one line changed: the cost of a diff of a large unchanged file.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use nlconf::env::Environment;
use nlconf::render::{Placeholder, RenderedFile, Templates};
use nlconf::repo::Repository;
use nlconf::review::{self, Input, Names, Options};
use nlconf::secrets::FingerprintKey;
use nlconf::support::xml::{self, XmlElement};

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/fleet.rs"]
mod fleet;

fn main() {
    divan::main();
}

/// A generated fleet, loaded, with its templates and one rendered file.
struct Fixture {
    repo: Repository,
    env: Environment,
    templates: Templates,
    file: RenderedFile,
}

/// The fixture for a fleet of `instances` instances, generated once per process under
/// `target/tmp` (`CARGO_TARGET_TMPDIR`).
fn fixture(instances: usize) -> &'static Fixture {
    static CACHE: OnceLock<Mutex<HashMap<usize, &'static Fixture>>> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    cache.entry(instances).or_insert_with(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("bench-fleet-{instances}"));
        let mut args = fleet::Args::new(&dir);
        args.instances = instances;
        args.secrets = instances * 3 / 2;
        args.deploy = false;
        fleet::write_repository(&args).expect("the fleet generator failed");
        let repo = Repository::open(&dir).expect("a repository");
        let env = nlconf::env::load(&repo, "fleet")
            .unwrap_or_else(|diags| panic!("the generated fleet does not validate: {diags:?}"))
            .value;
        let templates = Templates::load(&repo).unwrap_or_else(|d| panic!("templates: {d:?}"));
        let inst = &env.instances[0];
        let mut file = templates.render_checked(&env, inst, &inst.containers[2], None).expect("render").value;
        file.parse().expect("well-formed");
        Box::leak(Box::new(Fixture { repo, env, templates, file }))
    })
}

#[divan::bench(args = [10, 40], sample_count = 10)]
fn load_env(bencher: divan::Bencher, instances: usize) {
    let fx = fixture(instances);
    bencher.bench(|| nlconf::env::load(&fx.repo, "fleet").expect("valid").value);
}

#[divan::bench(sample_count = 200)]
fn render_container(bencher: divan::Bencher) {
    let fx = fixture(10);
    let inst = &fx.env.instances[0];
    bencher.bench(|| fx.templates.render_checked(&fx.env, inst, &inst.containers[2], None).expect("render").value);
}

#[divan::bench(sample_count = 200)]
fn render_container_with_deployed(bencher: divan::Bencher) {
    let fx = fixture(10);
    let inst = &fx.env.instances[0];
    let deployed = fx.file.tree.as_ref().expect("parsed");
    bencher.bench(|| {
        fx.templates.render_checked(&fx.env, inst, &inst.containers[2], Some(deployed)).expect("render").value
    });
}

#[divan::bench(sample_count = 200)]
fn xml_parse(bencher: divan::Bencher) {
    let text = &fixture(10).file.content;
    bencher.counter(divan::counter::BytesCount::of_str(text)).bench(|| xml::parse(text).expect("well-formed"));
}

#[divan::bench(sample_count = 200)]
fn canonical(bencher: divan::Bencher) {
    let tree = fixture(10).file.tree.as_ref().expect("parsed");
    bencher.bench(|| review::canonical::canonical(tree));
}

/// A config file with `rules` relay rules (about 150 bytes each), and the same with one rule changed.
fn large_pair(rules: usize) -> (String, String) {
    let mut text = String::from("<?xml version='1.0'?>\n<serverconf>\n  <web>\n    <relay>\n");
    for i in 0..rules {
        text.push_str(&format!(
            "      <url IPMask=\"10.20.*,10.60.*\" relayHost=\"true\" relayPath=\"true\" targetUrl=\"http://localhost:8080\" urlPath=\"/lp/page-{i}/*\"/>\n"
        ));
    }
    text.push_str("    </relay>\n  </web>\n</serverconf>\n");
    let changed = text.replacen(&format!("urlPath=\"/lp/page-{}/*\"", rules / 2), "urlPath=\"/lp/changed/*\"", 1);
    (text, changed)
}

fn compare(old: (&str, &XmlElement), new: (&str, &XmlElement), key: &FingerprintKey) -> review::FileReview {
    let resolve = |_: Placeholder| None;
    let names = Names {
        instance: "i001".into(),
        container: "i001-wf1".into(),
        path: "i001-wf1/config-i001.xml".into(),
        old_source: "deployed".into(),
    };
    let old = Input { text: old.0, tree: old.1, resolve: &resolve, secret_attributes: &[] };
    let new = Input { text: new.0, tree: new.1, resolve: &resolve, secret_attributes: &[] };
    review::compare(names, Some(old), Some(new), &Options { semantic: false, context: 3 }, key)
}

#[divan::bench(args = [1_000, 10_000], sample_count = 20)]
fn compare_unchanged(bencher: divan::Bencher, rules: usize) {
    let (text, _) = large_pair(rules);
    let tree = xml::parse(&text).expect("well-formed");
    let key = FingerprintKey::random();
    bencher.counter(divan::counter::BytesCount::of_str(&text)).bench(|| compare((&text, &tree), (&text, &tree), &key));
}

#[divan::bench(args = [1_000, 10_000], sample_count = 20)]
fn compare_one_line_changed(bencher: divan::Bencher, rules: usize) {
    let (old, new) = large_pair(rules);
    let (old_tree, new_tree) = (xml::parse(&old).expect("well-formed"), xml::parse(&new).expect("well-formed"));
    let key = FingerprintKey::random();
    bencher.counter(divan::counter::BytesCount::of_str(&old)).bench(|| {
        let r = compare((&old, &old_tree), (&new, &new_tree), &key);
        assert_eq!((r.added, r.removed), (1, 1));
        r
    });
}
