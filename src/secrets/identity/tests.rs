//! Unit tests of `crate::secrets::identity`.

use super::*;
use std::collections::HashMap;

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |k| map.get(k).cloned()
}

fn origins(sources: &[IdentitySource]) -> Vec<(String, &'static str)> {
    sources.iter().map(|s| (s.path.display().to_string(), s.origin.as_str())).collect()
}

#[test]
fn search_order_first_found_wins() {
    let home = tempfile::tempdir().unwrap();
    let default = home.path().join(".config/nlconf/identity.txt");
    let all = env(&[("NLCONF_AGE_IDENTITY", "/keys/nlconf.txt"), ("SOPS_AGE_KEY_FILE", "/keys/sops.txt")]);
    let cli = vec![PathBuf::from("a.txt"), PathBuf::from("b.key")];
    assert_eq!(
        origins(&identity_search_order(&cli, &all, Some(home.path()))),
        vec![("a.txt".to_owned(), "--identity"), ("b.key".to_owned(), "--identity")]
    );
    assert_eq!(
        origins(&identity_search_order(&[], &all, Some(home.path()))),
        vec![("/keys/nlconf.txt".to_owned(), "NLCONF_AGE_IDENTITY")]
    );
    let sops = env(&[("NLCONF_AGE_IDENTITY", ""), ("SOPS_AGE_KEY_FILE", "/keys/sops.txt")]);
    assert_eq!(
        origins(&identity_search_order(&[], &sops, Some(home.path()))),
        vec![("/keys/sops.txt".to_owned(), "SOPS_AGE_KEY_FILE")]
    );
    let none = env(&[]);
    // The home default only counts when it exists.
    assert!(identity_search_order(&[], &none, Some(home.path())).is_empty());
    assert!(identity_search_order(&[], &none, None).is_empty());
    std::fs::create_dir_all(default.parent().unwrap()).unwrap();
    std::fs::write(&default, "# empty\n").unwrap();
    assert_eq!(
        identity_search_order(&[], &none, Some(home.path())),
        vec![IdentitySource { path: default, origin: IdentityOrigin::HomeDefault }]
    );
}

#[test]
fn a_named_source_that_does_not_exist_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.txt");
    let sources = identity_search_order(&[], &env(&[("NLCONF_AGE_IDENTITY", missing.to_str().unwrap())]), None);
    let e = Identities::load_sources(&sources).unwrap_err();
    assert_eq!(e.kind, IdentityErrorKind::NotFound(IdentityOrigin::NlconfEnv));
    assert_eq!(
        e.to_string(),
        format!(
            "{}: no such identity file (named by NLCONF_AGE_IDENTITY): fix or unset \
             NLCONF_AGE_IDENTITY",
            missing.display()
        )
    );
    let e = Identities::load(std::slice::from_ref(&missing)).unwrap_err();
    assert!(e.to_string().ends_with("(named by --identity): fix the --identity argument"));
}

#[test]
fn loads_age_identity_files_with_comments() {
    let dir = tempfile::tempdir().unwrap();
    let a = age::x25519::Identity::generate();
    let b = age::x25519::Identity::generate();
    let text = format!(
        "# created: 2024-05-01T10:00:00Z\n# public key: {}\n{}\r\n\n# second\n{}\n",
        a.to_public(),
        age::secrecy::ExposeSecret::expose_secret(&a.to_string()),
        age::secrecy::ExposeSecret::expose_secret(&b.to_string()),
    );
    let path = dir.path().join("identity.txt");
    std::fs::write(&path, text).unwrap();
    let ids = Identities::load(std::slice::from_ref(&path)).unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids.files(), &[path]);
    assert_eq!(format!("{ids:?}"), format!("Identities {{ keys: 2, files: [{:?}] }}", ids.files()[0]));
}

fn load_text(text: &[u8]) -> IdentityError {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.txt");
    std::fs::write(&path, text).unwrap();
    let e = Identities::load(std::slice::from_ref(&path)).unwrap_err();
    assert_eq!(e.path, path);
    assert!(e.to_string().starts_with(&path.display().to_string()));
    e
}

