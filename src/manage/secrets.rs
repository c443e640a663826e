//! The `secret` operations on an environment's YAML files (DESIGN §4): set a value in place,
//! rekey where the recipients changed, check that every secret decrypts and is bound to its place.
//! Files are edited byte for byte around the value (`support::yamledit`) and checked by parsing
//! them back.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Diagnostics, Location, Staged, Warned};
use crate::env::{self, SecretSlot, Sources, Strictness, quote_path_key};
use crate::repo::Repository;
use crate::secrets::{Binding, BindingStatus, Ciphertext, Identities, RecipientSet, SecretId, SecretValue, encrypt};
use crate::support::fs::InputError;
use crate::support::yaml::{self, Tag};
use crate::support::yamledit;

/// What `set` wrote.
pub struct SetOutcome {
    /// The YAML path as written (keys quoted where needed).
    pub path: String,
    pub recipients: usize,
    /// The file it was written to, as shown.
    pub file: PathBuf,
}

/// The keys of a YAML path given on the command line, and its canonical spelling.
fn canonical_path(path: &str) -> Result<(Vec<String>, String), Diagnostic> {
    let keys = yamledit::parse_path(path).map_err(|e| Diagnostic::error(None, format!("YAMLPATH {e}")))?;
    let canonical = keys.iter().map(|k| quote_path_key(k)).collect::<Vec<_>>().join(".");
    Ok((keys, canonical))
}

/// Where `secret set` writes: checked before the value is asked for.
pub struct SetTarget {
    env: String,
    keys: Vec<String>,
    canonical: String,
    sources: Sources,
    recipients: RecipientSet,
    index: usize,
}

impl SetTarget {
    pub fn new(repo: &Repository, env_name: &str, path: &str) -> Staged<SetTarget> {
        let (keys, canonical) = canonical_path(path)?;
        let Warned { value: sources, warnings } = env::read_sources(repo, env_name)?;
        let recipients = env::load_recipients(repo, env_name)?;
        let index = choose_file(&sources, &keys).ok_or_else(|| {
            Diagnostic::error(None, format!("environment `{env_name}` has no file of its own to write to"))
        })?;
        warnings.finish(SetTarget { env: env_name.to_string(), keys, canonical, sources, recipients, index })
    }

    /// The YAML path as written (keys quoted where needed).
    pub fn path(&self) -> &str {
        &self.canonical
    }

    /// Encrypts `value` to the environment's recipients, bound to its place, and writes it.
    pub fn set(self, value: SecretValue) -> Result<SetOutcome, Diagnostic> {
        let SetTarget { env, keys, canonical, sources, recipients, index } = self;
        let ct = encrypt(&value, &recipients, Binding::new(&env, &canonical, &recipients))
            .map_err(|e| Diagnostic::error(None, format!("cannot encrypt: {e}")))?;
        drop(value);
        let file = &sources.files[index];
        let new_text = edit(&file.text, &keys, &ct.to_text()).map_err(|e| {
            let message = format!("cannot set {canonical}: {}", e.message);
            match e.at {
                Some((line, col)) => Diagnostic::at(Location::new(&file.display, line, col), message),
                None => Diagnostic::in_file(&file.display, message),
            }
        })?;
        write_keeping_mode(&sources.paths[index], &new_text)
            .map_err(|e| Diagnostic::in_file(&file.display, format!("cannot write: {}", yaml::io_reason(&e))))?;
        Ok(SetOutcome { path: canonical, recipients: recipients.len(), file: file.display.clone() })
    }
}

