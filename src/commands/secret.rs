//! `nlconf secret set | rekey | check` (DESIGN §4).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};
use std::path::Path;

use crate::app::{Ctx, Status};
use crate::diag::{Diagnostic, Diagnostics};
use crate::env::{self, SecretSlot, quote_path_key};
use crate::repo::Repository;
use crate::secrets::{Binding, BindingStatus, Ciphertext, RecipientSet, SecretValue, encrypt};
use crate::support::yaml::{self, Tag};
use crate::support::yamledit;

pub fn set(ctx: &mut Ctx, env_name: &str, path: &str, from_file: Option<&Path>) -> Status {
    let Some(repo) = ctx.repo() else { return Status::Failed };
    let keys = match yamledit::parse_path(path) {
        Ok(k) => k,
        Err(e) => {
            ctx.diags.push(Diagnostic::error(None, format!("YAMLPATH {e}")));
            return Status::Failed;
        }
    };
    let canonical = keys.iter().map(|k| quote_path_key(k)).collect::<Vec<_>>().join(".");
    let (sources, diags) = env::read_sources(&repo, env_name);
    let Some(sources) = sources else {
        ctx.diags.extend(diags);
        return Status::Failed;
    };
    let recipients = match env::load_recipients(&repo, env_name) {
        Ok(r) => r,
        Err(d) => {
            ctx.diags.extend(d);
            return Status::Failed;
        }
    };
    let Some(index) = choose_file(&sources, &keys) else {
        ctx.diags.push(Diagnostic::error(None, format!("environment `{env_name}` has no file of its own to write to")));
        return Status::Failed;
    };
    let value = match read_value(from_file, &canonical) {
        Ok(v) => v,
        Err(d) => {
            ctx.diags.push(d);
            return Status::Failed;
        }
    };
    let ct = match encrypt(&value, &recipients, Binding::new(env_name, &canonical, &recipients)) {
        Ok(ct) => ct,
        Err(e) => {
            ctx.diags.push(Diagnostic::error(None, format!("cannot encrypt: {e}")));
            return Status::Failed;
        }
    };
    drop(value);
    let file = &sources.files[index];
    let file_path = &sources.paths[index];
    let new_text = match edit(&file.text, &keys, &ct) {
        Ok(t) => t,
        Err(e) => {
            let message = format!("cannot set {canonical}: {}", e.message);
            ctx.diags.push(match e.at {
                Some((line, col)) => Diagnostic::at(crate::diag::Location::new(&file.display, line, col), message),
                None => Diagnostic::in_file(&file.display, message),
            });
            return Status::Failed;
        }
    };
    if let Err(e) = write_keeping_mode(file_path, &new_text) {
        ctx.diags.push(Diagnostic::in_file(&file.display, format!("cannot write: {}", yaml::io_reason(&e))));
        return Status::Failed;
    }
    ctx.ui.out(&format!(
        "encrypted {canonical} to {} recipient{} in {}",
        recipients.len(),
        if recipients.len() == 1 { "" } else { "s" },
        file.display.display()
    ));
    Status::Ok
}

/// The file to write: the last one that sets the path, else the one holding the deepest part of
/// it, else `environment.yaml`. The shared `environments/defaults.yaml` never holds secrets.
fn choose_file(sources: &env::Sources, keys: &[String]) -> Option<usize> {
    let own: Vec<usize> = (0..sources.files.len()).filter(|&i| !sources.shared[i]).collect();
    let depth = |i: usize| {
        let mut node = &sources.files[i].root;
        for (d, k) in keys.iter().enumerate() {
            match node.get(k) {
                Some(n) => node = n,
                None => return d,
            }
        }
        keys.len()
    };
    let best = own.iter().map(|&i| (depth(i), i)).max_by_key(|&(d, i)| (d, i))?;
    if best.0 > 0 {
        return Some(best.1);
    }
    own.iter()
        .copied()
        .find(|&i| sources.paths[i].file_name().is_some_and(|n| n == "environment.yaml"))
        .or(Some(best.1))
}

/// The largest secret `secret set` reads (a private key is a few KB).
const SECRET_LIMIT: usize = 1024 * 1024;

