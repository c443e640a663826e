//! Round trips, failure modes, leak checks and interoperability with the `age` and
//! `ssh-keygen` programs (skipped, with a notice, where they are not installed).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use base64::prelude::BASE64_STANDARD;

use super::*;

/// age's own test keys (2048-bit RSA).
pub(super) const SSH_ED25519_PUB: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN";
pub(super) const RSA_PUB: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDE7nIXTGNuaRBN9toI/wNALuQec8mvlt0iJ7o3OaD2UvoKHJ7S8rmIn4FiQDUed/Vac3OhUibei1k+TBmm16u2Rj3klgWZOIDgi8d4vXKI5N3YBhxr3jsQ+kz1c+iZ4z/tTtz306+4K46XViVMWwyyg9j82Jn41mOAy9vdeDIfQ5fLeaGqn5KwlT61GNkZ+ozWK/ZNlQIlNCcoXxhJULIs9XrtczWyVBAea1nlDo0WHODePxoJjmsNHrpQXn5mf9O83xs10qfTUjnRUt48jRmedFy4tcra3QGmSTQ3KZne+wXXSb0cIpXLGvZjQSPHgG1hc4r3uBpiSzvesGLv79XL";
pub(super) const RSA_1024_PUB: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC9+AQUGLWHuJnHno6AtHETuuzuOa4Pj4zhMue8lqwifuORUxokQG7qeUwmjOUp92TYLWHX2tNfvhNFSCA7yU/ZH/jWoqNHqhikZU1aqiBOvnwS0zGHY8CHuwuzDhM0M4P6qpPcuu5339Y8AbeyJ/HOKg+x5fEmhUHqTEpZCHniSw== old-key";

const PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDE7nIXTGNuaRBN\n\
9toI/wNALuQec8mvlt0iJ7o3OaD2UvoKHJ7S8rmIn4FiQDUed/Vac3OhUibei1k+\n\
TBmm16u2Rj3klgWZOIDgi8d4vXKI5N3YBhxr3jsQ+kz1c+iZ4z/tTtz306+4K46X\n\
-----END PRIVATE KEY-----\n";

/// Values that break naive quoting in shells, XML and YAML.
fn tricky_values() -> Vec<String> {
    vec![
        "s3cr3t".to_owned(),
        "p@ss \"quoted\" 'single' $HOME ${X} $(whoami) `id`; rm -rf / & <tag attr=\"v\"> &amp;".to_owned(),
        "line one\nline two\r\nline three\n".to_owned(),
        "  leading and trailing spaces  ".to_owned(),
        "clé, 秘密, emoji 🔑".to_owned(),
        PEM.to_owned(),
        String::new(),
        "x".repeat(70_000), // more than one 64 KiB age chunk
    ]
}

/// A real armored age file, encrypted to a throwaway key.
pub(super) fn armored_for_test() -> String {
    let id = age::x25519::Identity::generate();
    let set = RecipientSet::parse(&id.to_public().to_string()).unwrap();
    let value = SecretValue::new("a value of some thirty bytes!!".to_owned());
    encrypt(&value, &set, Binding::new("dev", "a.b", &set)).unwrap().armor
}

/// True when `program` runs; otherwise prints why the calling test is skipped.
fn have(program: &str) -> bool {
    let found = Command::new(program).arg("--help").output().is_ok();
    if !found {
        println!("skipped: `{program}` is not installed (apt-get install age openssh-client)");
    }
    found
}