/// The largest secret `secret set` reads (1 MB), from stdin or `--from-file`: a private key is a few KB.
pub const MAX_SECRET_BYTES: u64 = 1024 * 1024;
const SECRET_LIMIT: usize = MAX_SECRET_BYTES as usize;

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
pub fn read_value(from_file: Option<&Path>, path: &str) -> Result<SecretValue, Diagnostic> {
    let bytes = match from_file {
        Some(f) => {
            // Opened as a regular file only (a FIFO would hang, /dev/zero never end), read by
            // read_secret into a buffer that is wiped.
            let (mut file, _) = crate::support::fs::open_input(f, MAX_SECRET_BYTES, None).map_err(|e| match e {
                InputError::TooLarge { .. } => Diagnostic::in_file(
                    f,
                    "cannot read the value: the value is larger than 1 MB: not a secret nlconf holds",
                ),
                InputError::NotFound => Diagnostic::in_file(f, "cannot read the value: No such file or directory"),
                InputError::Unreadable(e) => {
                    Diagnostic::in_file(f, format!("cannot read the value: {}", yaml::io_reason(&e)))
                }
                e => Diagnostic::in_file(f, format!("cannot read the value: the file {}", e.reason())),
            })?;
            read_secret(&mut file)
                .map_err(|e| Diagnostic::in_file(f, format!("cannot read the value: {}", yaml::io_reason(&e))))?
        }
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

/// The file's text with the ciphertext at `keys`, checked by parsing it back.
fn edit(text: &str, keys: &[String], wanted: &str) -> Result<String, yamledit::EditError> {
    let new_text = yamledit::set_age_block(text, keys, wanted)?;
    landed(&new_text, &[(keys, wanted)])?;
    Ok(new_text)
}

/// A secret to rekey, why, and its path's keys and new ciphertext (or why there are none).
type Encrypted = (SecretId, &'static str, Result<(Vec<String>, String), String>);

/// Every secret of `encrypted` set in `text` at once, or `Err` when one of them cannot be (its
/// path, its encryption, or its place in the file): then they are set one at a time, which says why.
fn edit_all(text: &str, encrypted: &[Encrypted]) -> Result<String, ()> {
    let mut edits = Vec::with_capacity(encrypted.len());
    for (_, _, result) in encrypted {
        let (keys, ct) = result.as_ref().map_err(|_| ())?;
        edits.push((keys.as_slice(), ct.as_str()));
    }
    let new_text = yamledit::replace_age_blocks(text, &edits).ok().flatten().ok_or(())?;
    landed(&new_text, &edits).map_err(|_| ())?;
    Ok(new_text)
}

/// Checks of nlconf's own edit, reading the edited text once: each path holds its `!age` block. A
/// failure is a bug, and names no place in the user's file.
fn landed(new_text: &str, edits: &[(&[String], &str)]) -> Result<(), yamledit::EditError> {
    let bug = |message: String| yamledit::EditError { at: None, message };
    let (root, _) =
        yaml::parse(new_text, Path::new("-")).map_err(|d| bug(format!("the edit would break the file ({d})")))?;
    for (keys, wanted) in edits {
        let mut node = &root;
        for k in keys.iter() {
            node = node.get(k).ok_or_else(|| bug("the edit did not land where expected".into()))?;
        }
        if node.tag != Tag::Age || node.as_str() != Some(wanted) {
            return Err(bug("the edit did not produce the expected value".into()));
        }
    }
    Ok(())
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

/// An environment's secrets, each ciphertext parsed, and its recipients.
pub struct EnvSecrets {
    pub name: String,
    pub sources: Sources,
    pub recipients: RecipientSet,
    /// Ciphertexts that cannot be parsed: reported, while the other secrets are still worked on.
    pub findings: Diagnostics,
}

impl EnvSecrets {
    pub fn load(repo: &Repository, name: &str) -> Staged<EnvSecrets> {
        let Warned { value: mut sources, warnings: mut diags } = env::read_sources(repo, name)?;
        let recipients = match env::load_recipients(repo, name) {
            Ok(r) => r,
            Err(d) => {
                diags.extend(d);
                return Err(diags);
            }
        };
        let mut findings = std::mem::take(&mut sources.findings);
        for slot in &mut sources.secrets {
            match Ciphertext::parse(&slot.text) {
                Ok(ct) => slot.ciphertext = Some(ct),
                Err(e) => findings
                    .push(Diagnostic::at(env::secret_line(slot, e.line), format!("{}: {}", slot.yaml_path, e.message))),
            }
        }
        diags.finish(EnvSecrets { name: name.to_string(), sources, recipients, findings })
    }

    /// A ciphertext bound to another place is refused.
    fn moved(&self, slot: &SecretSlot, ct: &Ciphertext) -> Option<Diagnostic> {
        env::binding_finding(&self.name, slot, ct, None, Strictness::Check).filter(Diagnostic::is_error)
    }

    /// The secrets to re-encrypt, and why; what is wrong with the others is in `findings`.
    pub fn rekey_plan(&self) -> RekeyPlan {
        let mut plan = RekeyPlan::default();
        for (i, slot) in self.sources.secrets.iter().enumerate() {
            let Some(ct) = &slot.ciphertext else { continue };
            if let Some(d) = self.moved(slot, ct) {
                plan.findings.push(d);
                continue;
            }
            if let Some(reason) = rekey_reason(ct, &self.recipients) {
                plan.todo.push((SecretId::new(i), reason));
            }
        }
        plan
    }

    /// How a planned secret reads in a report: `<env> <path> (<file:line:col>): <reason>`.
    pub fn describe(&self, id: SecretId, reason: &str) -> String {
        match self.sources.secrets.get(id.index()) {
            Some(slot) => format!("{} {} ({}): {reason}", self.name, slot.yaml_path, slot.origin),
            None => String::new(),
        }
    }

    /// Re-encrypts the planned secrets, editing each file once: a line per secret done, and why any
    /// other was not. A file with a secret that cannot be rekeyed is left as it is; the others are
    /// written.
    pub fn rekey(&self, plan: &RekeyPlan, ids: &Identities) -> (Vec<String>, Diagnostics) {
        let which: Vec<SecretId> = plan.todo.iter().map(|(id, _)| *id).collect();
        let values = match env::decrypt_slots(&self.sources.secrets, &which, ids) {
            Ok(v) => v,
            Err(d) => return (Vec::new(), d),
        };
        let mut edits: BTreeMap<usize, Vec<(SecretId, &'static str)>> = BTreeMap::new();
        for &(id, reason) in &plan.todo {
            let Some(slot) = self.sources.secrets.get(id.index()) else { continue };
            let Some(fi) =
                self.sources.files.iter().position(|f| f.display.to_string_lossy() == slot.origin.file.as_ref())
            else {
                continue;
            };
            edits.entry(fi).or_default().push((id, reason));
        }
        let mut diags = Diagnostics::new();
        let mut lines = Vec::new();
        for (fi, list) in edits {
            let file = &self.sources.files[fi];
            let mut done = Vec::new();
            let mut failed = Diagnostics::new();
            // Each secret encrypted anew, then every one set in one reading of the file.
            let encrypted: Vec<Encrypted> = list
                .iter()
                .filter_map(|&(id, reason)| {
                    let slot = &self.sources.secrets[id.index()];
                    let value = values.get(id)?;
                    let result = yamledit::parse_path(&slot.yaml_path)
                        .map_err(|e| format!("{e} (secrets inside lists cannot be rekeyed)"))
                        .and_then(|keys| {
                            let binding = Binding::new(&self.name, &slot.yaml_path, &self.recipients);
                            let ct = encrypt(value, &self.recipients, binding).map_err(|e| e.to_string())?;
                            Ok((keys, ct.to_text()))
                        });
                    Some((id, reason, result))
                })
                .collect();
            let text = match edit_all(&file.text, &encrypted) {
                Ok(text) => {
                    done.extend(
                        encrypted.iter().map(|&(id, reason, _)| format!("rekeyed {}", self.describe(id, reason))),
                    );
                    text
                }
                // One at a time, to say which secret cannot be rekeyed and why.
                Err(()) => {
                    let mut text = file.text.clone();
                    for (id, reason, result) in &encrypted {
                        let slot = &self.sources.secrets[id.index()];
                        match result.clone().and_then(|(keys, ct)| edit(&text, &keys, &ct).map_err(|e| e.message)) {
                            Ok(t) => {
                                text = t;
                                done.push(format!("rekeyed {}", self.describe(*id, reason)));
                            }
                            Err(e) => failed.push(Diagnostic::at(
                                slot.origin.location(),
                                format!("{}: cannot rekey: {e}", slot.yaml_path),
                            )),
                        }
                    }
                    text
                }
            };
            if failed.has_errors() {
                diags.extend(failed);
                continue;
            }
            if let Err(e) = write_keeping_mode(&self.sources.paths[fi], &text) {
                diags.push(Diagnostic::in_file(&file.display, format!("cannot write: {}", yaml::io_reason(&e))));
                continue;
            }
            lines.extend(done);
        }
        (lines, diags)
    }

    /// Every secret decrypts (when an identity is at hand), is bound to its place and encrypted to
    /// exactly the current recipients.
    pub fn check(&self, ids: Option<&Identities>) -> Staged<Checked> {
        let mut diags = Diagnostics::new();
        let mut which = Vec::new();
        let name = &self.name;
        for (i, slot) in self.sources.secrets.iter().enumerate() {
            let Some(ct) = &slot.ciphertext else { continue };
            if let Some(d) = self.moved(slot, ct) {
                diags.push(d);
                continue;
            }
            if let Some(d) = env::binding_finding(name, slot, ct, Some(&self.recipients), Strictness::Check) {
                diags.push(d);
            }
            // A ciphertext copied from another place is not decrypted.
            if matches!(ct.check_binding(name, &slot.yaml_path), BindingStatus::Moved { .. }) {
                continue;
            }
            which.push(SecretId::new(i));
        }
        let checked = match ids {
            Some(ids) => match env::decrypt_slots(&self.sources.secrets, &which, ids) {
                Ok(store) => Checked { needs_identity: false, store: Some(store) },
                Err(d) => {
                    diags.extend(d);
                    Checked { needs_identity: false, store: None }
                }
            },
            None => Checked { needs_identity: !which.is_empty(), store: None },
        };
        diags.finish(checked)
    }
}

/// What `check` found besides its diagnostics.
pub struct Checked {
    /// Some secret could be decrypted with a key, and none was at hand.
    pub needs_identity: bool,
    /// The values decrypted (the environment's `SecretId`s: the same slots, in the same order),
    /// for the checks that need the plaintexts.
    pub store: Option<crate::secrets::SecretStore>,
}

/// What `rekey` would do.
#[derive(Default)]
pub struct RekeyPlan {
    pub todo: Vec<(SecretId, &'static str)>,
    /// Secrets that cannot be rekeyed (copied from another place).
    pub findings: Diagnostics,
}
