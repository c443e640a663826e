//! `nlconf diff -e ENV [--deployed DIR | --base GITREV] [--format ...] [--semantic] [-U N]
//! [--detailed-exitcode]`: what would change, masked, for review.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;

use rayon::prelude::*;

use crate::app::{Ctx, Status};
use crate::deployed::{self, DeployedFile, Source};
use crate::diag::{Diagnostic, Diagnostics, Location};
use crate::env::{Container, Environment, Instance};
use crate::render::{Placeholder, RenderedFile, Templates};
use crate::repo::Repository;
use crate::review::format::{self, Review};
use crate::review::mask::fingerprint;
use crate::review::{self, FileReview, Input, Names, Options};
use crate::secrets::{FingerprintKey, SecretStore};
use crate::support::xml::XmlElement;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

pub struct DiffArgs {
    pub env: String,
    pub deployed: Option<PathBuf>,
    pub base: Option<String>,
    pub format: Format,
    pub semantic: bool,
    pub context: usize,
    pub detailed_exitcode: bool,
}

impl Computed {
    /// The review alone. The process ends soon after: the fleet's trees are not freed one by one
    /// (that only costs time), but the decrypted secrets are dropped, which wipes them.
    pub fn into_review(self) -> Review {
        let Computed { env, rendered, deployed, review, steps, values, inputs } = self;
        drop(values);
        std::mem::forget((env, rendered, deployed, steps, inputs));
        review
    }
}

/// Everything `diff` and `plan` compute: the rendered files, the deployed ones, and the review.
pub struct Computed {
    pub env: Environment,
    pub rendered: Vec<RenderedFile>,
    pub deployed: Vec<DeployedFile>,
    pub review: Review,
    /// Per container (same order as `rendered`), what apply would do.
    pub steps: Vec<crate::plan::Steps>,
    /// The decrypted secrets (rendered ones and credentials) when an identity was at hand.
    pub values: Option<SecretStore>,
    /// Every input and its digest: YAML files, recipients, templates.
    pub inputs: BTreeMap<String, String>,
}

pub fn run(ctx: &mut Ctx, args: &DiffArgs) -> Status {
    let Some(repo) = ctx.repo() else { return Status::Failed };
    let opts = Options { semantic: args.semantic, context: args.context };
    let review = match &args.base {
        Some(rev) => against_base(ctx, &repo, &args.env, rev, &opts),
        None => {
            let source = args.deployed.clone().map_or(Source::Target, Source::Dir);
            against_deployed(ctx, &repo, &args.env, &source, &opts).map(Computed::into_review)
        }
    };
    let Some(review) = review else { return Status::Failed };
    print(ctx, &review, args.format);
    let changes = review.has_changes();
    // The process ends next: freeing a fleet's trees one by one would only cost time.
    std::mem::forget(review);
    if args.detailed_exitcode && changes { Status::Changes } else { Status::Ok }
}