/// Reads a secret into a buffer sized up front, so that no growing leaves a copy behind; a copy
/// that is dropped on an error is wiped.
fn read_secret(r: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut buf = zeroize::Zeroizing::new(Vec::with_capacity(SECRET_LIMIT + 1));
    r.take(SECRET_LIMIT as u64 + 1).read_to_end(&mut buf)?;
    if buf.len() > SECRET_LIMIT {
        return Err(std::io::Error::other("the value is larger than 1 MB: not a secret nlconf holds"));
    }
    Ok(std::mem::take(&mut *buf))
}

/// The value from a file (its exact bytes) or stdin (one trailing newline removed); never from an
/// argument, so it stays out of shell history and process lists.
fn read_value(from_file: Option<&Path>, path: &str) -> Result<SecretValue, Diagnostic> {
    let bytes = match from_file {
        Some(f) => std::fs::File::open(f)
            .and_then(|mut file| read_secret(&mut file))
            .map_err(|e| Diagnostic::in_file(f, format!("cannot read the value: {}", yaml::io_reason(&e))))?,
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprintln!("Value for {path} (input hidden; end with Enter):");
                let _ = std::process::Command::new("stty").arg("-echo").status();
                let mut line = zeroize::Zeroizing::new(String::with_capacity(SECRET_LIMIT));
                let read = stdin.read_line(&mut line);
                let _ = std::process::Command::new("stty").arg("echo").status();
                read.map_err(|e| Diagnostic::error(None, format!("cannot read stdin: {e}")))?;
                std::mem::take(&mut *line).into_bytes()
            } else {
                read_secret(&mut stdin.lock())
                    .map_err(|e| Diagnostic::error(None, format!("cannot read stdin: {}", yaml::io_reason(&e))))?
            }
        }
    };
    let mut bytes = bytes;
    if from_file.is_none() {
        if bytes.ends_with(b"\r\n") {
            bytes.truncate(bytes.len() - 2);
        } else if bytes.ends_with(b"\n") {
            bytes.truncate(bytes.len() - 1);
        }
    }
    if bytes.is_empty() {
        return Err(Diagnostic::error(None, format!("empty value for {path}: nothing to encrypt"))
            .with_help("pipe the value on stdin (printf %s \"$VALUE\" | nlconf secret set ...) or use --from-file"));
    }
    SecretValue::from_bytes(bytes).map_err(|_| {
        let message = format!("the value for {path} is not UTF-8 text");
        match from_file {
            Some(f) => Diagnostic::in_file(f, message),
            None => Diagnostic::error(None, message),
        }
    })
}

/// The file's text with the ciphertext at `keys`, checked by parsing it back.
fn edit(text: &str, keys: &[String], ct: &Ciphertext) -> Result<String, yamledit::EditError> {
    let wanted = ct.to_text();
    let new_text = yamledit::set_age_block(text, keys, &wanted)?;
    // (Checks of nlconf's own edit: a failure is a bug, and names no place in the user's file.)
    let bug = |message: String| yamledit::EditError { at: None, message };
    let (root, _) =
        yaml::parse(&new_text, Path::new("-")).map_err(|d| bug(format!("the edit would break the file ({d})")))?;
    let mut node = &root;
    for k in keys {
        node = node.get(k).ok_or_else(|| bug("the edit did not land where expected".into()))?;
    }
    if node.tag != Tag::Age || node.as_str() != Some(wanted.as_str()) {
        return Err(bug("the edit did not produce the expected value".into()));
    }
    Ok(new_text)
}

fn write_keeping_mode(path: &Path, text: &str) -> std::io::Result<()> {
    let perms = std::fs::metadata(path).map(|m| m.permissions()).ok();
    crate::support::fs::write_atomic(path, text.as_bytes())?;
    if let Some(p) = perms {
        std::fs::set_permissions(path, p)?;
    }
    Ok(())
}

