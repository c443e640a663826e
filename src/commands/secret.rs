//! `nlconf secret set | rekey | check` (DESIGN §4).

use std::path::Path;

use super::{Ctx, Status};
use crate::diag::Diagnostic;
use crate::manage::secrets::{self, EnvSecrets, SetTarget};

pub fn set(ctx: &mut Ctx, env_name: &str, path: &str, from_file: Option<&Path>) -> Status {
    let Some(repo) = ctx.repo() else { return Status::Failed };
    let Some(target) = ctx.diags.take(SetTarget::new(&repo, env_name, path)) else { return Status::Failed };
    let value = match secrets::read_value(from_file, target.path()) {
        Ok(v) => v,
        Err(d) => return ctx.fail(d),
    };
    match target.set(value) {
        Ok(done) => {
            ctx.ui.out(&format!(
                "encrypted {} to {} in {}",
                done.path,
                crate::ui::count(done.recipients, "recipient"),
                done.file.display()
            ));
            Status::Ok
        }
        Err(d) => ctx.fail(d),
    }
}

pub fn rekey(ctx: &mut Ctx, envs: &[String], dry_run: bool) -> Status {
    let Some(repo) = ctx.repo() else { return Status::Failed };
    let Some(names) = ctx.env_names(&repo, envs) else { return Status::Failed };
    for name in &names {
        let Some(mut es) = ctx.diags.take(EnvSecrets::load(&repo, name)) else { continue };
        let plan = es.rekey_plan();
        let clean = !es.findings.has_errors() && !plan.findings.has_errors();
        ctx.diags.extend(std::mem::take(&mut es.findings));
        ctx.diags.extend(plan.findings.clone());
        if plan.todo.is_empty() {
            if clean {
                let n = es.sources.secrets.len();
                let verb = if n == 1 { "is" } else { "are" };
                ctx.ui.note(&format!(
                    "{name}: all {} {verb} bound and encrypted to the current recipients",
                    crate::ui::count(n, "secret")
                ));
            }
            continue;
        }
        if dry_run {
            for (id, reason) in &plan.todo {
                ctx.ui.out(&format!("would rekey {}", es.describe(*id, reason)));
            }
            continue;
        }
        // Nothing is rewritten while anything is wrong.
        if ctx.diags.has_errors() {
            continue;
        }
        let Some(ids) = ctx.identities("secret rekey") else { return Status::Failed };
        let (done, errors) = es.rekey(&plan, &ids);
        for line in done {
            ctx.ui.out(&line);
        }
        ctx.diags.extend(errors);
    }
    if ctx.diags.has_errors() { Status::Failed } else { Status::Ok }
}

/// `decrypt: false` (`--no-decrypt`) checks what needs no key (each secret's place and recipients),
/// so that a pre-commit hook works for whoever commits, holding the keys of some environments or none.
pub fn check(ctx: &mut Ctx, envs: &[String], decrypt: bool) -> Status {
    let Some(repo) = ctx.repo() else { return Status::Failed };
    let Some(names) = ctx.env_names(&repo, envs) else { return Status::Failed };
    let ids = if decrypt {
        let Ok(ids) = ctx.keys() else { return Status::Failed };
        ids
    } else {
        None
    };
    let mut no_identity_reported = false;
    for name in &names {
        let Some(mut es) = ctx.diags.take(EnvSecrets::load(&repo, name)) else { continue };
        let findings = std::mem::take(&mut es.findings);
        let clean = !findings.has_errors();
        ctx.diags.extend(findings);
        let mut checked = es.check(ids.as_deref());
        // The credentials' values, where the YAML loads: what -setims*/-setdblogin cannot carry
        // (with the values `check` decrypted: each once).
        if let Ok(c) = &checked
            && let Some(store) = &c.value.store
            && let Ok(env) = crate::env::load_for_rendering(&repo, name)
        {
            let found = crate::credentials::check_plaintexts(&env.value, store);
            if found.has_errors() {
                checked = Err(found);
            }
        }
        let clean = clean && checked.is_ok();
        match ctx.diags.take(checked).map(|c| c.needs_identity) {
            Some(true) if decrypt && !no_identity_reported => {
                no_identity_reported = true;
                ctx.diags.push(
                    Diagnostic::error(None, "secret check needs an identity to try decrypting, and none was found")
                        .with_help(crate::secrets::store::NO_IDENTITY_HELP),
                );
            }
            // An environment whose secrets were not decrypted is not reported ok.
            Some(true) if decrypt => {}
            Some(_) if clean && decrypt => ctx.ui.note(&format!(
                "{}: {name} ({})",
                ctx.ui.paint("32", "ok"),
                crate::ui::count(es.sources.secrets.len(), "secret")
            )),
            Some(_) if clean => ctx.ui.note(&format!(
                "{}: {name} ({}: bound to their places and encrypted to the current recipients; not decrypted)",
                ctx.ui.paint("32", "ok"),
                crate::ui::count(es.sources.secrets.len(), "secret")
            )),
            _ => {}
        }
    }
    if ctx.diags.has_errors() { Status::Failed } else { Status::Ok }
}