pub fn print(ctx: &Ctx, review: &Review, fmt: Format) {
    use std::io::Write;
    let text = match fmt {
        Format::Text => {
            let color = ctx.ui.color_out;
            format::text(review, color)
        }
        Format::Json => format::json(review),
        Format::Markdown => format::markdown(review, format::MARKDOWN_LIMIT),
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Renders every container against its deployed file and compares them.
pub fn against_deployed(
    ctx: &mut Ctx,
    repo: &Repository,
    env_name: &str,
    source: &Source,
    opts: &Options,
) -> Option<Computed> {
    let templates = ctx.templates(repo);
    let env = ctx.load_env_for_rendering(repo, env_name)?;
    let templates = templates?;
    if let Source::Dir(dir) = source
        && !dir.is_dir()
    {
        ctx.diags.push(
            Diagnostic::in_file(dir, "--deployed: no such folder").with_help(
                "expected a copy laid out as `render --out` writes it: DIR/<container>/config-<instance>.xml",
            ),
        );
        return None;
    }
    let pairs: Vec<(&Instance, &Container)> = env.containers().collect();
    // Servers are contacted only for a repository without errors: with a remote target, every
    // container is checked first (elsewhere each one is checked as it is rendered, and reading a
    // local file for a container that turns out wrong costs nothing).
    if matches!(source, Source::Target) && env.target.kind == crate::env::TargetKind::Ssh {
        ctx.diags.extend(env.check_serverconf());
        if ctx.diags.has_errors() {
            return None;
        }
    }
    // With a key at hand, secrets written into files are compared with the deployed plaintext, and
    // credentials with what was last applied. Without one, nothing needs decrypting. Every secret of
    // the environment is decrypted, each once, before anything is rendered (a secret that every
    // container overrides is decrypted for nothing, and must decrypt like any other).
    let started = std::time::Instant::now();
    let Ok(ids) = ctx.keys() else { return None };
    let values: Option<SecretStore> = match &ids {
        None => None,
        Some(ids) => {
            let wanted: Vec<crate::secrets::SecretId> =
                (0..env.secrets.len()).map(crate::secrets::SecretId::new).collect();
            match crate::env::decrypt_slots(&env.secrets, &wanted, ids) {
                Ok(v) => {
                    ctx.diags.extend(crate::credentials::check_plaintexts(&env, &v));
                    if ctx.diags.has_errors() {
                        return None;
                    }
                    ctx.ui.timing(&format!("decrypted {}", crate::ui::count(v.len(), "secret")), started);
                    Some(v)
                }
                Err(d) => {
                    ctx.diags.extend(d);
                    return None;
                }
            }
        }
    };
    // One pass per container, in parallel: check its settings, read and parse the deployed file,
    // render, compare, plan the steps, and drop both trees. Only the texts and the results are held
    // for the whole fleet.
    let started = std::time::Instant::now();
    let key = FingerprintKey::random();
    let results: Vec<(Option<Reviewed>, Diagnostics)> = pairs
        .par_iter()
        .map(|(i, c)| {
            let mut diags = Diagnostics::new();
            let tree = env.checked_serverconf(i, c, &mut diags);
            if diags.has_errors() {
                return (None, diags);
            }
            let mut d = match deployed::read_one(&deployed::location(&repo.root, &env, source, i, c), i, c) {
                Ok(d) => d,
                Err(e) => {
                    diags.push(e);
                    return (None, diags);
                }
            };
            let mut f = match templates.render_tree(&env, i, c, tree, d.tree.as_ref()) {
                Ok(f) => f,
                Err(e) => {
                    diags.push(e);
                    return (None, diags);
                }
            };
            let (review, tree) = match compare_one(&f, &d, values.as_ref(), &key, opts) {
                Ok(r) => r,
                Err(e) => {
                    diags.push(e);
                    return (None, diags);
                }
            };
            if let Some(tree) = tree {
                f.tree = Some(tree);
            }
            let steps = crate::plan::steps_of(&env, &f, Some(&d), &review, values.as_ref());
            // Only the texts apply writes and the digests the plan records stay for the whole fleet.
            f.tree = None;
            d.tree = None;
            d.content = None;
            (Some(Reviewed { rendered: f, deployed: d, review, steps }), diags)
        })
        .collect();
    let mut rendered = Vec::with_capacity(results.len());
    let mut deployed = Vec::with_capacity(results.len());
    let mut files = Vec::with_capacity(results.len());
    let mut steps = Vec::with_capacity(results.len());
    for (r, diags) in results {
        ctx.diags.extend(diags);
        if let Some(r) = r {
            rendered.push(r.rendered);
            deployed.push(r.deployed);
            files.push(r.review);
            steps.push(r.steps);
        }
    }
    if ctx.diags.has_errors() {
        return None;
    }
    let notes = crate::plan::notes(&env, &deployed);
    for (f, s) in files.iter_mut().zip(&steps) {
        f.actions = crate::plan::describe(&env, s);
    }
    if ctx.ui.verbose {
        let present = deployed.iter().filter(|d| d.digest != "absent").count();
        ctx.ui.timing(
            &format!(
                "read {present} deployed files ({} absent), rendered and compared {}",
                deployed.len() - present,
                crate::ui::count(files.len(), "file")
            ),
            started,
        );
    }
    let review = Review { environment: env.name.clone(), against: "deployed".into(), base: None, files, notes };
    let mut inputs: BTreeMap<String, String> = env
        .files
        .iter()
        .map(|f| (f.display.to_string_lossy().into_owned(), crate::support::digest::sha256(f.text.as_bytes())))
        .collect();
    if let Some(r) = &env.recipients {
        inputs.insert(format!("environments/{}/recipients", env.name), format!("recipients:{}", r.digest()));
    }
    for (name, digest) in &templates.digests {
        inputs.insert(templates.shown(name), digest.clone());
    }
    Some(Computed { env, rendered, deployed, review, steps, values, inputs })
}

/// One container's pass of `against_deployed`.
struct Reviewed {
    rendered: RenderedFile,
    deployed: DeployedFile,
    review: FileReview,
    steps: crate::plan::Steps,
}

/// Compares a rendered file with the deployed one. The rendered tree is parsed only when the file
/// changes, and returned then (the plan's steps look at it).
fn compare_one(
    f: &RenderedFile,
    d: &DeployedFile,
    values: Option<&SecretStore>,
    key: &FingerprintKey,
    opts: &Options,
) -> Result<(FileReview, Option<XmlElement>), Diagnostic> {
    let resolve_new = |p: Placeholder| match p {
        Placeholder::Secret(i) => values.and_then(|v| v.get(i)).map(|v| v.fingerprint(key)),
        Placeholder::Kept(k) => f.kept.get(k).map(|v| fingerprint(key, v)),
    };
    let resolve_old = |_: Placeholder| None;
    let names = Names {
        instance: f.instance.clone(),
        container: f.container.clone(),
        path: f.rel_path(),
        old_source: d.shown.clone(),
    };
    // What apply would write (`reveal`): when it is the deployed file byte for byte, nothing changes
    // (the kept values are the deployed file's own). Secrets take part when all of them are known.
    let known = |i: crate::secrets::SecretId| values.and_then(|v| v.get(i));
    if let Some(deployed) = d.content.as_deref()
        && f.secrets.iter().all(|&i| known(i).is_some())
        && crate::render::reveal(f, known, "").as_str() == deployed
    {
        return Ok((review::unchanged(names), None));
    }
    // What apply last wrote from secrets is plaintext there, masked whatever the YAML says now.
    let written = d.state.as_ref().map_or(&[][..], |s| s.secret_attributes.as_slice());
    let old = d.content.as_deref().zip(d.tree.as_ref()).map(|(text, tree)| Input {
        text,
        tree,
        resolve: &resolve_old,
        secret_attributes: written,
    });
    let tree = f.tree()?;
    let new = Input { text: &f.content, tree: &tree, resolve: &resolve_new, secret_attributes: &[] };
    let review = review::compare(names, old, Some(new), opts, key);
    Ok((review, if let Cow::Owned(t) = tree { Some(t) } else { None }))
}

/// Parses every file's tree (a review of two renderings compares them all).
fn parse_all(files: &mut [RenderedFile]) -> Diagnostics {
    files.par_iter_mut().filter_map(|f| f.parse().err()).collect::<Vec<_>>().into_iter().collect()
}

/// The base revision's file and the current one, for one container.
type OldNew<'a> = (Option<&'a RenderedFile>, Option<&'a RenderedFile>);

/// Renders the repository here and at `rev`, and compares them: no target, no key needed.
/// Secrets are compared by ciphertext.
fn against_base(ctx: &mut Ctx, repo: &Repository, env_name: &str, rev: &str, opts: &Options) -> Option<Review> {
    let templates = ctx.templates(repo);
    let env = ctx.load_env_for_rendering(repo, env_name)?;
    let templates = templates?;
    let checkout = match crate::support::git::checkout(&repo.root, rev) {
        Ok(c) => c,
        Err(d) => {
            ctx.diags.push(d);
            return None;
        }
    };
    let base_repo = Repository { root: checkout.root.clone() };
    // The environment may be new in this change: then every file is new.
    let base = if base_repo.env_dir(env_name).is_dir() {
        let (base_env, mut base_diags) = crate::env::load_for_rendering(&base_repo, env_name);
        let base_templates = match Templates::load(&base_repo) {
            Ok(t) => Some(t),
            Err(d) => {
                base_diags.extend(d);
                None
            }
        };
        let rendered = match (base_env, base_templates) {
            (Some(e), Some(t)) => {
                let (mut files, d) = t.render_environment(&e, None, None);
                base_diags.extend(d);
                base_diags.extend(parse_all(&mut files));
                Some((e, files))
            }
            _ => None,
        };
        // Findings in the base revision are the base's business; only its errors stop the review,
        // shown as the base's (`REV:path`), not the working tree's.
        if base_diags.has_errors() {
            for d in base_diags.sorted().into_iter().filter(|d| d.is_error()) {
                let location = d.location.map(|l| Location { file: format!("{rev}:{}", l.file.display()).into(), ..l });
                ctx.diags.push(Diagnostic { location, message: format!("in the base revision: {}", d.message), ..d });
            }
            return None;
        }
        rendered
    } else {
        None
    };
    let (mut current, mut diags) = templates.render_environment(&env, None, None);
    diags.extend(parse_all(&mut current));
    if diags.has_errors() {
        ctx.diags.extend(diags);
        return None;
    }
    let key = FingerprintKey::random();
    let mut pairs: BTreeMap<(String, String), OldNew> = BTreeMap::new();
    if let Some((_, files)) = &base {
        for f in files {
            pairs.entry((f.instance.clone(), f.container.clone())).or_default().0 = Some(f);
        }
    }
    for f in &current {
        pairs.entry((f.instance.clone(), f.container.clone())).or_default().1 = Some(f);
    }
    let by_ciphertext = |e: &Environment, p: Placeholder| match p {
        Placeholder::Secret(i) => {
            e.secret(i).and_then(|s| s.ciphertext.as_ref()).map(|ct| fingerprint(&key, &ct.armor))
        }
        Placeholder::Kept(_) => None,
    };
    let base_env = base.as_ref().map(|(e, _)| e);
    let pairs: Vec<_> = pairs.into_iter().collect();
    let files: Vec<FileReview> = pairs
        .par_iter()
        .map(|((instance, container), (old, new))| {
            let resolve_old = |p: Placeholder| base_env.and_then(|e| by_ciphertext(e, p));
            let resolve_new = |p: Placeholder| by_ciphertext(&env, p);
            let old = old.and_then(|f| {
                Some(Input { text: &f.content, tree: f.tree.as_ref()?, resolve: &resolve_old, secret_attributes: &[] })
            });
            let new = new.and_then(|f| {
                Some(Input { text: &f.content, tree: f.tree.as_ref()?, resolve: &resolve_new, secret_attributes: &[] })
            });
            let names = Names {
                instance: instance.clone(),
                container: container.clone(),
                path: format!("{container}/config-{instance}.xml"),
                old_source: rev.to_string(),
            };
            review::compare(names, old, new, opts, &key)
        })
        .collect();
    drop(checkout);
    Some(Review {
        environment: env.name.clone(),
        against: "base".into(),
        base: Some(rev.to_string()),
        files,
        notes: Vec::new(),
    })
}
