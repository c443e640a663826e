//! Unit tests of `crate::init`: which public key a new repository's recipients get, and writing
//! all files or none.

use std::path::{Path, PathBuf};

use super::key::{self, PublicKey};
use super::*;
use crate::secrets::RecipientSet;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/integration/fixtures");
const DEMO_KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/demo/keys");
/// The public key of `prod-identity.agekey` (its `prod-recipients`).
const PROD_RECIPIENT: &str = "age139emnvmhlskkhc7yrwfag6t8guwnhsw9v4mxayzssnd7lf8r63lqfzp6k8";
/// age's own test key.
const SSH_ED25519_PUB: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN";

fn home_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let path = home.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    home
}

fn found(cli: &[PathBuf], env: &[(&str, String)], home: &Path) -> key::Found {
    let getenv = |k: &str| env.iter().find(|(name, _)| *name == k).map(|(_, v)| v.clone());
    key::find(cli, &getenv, Some(home))
}

fn lines(f: &key::Found) -> Vec<&str> {
    f.keys.iter().map(|k| k.line.as_str()).collect()
}

#[test]
fn the_age_identity_nlconf_would_use_gives_its_public_key() {
    let identity = std::fs::read_to_string(format!("{FIXTURES}/prod-identity.agekey")).unwrap();
    let home = home_with(&[(".config/nlconf/identity.txt", &identity), (".ssh/id_ed25519.pub", SSH_ED25519_PUB)]);
    let f = found(&[], &[], home.path());
    assert_eq!(lines(&f), [PROD_RECIPIENT], "the identity wins over ~/.ssh/id_ed25519.pub");
    assert_eq!(f.keys[0].from, "~/.config/nlconf/identity.txt");
    // --identity and NLCONF_AGE_IDENTITY come first, as when decrypting.
    let other = format!("{FIXTURES}/other-identity.agekey");
    let f = found(&[PathBuf::from(&other)], &[], home.path());
    assert_ne!(lines(&f), [PROD_RECIPIENT]);
    assert_eq!(f.keys[0].from, other);
    let f = found(&[], &[("NLCONF_AGE_IDENTITY", other.clone())], home.path());
    assert_eq!(f.keys[0].from, other);
}

#[test]
fn an_ssh_private_key_gives_the_public_key_beside_it() {
    let private = format!("{DEMO_KEYS}/demo-ONLY-bob-ed25519");
    let public = std::fs::read_to_string(format!("{private}.pub")).unwrap();
    let home = home_with(&[]);
    let f = found(&[], &[("SOPS_AGE_KEY_FILE", private.clone())], home.path());
    assert_eq!(lines(&f), [public.trim()]);
}

#[test]
fn without_an_identity_the_ssh_ed25519_public_key_is_used() {
    let home = home_with(&[(".ssh/id_ed25519.pub", &format!("{SSH_ED25519_PUB} me@laptop\n"))]);
    let f = found(&[], &[], home.path());
    assert_eq!(lines(&f), [format!("{SSH_ED25519_PUB} me@laptop")]);
    assert_eq!(f.keys[0].from, "~/.ssh/id_ed25519.pub");
}

#[test]
fn an_unusable_identity_is_skipped_with_the_reason() {
    let home = home_with(&[(".ssh/id_ed25519.pub", "not a key\n")]);
    let f = found(&[], &[("NLCONF_AGE_IDENTITY", "/nonexistent/key.txt".into())], home.path());
    assert!(f.keys.is_empty());
    assert_eq!(f.skipped.len(), 1, "{:?}", f.skipped);
    assert!(f.skipped[0].starts_with("/nonexistent/key.txt: "), "{:?}", f.skipped);
}

#[test]
fn recipients_hold_the_keys_or_say_how_to_add_one() {
    let keys = vec![PublicKey { line: PROD_RECIPIENT.into(), from: "~/.config/nlconf/identity.txt".into() }];
    let set = RecipientSet::parse(&recipients(&keys)).unwrap();
    assert_eq!(set.len(), 1);
    let none = recipients(&[]);
    assert!(none.lines().all(|l| l.is_empty() || l.starts_with('#')), "{none}");
    assert!(none.contains("age-keygen -o ~/.config/nlconf/identity.txt"));
}

#[test]
fn a_taken_path_writes_nothing_and_names_each() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    std::fs::create_dir_all(root.join("environments/dev")).unwrap();
    std::fs::write(root.join(".gitignore"), "target/\n").unwrap();
    std::fs::write(root.join("environments/dev/recipients"), "").unwrap();
    let repo = NewRepository::new(&root, Vec::new());
    let errors = repo.write().unwrap_err();
    let text: Vec<String> = errors.sorted().iter().map(|d| d.to_string()).collect();
    assert_eq!(text.len(), 2, "{text:?}");
    assert!(text.iter().any(|t| t.contains(".gitignore: error: already exists")), "{text:?}");
    assert!(text.iter().any(|t| t.contains("environments/dev/recipients: error: already exists")), "{text:?}");
    assert!(!root.join("environments/defaults.yaml").exists());
    assert_eq!(std::fs::read_to_string(root.join(".gitignore")).unwrap(), "target/\n");
}

#[test]
fn a_failed_write_removes_what_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    let mut repo = NewRepository::new(&root, Vec::new());
    // `.gitignore` is then both a folder (made first) and a file: writing the file fails.
    repo.files.insert(1, NewFile { path: ".gitignore/x".into(), text: String::new() });
    assert!(repo.write().is_err());
    assert!(!root.exists(), "the folder this run created is removed too");
}
