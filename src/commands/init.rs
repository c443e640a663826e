//! `nlconf init [DIR]`: a new configuration repository that validates at once (DESIGN §11), with
//! the user's public key in its recipients when one is found.

use std::path::{Path, PathBuf};

use super::{Ctx, Status};
use crate::init::{ENVIRONMENT, NewRepository, SCHEMA_FILE, key};

pub fn run(ctx: &mut Ctx, dir: &Path, identities: &[PathBuf]) -> Status {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
    let getenv = |k: &str| std::env::var(k).ok();
    let found = key::find(identities, &getenv, home.as_deref());
    for why in &found.skipped {
        ctx.ui.note(&format!("no public key taken from {why}"));
    }
    let repo = NewRepository::new(dir, found.keys);
    if let Err(d) = repo.write() {
        return ctx.fail(d);
    }
    ctx.ui.out(&format!("wrote a new nlconf repository in {}:", dir.display()));
    for f in &repo.files {
        ctx.ui.out(&format!("  {}", f.path));
    }
    let recipients = format!("environments/{ENVIRONMENT}/recipients");
    match repo.keys.as_slice() {
        [] => ctx.ui.out(&format!(
            "no public key was found: add yours to {recipients} before setting a secret (age-keygen -o ~/.config/nlconf/identity.txt prints one)"
        )),
        keys => {
            let from: Vec<&str> = keys.iter().map(|k| k.from.as_str()).collect();
            ctx.ui.out(&format!("{recipients} holds your public key (from {})", from.join(", ")));
            // nlconf does not look for ~/.ssh/id_ed25519 itself: say how to decrypt with it.
            if from.contains(&"~/.ssh/id_ed25519.pub") {
                ctx.ui.out("to decrypt with that SSH key: export NLCONF_AGE_IDENTITY=~/.ssh/id_ed25519 (a key without a passphrase)");
            }
        }
    }
    let c = if dir == Path::new(".") { String::new() } else { format!(" -C {}", dir.display()) };
    ctx.ui.out(&format!(
        "next steps:\n\
         \x20 1. edit environments/{ENVIRONMENT}/environment.yaml (instance, container, database): an editor with\n\
         \x20    yaml-language-server checks it as you type against {SCHEMA_FILE} (README, \"Editors\")\n\
         \x20 2. nlconf{c} validate\n\
         \x20 3. set the database password: printf %s \"$DB_PASSWORD\" | nlconf{c} secret set -e {ENVIRONMENT} \\\n\
         \x20      instances.mkt_dev.serverconf.shared.dataStore.dataSource.default.dbcnx.password\n\
         \x20 4. git init, commit, and `pre-commit install` (runs nlconf validate and secret check on each commit)\n\
         \x20 5. nlconf{c} diff -e {ENVIRONMENT}: what would change on the container"
    ));
    Status::Ok
}