/// A fresh SSH key pair `id`/`id.pub` in a temporary folder, or None (with a notice) when
/// ssh-keygen is missing.
pub(super) fn ssh_keygen(kind: &str, passphrase: &str) -> Option<tempfile::TempDir> {
    if !have("ssh-keygen") {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", passphrase, "-C", "ops@example.com", "-f"])
        .arg(dir.path().join("id"))
        .status()
        .unwrap();
    assert!(status.success());
    Some(dir)
}

/// An age identity file in `dir`, and its recipient line.
fn age_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let id = age::x25519::Identity::generate();
    let path = dir.join(name);
    let text = format!(
        "# created: 2024-05-01T10:00:00Z\n# public key: {}\n{}\n",
        id.to_public(),
        age::secrecy::ExposeSecret::expose_secret(&id.to_string())
    );
    std::fs::write(&path, text).unwrap();
    (path, id.to_public().to_string())
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// Re-armors modified age bytes the way `age -a` would.
fn rearmor(bytes: &[u8]) -> String {
    let b64 = BASE64_STANDARD.encode(bytes);
    let mut out = String::from("-----BEGIN AGE ENCRYPTED FILE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str("-----END AGE ENCRYPTED FILE-----\n");
    out
}

fn age_bytes(ct: &Ciphertext) -> Vec<u8> {
    ct.age_file().unwrap()
}

#[test]
fn round_trip_x25519_with_tricky_values() {
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = age_key(dir.path(), "key.txt");
    let set = RecipientSet::parse(&format!("# ops\n{recipient}\n")).unwrap();
    let ids = Identities::load(&[key]).unwrap();
    for value in tricky_values() {
        let ct = encrypt(
            &SecretValue::new(value.clone()),
            &set,
            Binding::new("prod", "instances.mkt_prod.ims.clientSecret", &set),
        )
        .unwrap();
        // Through the stored text, as the YAML holds it.
        let text = ct.to_text();
        assert!(text.starts_with(&format!(
            "nlconf:v1 env=prod path=instances.mkt_prod.ims.clientSecret recipients={}\n\
             -----BEGIN AGE ENCRYPTED FILE-----\n",
            set.digest()
        )));
        assert!(text.ends_with("-----END AGE ENCRYPTED FILE-----\n"));
        assert!(text.lines().all(|l| l.len() <= 64 || l.starts_with("nlconf:v1")));
        let back = Ciphertext::parse(&text).unwrap();
        assert_eq!(back, ct);
        assert_eq!(decrypt(&back, &ids).unwrap().expose(), value);
        if !value.is_empty() && value.len() < 1000 {
            assert!(!text.contains(&value));
        }
    }
}

#[test]
fn round_trip_ssh_ed25519_and_rsa() {
    for kind in ["ed25519", "rsa"] {
        let Some(dir) = ssh_keygen(kind, "") else {
            return;
        };
        let set = RecipientSet::parse(&read(&dir.path().join("id.pub"))).unwrap();
        let expected = if kind == "rsa" { RecipientKind::SshRsa } else { RecipientKind::SshEd25519 };
        assert_eq!(set.entries()[0].kind(), expected);
        let ids = Identities::load(&[dir.path().join("id")]).unwrap();
        for value in ["s3cr3t \"$x\" & <y>;\n", PEM] {
            let ct = encrypt(
                &SecretValue::new(value.to_owned()),
                &set,
                Binding::new("stage", "instances.mkt_stage.ims.privateKey", &set),
            )
            .unwrap();
            let back = Ciphertext::parse(&ct.to_text()).unwrap();
            assert_eq!(decrypt(&back, &ids).unwrap().expose(), value, "{kind}");
        }
    }
}

#[test]
fn each_recipient_of_a_mixed_set_can_decrypt() {
    let Some(ssh) = ssh_keygen("ed25519", "") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (alice, alice_pub) = age_key(dir.path(), "alice.txt");
    let (bob, bob_pub) = age_key(dir.path(), "bob.txt");
    let text = format!("# prod readers\n{alice_pub}\n{}\n# bob\n{bob_pub}\n", read(&ssh.path().join("id.pub")).trim());
    let set = RecipientSet::parse(&text).unwrap();
    let ct = encrypt(&SecretValue::new("shared".to_owned()), &set, Binding::new("prod", "x", &set)).unwrap();
    for key in [alice, bob, ssh.path().join("id")] {
        let ids = Identities::load(&[key]).unwrap();
        assert_eq!(decrypt(&ct, &ids).unwrap().expose(), "shared");
    }
}

#[test]
fn no_matching_identity_says_whom_the_file_is_for() {
    let Some(ssh) = ssh_keygen("ed25519", "") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_, alice_pub) = age_key(dir.path(), "alice.txt");
    let (mallory, _) = age_key(dir.path(), "mallory.txt");
    let set = RecipientSet::parse(&format!("{alice_pub}\n{}", read(&ssh.path().join("id.pub")))).unwrap();
    let tag = set.entries()[1].ssh_tag().unwrap();
    let value = "do-not-leak-7f3a";
    let ct = encrypt(
        &SecretValue::new(value.to_owned()),
        &set,
        Binding::new("prod", "instances.mkt.ims.clientSecret", &set),
    )
    .unwrap();
    let ids = Identities::load(&[mallory]).unwrap();
    let err = decrypt(&ct, &ids).unwrap_err();
    let expected = format!(
        "it is encrypted to 1 X25519 recipient (age does not reveal which keys), the \
         ssh-ed25519 key with tag {tag}; its header says recipient set {} (env prod, \
         instances.mkt.ims.clientSecret)",
        set.digest()
    );
    assert_eq!(err, DecryptError::NoMatchingIdentity { stanzas: expected.clone() });
    assert_eq!(
        err.to_string(),
        format!(
            "no loaded identity can decrypt this secret: {expected}; pass a matching key with \
             --identity FILE (or NLCONF_AGE_IDENTITY)"
        )
    );
    // Without a header, and without any identity.
    let unbound = Ciphertext { binding: None, armor: ct.armor.clone() };
    let err = decrypt(&unbound, &Identities::none()).unwrap_err();
    assert!(err.to_string().contains(&format!("key with tag {tag}; pass")));
}

#[test]
fn passphrase_files_are_explained() {
    let mut recipient = age::scrypt::Recipient::new("pw".to_owned().into());
    recipient.set_work_factor(2);
    let encryptor = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor).unwrap();
    let mut w = encryptor.wrap_output(armor).unwrap();
    w.write_all(b"v").unwrap();
    w.finish().unwrap().finish().unwrap();
    let ct = Ciphertext::parse(std::str::from_utf8(&out).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = age_key(dir.path(), "k.txt");
    let err = decrypt(&ct, &Identities::load(&[key]).unwrap()).unwrap_err();
    assert_eq!(
        err,
        DecryptError::NoMatchingIdentity {
            stanzas: "it is encrypted to a passphrase (age -p), which nlconf does not use: \
                      re-encrypt it to the recipients"
                .to_owned()
        }
    );
}

/// A value encrypted to `key`'s recipient, with the identities to decrypt it.
fn fixture(value: &str) -> (Ciphertext, Identities, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = age_key(dir.path(), "key.txt");
    let set = RecipientSet::parse(&recipient).unwrap();
    let ct = encrypt(&SecretValue::new(value.to_owned()), &set, Binding::new("prod", "p", &set)).unwrap();
    (ct, Identities::load(&[key]).unwrap(), dir)
}

fn with_bytes(ct: &Ciphertext, bytes: &[u8]) -> Ciphertext {
    Ciphertext { binding: ct.binding.clone(), armor: rearmor(bytes) }
}

#[test]
fn modified_and_truncated_ciphertexts() {
    let value = "corrupt-me-plaintext-91b2";
    let (ct, ids, _dir) = fixture(value);
    let bytes = age_bytes(&ct);
    let header_end = super::armor::AgeHeader::scan(&bytes).unwrap().payload_offset;

    // A flipped payload byte: the chunk fails authentication.
    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    let err = decrypt(&with_bytes(&ct, &flipped), &ids).unwrap_err();
    assert_eq!(
        err,
        DecryptError::Corrupted("the payload failed authentication: the ciphertext was modified or cut".to_owned())
    );
    assert_eq!(
        err.to_string(),
        "the secret cannot be decrypted, authentication failed: the payload failed \
         authentication: the ciphertext was modified or cut; restore it from git or re-encrypt \
         it with `nlconf secret set`"
    );

    // A modified MAC.
    let mut mac = bytes.clone();
    mac[header_end - 5] = if mac[header_end - 5] == b'A' { b'B' } else { b'A' };
    let err = decrypt(&with_bytes(&ct, &mac), &ids).unwrap_err();
    assert_eq!(err, DecryptError::Corrupted("the age header's MAC does not match: the header was modified".to_owned()));

    // A modified X25519 stanza body: X25519 stanzas are anonymous, so age cannot tell a
    // damaged stanza from one meant for someone else.
    let text = String::from_utf8_lossy(&bytes[..header_end]).into_owned();
    let stanza_body = text.lines().nth(2).unwrap();
    let pos = text.find(stanza_body).unwrap();
    let mut stanza = bytes.clone();
    stanza[pos] = if stanza[pos] == b'A' { b'B' } else { b'A' };
    let err = decrypt(&with_bytes(&ct, &stanza), &ids).unwrap_err();
    assert!(matches!(err, DecryptError::NoMatchingIdentity { .. }), "{err:?}");

    // A payload cut to less than one chunk.
    let err = decrypt(&with_bytes(&ct, &bytes[..header_end + 20]), &ids).unwrap_err();
    assert_eq!(err, DecryptError::Truncated);
    assert_eq!(
        err.to_string(),
        "the secret's ciphertext is truncated: restore the whole armor block from git or \
         re-encrypt it with `nlconf secret set`"
    );
    let err = decrypt(&with_bytes(&ct, &bytes[..header_end]), &ids).unwrap_err();
    assert_eq!(err, DecryptError::Truncated);

    // A multi-chunk file cut at a chunk boundary: age reports the missing last chunk.
    let (big, big_ids, _big_dir) = fixture(&"y".repeat(70_000));
    let big_bytes = age_bytes(&big);
    let big_header = super::armor::AgeHeader::scan(&big_bytes).unwrap().payload_offset;
    let one_chunk = big_header + 16 + 64 * 1024 + 16;
    let err = decrypt(&with_bytes(&big, &big_bytes[..one_chunk]), &big_ids).unwrap_err();
    assert_eq!(err, DecryptError::Truncated);

    // An armor field set by hand to something invalid.
    let bad = Ciphertext { binding: None, armor: "not armor".to_owned() };
    let err = decrypt(&bad, &ids).unwrap_err();
    assert!(matches!(&err, DecryptError::Corrupted(m) if m.starts_with("the armor is invalid (line 1: expected")));

    for e in [flipped, mac, stanza] {
        let shown = format!("{:?}", decrypt(&with_bytes(&ct, &e), &ids));
        assert!(!shown.contains(value));
    }
}

#[test]
fn non_utf8_plaintext_is_refused() {
    let id = age::x25519::Identity::generate();
    let recipient = id.to_public();
    let encryptor = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor).unwrap();
    let mut w = encryptor.wrap_output(armor).unwrap();
    w.write_all(&[0x73, 0x33, 0xff, 0xfe]).unwrap();
    w.finish().unwrap().finish().unwrap();
    let ct = Ciphertext::parse(std::str::from_utf8(&out).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.txt");
    std::fs::write(&path, age::secrecy::ExposeSecret::expose_secret(&id.to_string())).unwrap();
    let err = decrypt(&ct, &Identities::load(&[path]).unwrap()).unwrap_err();
    assert_eq!(err, DecryptError::NotUtf8);
    assert_eq!(
        err.to_string(),
        "the decrypted value is not UTF-8 text: nlconf secrets hold text; re-encrypt the value \
         as text with `nlconf secret set`"
    );
}

#[test]
fn encrypt_refuses_a_binding_for_another_set() {
    let a = RecipientSet::parse(&age::x25519::Identity::generate().to_public().to_string()).unwrap();
    let b = RecipientSet::parse(&age::x25519::Identity::generate().to_public().to_string()).unwrap();
    let value = SecretValue::new("v".to_owned());
    let err = encrypt(&value, &a, Binding::new("prod", "x", &b)).unwrap_err();
    assert_eq!(err, EncryptError::BindingMismatch { binding: b.digest(), recipients: a.digest() });
    assert!(err.to_string().ends_with(": make the binding from the same recipients file"));
    let err = encrypt(&value, &a, Binding::new("", "x", &a)).unwrap_err();
    assert_eq!(err.to_string(), "cannot bind the secret to its place: the binding's environment is empty");
    let err = encrypt(&value, &a, Binding::new("prod", "", &a)).unwrap_err();
    assert_eq!(err, EncryptError::InvalidBinding("the binding's YAML path is empty".to_owned()));
}

#[test]
fn no_output_ever_shows_the_plaintext() {
    let value = "Pl41nT3xt-must-never-show";
    let secret = SecretValue::new(value.to_owned());
    let mut shown = vec![format!("{secret:?}"), format!("{secret:#?}")];

    let (ct, ids, _dir) = fixture(value);
    let other = fixture("other").1;
    let bytes = age_bytes(&ct);
    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x55;
    let results = decrypt_all(
        &[("ok", &ct), ("flipped", &with_bytes(&ct, &flipped)), ("cut", &with_bytes(&ct, &bytes[..bytes.len() - 40]))],
        &ids,
    );
    shown.push(format!("{results:?}"));
    for r in results.values() {
        if let Err(e) = r {
            shown.push(e.to_string());
            shown.push(format!("{e:?}"));
        }
    }
    let wrong = decrypt(&ct, &other).unwrap_err();
    shown.push(wrong.to_string());
    shown.push(format!("{wrong:?}"));
    shown.push(format!("{ct:?}"));
    shown.push(format!("{ids:?}"));
    let mut cache = DecryptCache::new();
    cache.decrypt(&ct, &ids).unwrap();
    shown.push(format!("{cache:?}"));

    // A plaintext pasted where a ciphertext belongs.
    let pasted =
        Ciphertext::parse(&format!("nlconf:v1 env=a path=b recipients=0123456789abcdef\n{value}\n")).unwrap_err();
    shown.push(pasted.to_string());
    shown.push(format!("{pasted:?}"));
    let pasted =
        Ciphertext::parse(&format!("-----BEGIN AGE ENCRYPTED FILE-----\n{value}\n-----END AGE ENCRYPTED FILE-----\n"))
            .unwrap_err();
    shown.push(pasted.to_string());
    // Or where a key belongs.
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.txt");
    std::fs::write(&key, format!("{value}\n")).unwrap();
    let e = Identities::load(&[key]).unwrap_err();
    shown.push(e.to_string());
    shown.push(format!("{e:?}"));
    let e =
        SecretValue::from_bytes(format!("{value}\u{0}").into_bytes().into_iter().chain([0xff]).collect()).unwrap_err();
    shown.push(e.to_string());

    for text in &shown {
        assert!(!text.contains(value), "leaked in: {text}");
        assert!(!text.contains("Pl41nT3xt"), "leaked in: {text}");
    }
    assert_eq!(results["ok"].as_ref().unwrap().expose(), value);
}

#[test]
fn decrypt_all_decrypts_each_ciphertext_once() {
    let (a, ids, _dir) = fixture("alpha");
    let set_text = {
        // A second value to the same identity: reuse the identity file's recipient.
        let text = read(&ids.files()[0]);
        text.lines().find_map(|l| l.strip_prefix("# public key: ")).unwrap().to_owned()
    };
    let set = RecipientSet::parse(&set_text).unwrap();
    let b = encrypt(&SecretValue::new("beta".to_owned()), &set, Binding::new("prod", "q", &set)).unwrap();
    // The same armor under another binding is the same ciphertext.
    let a_moved = Ciphertext { binding: Some(Binding::new("stage", "z", &set)), armor: a.armor.clone() };
    let items = [("instances.a.x", &a), ("instances.b.x", &b), ("instances.c.x", &a), ("instances.d.x", &a_moved)];
    let all = decrypt_all(&items, &ids);
    assert_eq!(all.len(), 4);
    assert_eq!(all["instances.a.x"].as_ref().unwrap().expose(), "alpha");
    assert_eq!(all["instances.b.x"].as_ref().unwrap().expose(), "beta");
    assert_eq!(all["instances.c.x"].as_ref().unwrap().expose(), "alpha");
    assert_eq!(all["instances.d.x"].as_ref().unwrap().expose(), "alpha");

    let mut cache = DecryptCache::new();
    cache.prefetch(items.iter().map(|(_, ct)| *ct), &ids);
    assert_eq!(cache.len(), 2);
    assert_eq!(cache.decrypt(&a, &ids).unwrap().expose(), "alpha");
    assert_eq!(cache.len(), 2);

    // Many distinct ciphertexts go through the parallel path, with errors kept per id.
    let many: Vec<Ciphertext> = (0..20)
        .map(|i| {
            encrypt(&SecretValue::new(format!("value-{i}")), &set, Binding::new("prod", &format!("k{i}"), &set))
                .unwrap()
        })
        .collect();
    let ids_text: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
    let items: Vec<(&str, &Ciphertext)> = ids_text.iter().map(String::as_str).zip(many.iter()).collect();
    let all = decrypt_all(&items, &ids);
    for i in 0..20 {
        assert_eq!(all[&format!("k{i}")].as_ref().unwrap().expose(), format!("value-{i}"));
    }
    let none = decrypt_all(&items, &Identities::none());
    assert!(none.values().all(|r| matches!(r, Err(DecryptError::NoMatchingIdentity { .. }))));
}

#[test]
fn interop_age_cli_output_decrypts() {
    if !have("age") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = age_key(dir.path(), "key.txt");
    let recipients = dir.path().join("recipients");
    std::fs::write(&recipients, format!("# by hand\n{recipient}\n")).unwrap();
    for value in tricky_values().into_iter().take(7) {
        let mut child = Command::new("age")
            .args(["-a", "-R"])
            .arg(&recipients)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(value.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let ct = Ciphertext::parse(std::str::from_utf8(&out.stdout).unwrap()).unwrap();
        assert_eq!(ct.binding, None);
        assert_eq!(ct.check_binding("prod", "x"), BindingStatus::Unbound);
        // Canonical form is exactly what age wrote.
        assert_eq!(ct.armor.as_bytes(), &out.stdout[..]);
        let ids = Identities::load(std::slice::from_ref(&key)).unwrap();
        assert_eq!(decrypt(&ct, &ids).unwrap().expose(), value);
    }
}

#[test]
fn interop_encrypt_output_decrypts_with_age_cli() {
    if !have("age") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = age_key(dir.path(), "key.txt");
    let set = RecipientSet::parse(&recipient).unwrap();
    let mut keys = vec![key];
    let ssh = ssh_keygen("ed25519", "");
    let set = match &ssh {
        Some(ssh) => {
            keys.push(ssh.path().join("id"));
            RecipientSet::parse(&format!("{recipient}\n{}", read(&ssh.path().join("id.pub")))).unwrap()
        }
        None => set,
    };
    for value in tricky_values() {
        let ct = encrypt(
            &SecretValue::new(value.clone()),
            &set,
            Binding::new("prod", "instances.mkt.ims.clientSecret", &set),
        )
        .unwrap();
        let file = dir.path().join("secret.age");
        std::fs::write(&file, &ct.armor).unwrap();
        for key in &keys {
            let out = Command::new("age").arg("-d").arg("-i").arg(key).arg(&file).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            assert_eq!(out.stdout, value.as_bytes(), "{}", key.display());
        }
    }
}

#[test]
fn interop_ssh_keygen_rsa_recipients_file() {
    // ssh-keygen's RSA public keys (with padding and a comment) read as recipients, and
    // `age -R` with the same file produces files nlconf decrypts with the private key.
    let Some(ssh) = ssh_keygen("rsa", "") else {
        return;
    };
    if !have("age") {
        return;
    }
    let pubkey = ssh.path().join("id.pub");
    let set = RecipientSet::parse(&read(&pubkey)).unwrap();
    assert_eq!(set.entries()[0].kind(), RecipientKind::SshRsa);
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("printf 'rsa value $X' | age -a -R '{}'", pubkey.display()))
        .output()
        .unwrap();
    assert!(out.status.success());
    let ct = Ciphertext::parse(std::str::from_utf8(&out.stdout).unwrap()).unwrap();
    let ids = Identities::load(&[ssh.path().join("id")]).unwrap();
    assert_eq!(decrypt(&ct, &ids).unwrap().expose(), "rsa value $X");
}

/// Not an assertion: prints how long 400 distinct secrets take.
/// `cargo test --release -- --nocapture timing`
#[test]
fn timing_decrypt_all_400_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = age_key(dir.path(), "key.txt");
    let (_, other) = age_key(dir.path(), "other.txt");
    let set = RecipientSet::parse(&format!("{recipient}\n{other}\n")).unwrap();
    let cts: Vec<Ciphertext> = (0..400)
        .map(|i| {
            encrypt(
                &SecretValue::new(format!("secret-number-{i}-0123456789abcdef")),
                &set,
                Binding::new("prod", &format!("instances.i{i}.ims.clientSecret"), &set),
            )
            .unwrap()
        })
        .collect();
    let names: Vec<String> = (0..400).map(|i| format!("s{i}")).collect();
    let items: Vec<(&str, &Ciphertext)> = names.iter().map(String::as_str).zip(&cts).collect();
    let ids = Identities::load(&[key]).unwrap();
    let start = std::time::Instant::now();
    let all = decrypt_all(&items, &ids);
    let elapsed = start.elapsed();
    assert!(all.values().all(Result::is_ok));
    println!(
        "timing: decrypt_all of 400 distinct secrets (2 X25519 recipients each) took {:.1} ms on {} threads",
        elapsed.as_secs_f64() * 1000.0,
        rayon::current_num_threads()
    );
}

#[test]
fn a_damaged_ssh_stanza_is_corruption() {
    // Unlike X25519, an SSH stanza names its key, so a failure to unwrap it is damage.
    let Some(ssh) = ssh_keygen("ed25519", "") else {
        return;
    };
    let set = RecipientSet::parse(&read(&ssh.path().join("id.pub"))).unwrap();
    let ids = Identities::load(&[ssh.path().join("id")]).unwrap();
    let ct = encrypt(&SecretValue::new("v".to_owned()), &set, Binding::new("prod", "p", &set)).unwrap();
    let mut bytes = age_bytes(&ct);
    let header = String::from_utf8_lossy(&bytes).into_owned();
    let body = header.lines().nth(2).unwrap();
    let pos = header.find(body).unwrap();
    bytes[pos] = if bytes[pos] == b'A' { b'B' } else { b'A' };
    let err = decrypt(&with_bytes(&ct, &bytes), &ids).unwrap_err();
    assert_eq!(
        err,
        DecryptError::Corrupted(
            "the recipient stanza for this identity does not decrypt: the header was modified".to_owned()
        )
    );
}