/// Why a secret needs re-encryption, if it does.
fn rekey_reason(ct: &Ciphertext, recipients: &RecipientSet) -> Option<&'static str> {
    match &ct.binding {
        None => Some("unbound, now bound to its place"),
        Some(b) if b.recipients_digest != recipients.digest() => Some("recipients changed"),
        Some(_) => None,
    }
}

struct EnvSecrets {
    sources: env::Sources,
    recipients: RecipientSet,
}

fn load_env_secrets(ctx: &mut Ctx, repo: &Repository, name: &str) -> Option<EnvSecrets> {
    let (sources, diags) = env::read_sources(repo, name);
    ctx.diags.extend(diags);
    let mut sources = sources?;
    let recipients = match env::load_recipients(repo, name) {
        Ok(r) => r,
        Err(d) => {
            ctx.diags.extend(d);
            return None;
        }
    };
    for slot in &mut sources.secrets {
        match Ciphertext::parse(&slot.text) {
            Ok(ct) => slot.ciphertext = Some(ct),
            Err(e) => ctx
                .diags
                .push(Diagnostic::at(env::secret_line(slot, e.line), format!("{}: {}", slot.yaml_path, e.message))),
        }
    }
    Some(EnvSecrets { sources, recipients })
}

fn moved(ctx: &mut Ctx, env: &str, slot: &SecretSlot, ct: &Ciphertext) -> bool {
    if let BindingStatus::Moved { from_env, from_path } = ct.check_binding(env, &slot.yaml_path) {
        ctx.diags.push(
            Diagnostic::at(
                slot.origin.location(),
                format!(
                    "{}: this ciphertext was encrypted for environment `{from_env}` at `{from_path}`",
                    slot.yaml_path
                ),
            )
            .with_help(format!(
                "a secret copied from another place is refused; set it here: nlconf secret set -e {env} {}",
                slot.yaml_path
            )),
        );
        return true;
    }
    false
}