#[test]
fn bad_identity_files_name_the_file_and_line() {
    let secret = age::x25519::Identity::generate();
    let secret = age::secrecy::ExposeSecret::expose_secret(&secret.to_string()).to_owned();

    let e = load_text(format!("# ok\n{secret}\nnot a key at all\n").as_bytes());
    assert_eq!((e.line, &e.kind), (Some(3), &IdentityErrorKind::NotAnIdentity));
    assert!(e.to_string().contains(":3: not an age identity: expected AGE-SECRET-KEY-1..."));

    // A truncated secret key: the error names the line and does not echo it.
    let e = load_text(format!("\n{}\n", &secret[..40]).as_bytes());
    assert_eq!((e.line, &e.kind), (Some(2), &IdentityErrorKind::NotAnIdentity));
    assert!(!e.to_string().contains(&secret[16..40]));

    let recipient = age::x25519::Identity::generate().to_public().to_string();
    let e = load_text(format!("# public\n{recipient}\n").as_bytes());
    assert_eq!((e.line, &e.kind), (Some(2), &IdentityErrorKind::PublicKey));

    let e = load_text(format!("{}\n", super::super::tests::SSH_ED25519_PUB).as_bytes());
    assert_eq!((e.line, &e.kind), (Some(1), &IdentityErrorKind::PublicKey));
    assert!(e.to_string().contains("this is a public key (a recipient), not an identity"));

    let e = load_text(b"AGE-PLUGIN-YUBIKEY-1QQQQQQQQQQQQQQQQQQQQQQ\n");
    assert_eq!((e.line, &e.kind), (Some(1), &IdentityErrorKind::Plugin));

    let e = load_text(b"# nothing here\n\n");
    assert_eq!((e.line, &e.kind), (None, &IdentityErrorKind::Empty));
    assert!(e.to_string().ends_with(
        ": the file holds no identity: create one with `age-keygen -o FILE` or pass an SSH \
         private key"
    ));

    let e = load_text(&[0xff, 0xfe, 0x00, 0x01]);
    assert_eq!((e.line, &e.kind), (None, &IdentityErrorKind::NotAnIdentity));

    let e = load_text(b"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n");
    assert_eq!(e.kind, IdentityErrorKind::UnsupportedPrivateKey);

    let e = load_text(b"-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage\n-----END OPENSSH PRIVATE KEY-----\n");
    assert_eq!(e.kind, IdentityErrorKind::UnsupportedPrivateKey);
}

#[test]
fn an_unreadable_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    // A directory is no identity file, whoever runs the test (root included): said before reading.
    let e = Identities::load(&[dir.path().to_path_buf()]).unwrap_err();
    assert!(matches!(e.kind, IdentityErrorKind::NotAFile(_)));
    assert!(
        e.to_string()
            .starts_with(&format!("{}: is a folder, not a file: pass the identity file", dir.path().display()))
    );
}

#[test]
fn passphrase_protected_ssh_keys_are_refused_clearly() {
    let Some(dir) = super::super::tests::ssh_keygen("ed25519", "correct horse") else {
        return;
    };
    let key = dir.path().join("id");
    let e = Identities::load(std::slice::from_ref(&key)).unwrap_err();
    assert_eq!(e.kind, IdentityErrorKind::Passphrase);
    assert_eq!(
        e.to_string(),
        format!(
            "{}: the SSH key is protected by a passphrase; nlconf cannot prompt here: decrypt \
             a copy (ssh-keygen -p) or use an age identity",
            key.display()
        )
    );
}

#[test]
fn unsupported_ssh_key_types_are_named() {
    let Some(dir) = super::super::tests::ssh_keygen("ecdsa", "") else {
        return;
    };
    let e = Identities::load(&[dir.path().join("id")]).unwrap_err();
    assert_eq!(e.kind, IdentityErrorKind::UnsupportedSshKey("ecdsa-sha2-nistp256".to_owned()));
    assert!(
        e.to_string()
            .ends_with(": SSH key type `ecdsa-sha2-nistp256` is not supported by age: use an ssh-ed25519 or ssh-rsa key, or an age identity (age-keygen)")
    );
}
