//! The pull-request review: the repository rendered here and at another git revision, compared.
//! No target and no key: secrets are compared by ciphertext.

use std::collections::BTreeMap;

use rayon::prelude::*;

use super::format::Review;
use super::mask::fingerprint;
use super::{FileReview, Input, Names, Options};
use crate::diag::{Diagnostic, Diagnostics, Location, Staged, Warned};
use crate::env::Environment;
use crate::render::{Placeholder, RenderedFile, Templates};
use crate::repo::Repository;
use crate::secrets::{FingerprintKey, Identities};

/// The base revision's file and the current one, for one container.
type OldNew<'a> = (Option<&'a RenderedFile>, Option<&'a RenderedFile>);

/// Renders `env` (loaded from the working tree) and the same environment at `rev`, and compares.
pub fn against_base(
    repo: &Repository,
    env: &Environment,
    templates: &Templates,
    rev: &str,
    opts: &Options,
    identities: Option<&Identities>,
) -> Staged<Review> {
    let checkout = crate::support::git::checkout(&repo.root, rev).map_err(Diagnostics::from)?;
    // The revision's files are checked like the working tree's: its symlinks stay symlinks, and one
    // leading out of the temporary copy is refused.
    let base_repo = Repository::at(&checkout.root).map_err(Diagnostics::from)?;
    // The environment may be new in this change: then every file is new.
    let base =
        if base_repo.env_dir(&env.name).is_dir() { Some(render_base(&base_repo, &env.name, rev)?) } else { None };
    let Warned { value: mut current, warnings: mut diags } = templates.render_environment(env, None, None)?;
    diags.extend(parse_all(&mut current));
    if diags.has_errors() {
        return Err(diags);
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
        Placeholder::Secret(id) => {
            e.secret(id).and_then(|s| s.ciphertext.as_ref()).map(|ct| fingerprint(&key, &ct.armor))
        }
        Placeholder::Kept(_) => None,
    };
    let base_env = base.as_ref().map(|(e, _)| e);
    // In the YAML's order, as every review lists containers: the working tree's, then those only
    // the base revision has.
    let order: Vec<(String, String)> = env
        .containers()
        .chain(base.iter().flat_map(|(e, _)| e.containers()))
        .map(|(i, c)| (i.name.clone(), c.name.clone()))
        .collect();
    let mut pairs: Vec<_> = pairs.into_iter().collect();
    pairs.sort_by_key(|(k, _)| order.iter().position(|o| o == k).unwrap_or(usize::MAX));
    let files: Vec<FileReview> = pairs
        .par_iter()
        .map(|((instance, container), (old, new))| {
            let resolve_old = |p: Placeholder| base_env.and_then(|e| by_ciphertext(e, p));
            let resolve_new = |p: Placeholder| by_ciphertext(env, p);
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
            super::compare(names, old, new, opts, &key)
        })
        .collect();
    let credentials = super::credentials::between(base_env, env, identities, &env.nlserver);
    drop(checkout);
    diags.finish(Review {
        environment: env.name.clone(),
        against: "base".into(),
        base: Some(rev.to_string()),
        files,
        credentials,
        notes: Vec::new(),
    })
}

/// The environment at the base revision, every file rendered and parsed. Findings there are the
/// base's business; only its errors stop the review, shown as the base's (`REV:path`).
fn render_base(base_repo: &Repository, name: &str, rev: &str) -> Result<(Environment, Vec<RenderedFile>), Diagnostics> {
    let rendered = crate::env::load_for_rendering(base_repo, name).and_then(|env| {
        let templates = Templates::load(base_repo)?;
        let Warned { value: mut files, warnings: mut diags } = templates.render_environment(&env.value, None, None)?;
        diags.extend(parse_all(&mut files));
        diags.finish((env.value, files))
    });
    rendered.map(|r| r.value).map_err(|found| {
        found
            .sorted()
            .into_iter()
            .filter(|d| d.is_error())
            .map(|d| {
                let location = d.location.map(|l| Location { file: format!("{rev}:{}", l.file.display()).into(), ..l });
                Diagnostic { location, message: format!("in the base revision: {}", d.message), ..d }
            })
            .collect()
    })
}

/// Parses every file's tree (a review of two renderings compares them all).
fn parse_all(files: &mut [RenderedFile]) -> Diagnostics {
    files.par_iter_mut().filter_map(|f| f.parse().err()).collect::<Vec<_>>().into_iter().collect()
}