pub fn rekey(ctx: &mut Ctx, envs: &[String], dry_run: bool) -> Status {
    let Some(repo) = ctx.repo() else { return Status::Failed };
    let Some(names) = ctx.env_names(&repo, envs) else { return Status::Failed };
    let mut ids = None;
    for name in &names {
        let before = ctx.diags.error_count();
        let Some(es) = load_env_secrets(ctx, &repo, name) else { continue };
        let mut todo: Vec<(usize, &'static str)> = Vec::new();
        for (i, slot) in es.sources.secrets.iter().enumerate() {
            let Some(ct) = &slot.ciphertext else { continue };
            if moved(ctx, name, slot, ct) {
                continue;
            }
            if let Some(reason) = rekey_reason(ct, &es.recipients) {
                todo.push((i, reason));
            }
        }
        if todo.is_empty() {
            if ctx.diags.error_count() == before {
                ctx.ui.note(&format!(
                    "{name}: all {} {} bound and encrypted to the current recipients",
                    crate::ui::count(es.sources.secrets.len(), "secret"),
                    if es.sources.secrets.len() == 1 { "is" } else { "are" }
                ));
            }
            continue;
        }
        if dry_run {
            for (i, reason) in &todo {
                let slot = &es.sources.secrets[*i];
                ctx.ui.out(&format!("would rekey {name} {} ({}): {reason}", slot.yaml_path, slot.origin));
            }
            continue;
        }
        if ctx.diags.has_errors() {
            continue;
        }
        if ids.is_none() {
            ids = ctx.identities("secret rekey");
        }
        let Some(identities) = &ids else { return Status::Failed };
        let which: Vec<crate::secrets::SecretId> =
            todo.iter().map(|(i, _)| crate::secrets::SecretId::new(*i)).collect();
        let values = match crate::env::decrypt_slots(&es.sources.secrets, &which, identities) {
            Ok(v) => v,
            Err(d) => {
                ctx.diags.extend(d);
                continue;
            }
        };
        // Edit each file once, in memory, then write it.
        let mut edits: BTreeMap<usize, Vec<(usize, &'static str)>> = BTreeMap::new();
        for (i, reason) in todo {
            let slot = &es.sources.secrets[i];
            let Some(fi) =
                es.sources.files.iter().position(|f| f.display.to_string_lossy() == slot.origin.file.as_ref())
            else {
                continue;
            };
            edits.entry(fi).or_default().push((i, reason));
        }
        for (fi, list) in edits {
            let file = &es.sources.files[fi];
            let mut text = file.text.clone();
            let mut done = Vec::new();
            let mut failed = Diagnostics::new();
            for (i, reason) in list {
                let slot = &es.sources.secrets[i];
                let Some(value) = values.get(crate::secrets::SecretId::new(i)) else { continue };
                let result = yamledit::parse_path(&slot.yaml_path)
                    .map_err(|e| format!("{e} (secrets inside lists cannot be rekeyed)"))
                    .and_then(|keys| {
                        let ct = encrypt(value, &es.recipients, Binding::new(name, &slot.yaml_path, &es.recipients))
                            .map_err(|e| e.to_string())?;
                        edit(&text, &keys, &ct).map_err(|e| e.message)
                    });
                match result {
                    Ok(t) => {
                        text = t;
                        done.push(format!("rekeyed {name} {} ({}): {reason}", slot.yaml_path, slot.origin));
                    }
                    Err(e) => failed
                        .push(Diagnostic::at(slot.origin.location(), format!("{}: cannot rekey: {e}", slot.yaml_path))),
                }
            }
            if failed.has_errors() {
                ctx.diags.extend(failed);
                continue;
            }
            if let Err(e) = write_keeping_mode(&es.sources.paths[fi], &text) {
                ctx.diags.push(Diagnostic::in_file(&file.display, format!("cannot write: {}", yaml::io_reason(&e))));
                continue;
            }
            for line in done {
                ctx.ui.out(&line);
            }
        }
    }
    if ctx.diags.has_errors() { Status::Failed } else { Status::Ok }
}

pub fn check(ctx: &mut Ctx, envs: &[String]) -> Status {
    let Some(repo) = ctx.repo() else { return Status::Failed };
    let Some(names) = ctx.env_names(&repo, envs) else { return Status::Failed };
    let Ok(ids) = ctx.keys() else { return Status::Failed };
    let mut no_identity_reported = false;
    for name in &names {
        let before = ctx.diags.error_count();
        let Some(es) = load_env_secrets(ctx, &repo, name) else { continue };
        let mut which = Vec::new();
        for (i, slot) in es.sources.secrets.iter().enumerate() {
            let Some(ct) = &slot.ciphertext else { continue };
            if moved(ctx, name, slot, ct) {
                continue;
            }
            match &ct.binding {
                None => ctx.diags.push(
                    Diagnostic::warning(
                        Some(slot.origin.location()),
                        format!("{}: unbound secret (encrypted without nlconf's header)", slot.yaml_path),
                    )
                    .with_help(format!("bind it: nlconf secret rekey -e {name}")),
                ),
                Some(b) if b.recipients_digest != es.recipients.digest() => ctx.diags.push(
                    Diagnostic::at(
                        slot.origin.location(),
                        format!(
                            "{}: not encrypted to exactly the current recipients of environments/{name}/recipients",
                            slot.yaml_path
                        ),
                    )
                    .with_help(format!("re-encrypt: nlconf secret rekey -e {name}")),
                ),
                Some(_) => {}
            }
            which.push(crate::secrets::SecretId::new(i));
        }
        match &ids {
            Some(ids) => {
                if let Err(d) = crate::env::decrypt_slots(&es.sources.secrets, &which, ids) {
                    ctx.diags.extend(d);
                }
            }
            None if !which.is_empty() && !no_identity_reported => {
                no_identity_reported = true;
                ctx.diags.push(
                    Diagnostic::error(None, "secret check needs an identity to try decrypting, and none was found")
                        .with_help(crate::secrets::store::NO_IDENTITY_HELP),
                );
            }
            None => {}
        }
        if ctx.diags.error_count() == before {
            ctx.ui.note(&format!(
                "{}: {name} ({})",
                ctx.ui.paint("32", "ok"),
                crate::ui::count(es.sources.secrets.len(), "secret")
            ));
        }
    }
    if ctx.diags.has_errors() { Status::Failed } else { Status::Ok }
}
