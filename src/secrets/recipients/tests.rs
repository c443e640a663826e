//! Unit tests of `crate::secrets::recipients`.

use super::super::tests::{RSA_PUB, SSH_ED25519_PUB};
use super::*;

fn x25519() -> String {
    age::x25519::Identity::generate().to_public().to_string()
}

#[test]
fn parses_all_kinds_with_comments_and_blank_lines() {
    let a = x25519();
    let text =
        format!("# ops team\n\n{a}\n  # indented comment\r\n{SSH_ED25519_PUB} alice@laptop\r\n{RSA_PUB} bob\n\n");
    let set = RecipientSet::parse(&text).unwrap();
    assert_eq!(set.len(), 3);
    let lines: Vec<usize> = set.entries().iter().map(|e| e.line()).collect();
    assert_eq!(lines, vec![3, 5, 6]);
    assert_eq!(set.entries()[0].canonical(), a);
    assert_eq!(set.entries()[0].kind(), RecipientKind::X25519);
    assert_eq!(set.entries()[1].canonical(), SSH_ED25519_PUB);
    assert_eq!(set.entries()[1].kind(), RecipientKind::SshEd25519);
    assert_eq!(set.entries()[2].kind(), RecipientKind::SshRsa);
    assert_eq!(set.entries()[2].canonical(), RSA_PUB);
    assert_eq!(set.to_age_recipients().len(), 3);
    assert_eq!(set.entries()[0].ssh_tag(), None);
    assert_eq!(set.entries()[1].ssh_tag().map(|t| t.len()), Some(6));
}

#[test]
fn digest_ignores_order_comments_case_and_duplicates() {
    let a = x25519();
    let b = x25519();
    let one = RecipientSet::parse(&format!("{a}\n{SSH_ED25519_PUB} alice@laptop\n{b}\n")).unwrap().digest();
    let two = RecipientSet::parse(&format!(
        "# reordered\n{b}\n\n{SSH_ED25519_PUB} alice@other-host\n{}\n{a}\n",
        a.to_uppercase()
    ))
    .unwrap()
    .digest();
    assert_eq!(one, two);
    assert_eq!(one.len(), 16);
    assert!(one.chars().all(|c| c.is_ascii_hexdigit()));
    let three = RecipientSet::parse(&format!("{a}\n{SSH_ED25519_PUB}\n")).unwrap().digest();
    assert_ne!(one, three);
    let dup = RecipientSet::parse(&format!("{a}\n{a}\n")).unwrap();
    assert_eq!(dup.len(), 1);
}

#[test]
fn every_bad_line_is_reported_with_what_was_expected() {
    let good = x25519();
    let text = format!(
        "# team\n{good}\nagee1xyz\n   age1qqqq\nage1yubikey1qgg8cjs5gtuw7ja6wpf9zqk9ywxxzl\n\
         ecdsa-sha2-nistp256 AAAAE2VjZHNh\nssh-ed25519 AAAAnotakey\n{good} # ops\n"
    );
    let errors = RecipientSet::parse(&text).unwrap_err();
    let got: Vec<(usize, usize)> = errors.iter().map(|e| (e.line, e.column)).collect();
    assert_eq!(got, vec![(3, 1), (4, 4), (5, 1), (6, 1), (7, 1), (8, 1)]);
    assert_eq!(
        errors[0].message,
        "expected an age recipient (age1...) or an OpenSSH public key (ssh-ed25519/ssh-rsa), \
         found `agee1xyz`"
    );
    assert!(errors[1].message.starts_with("`age1qqqq` is not a valid age recipient ("), "{}", errors[1].message);
    assert!(
        errors[2].message.starts_with("plugin recipients are not supported (`age1yubikey...`"),
        "{}",
        errors[2].message
    );
    assert_eq!(
        errors[3].message,
        "SSH key type `ecdsa-sha2-nistp256` is not supported by age: use an ssh-ed25519 or \
         ssh-rsa key, or an age1... key"
    );
    assert_eq!(
        errors[4].message,
        "invalid ssh-ed25519 public key: expected `ssh-ed25519 <base64 key> [comment]` as in \
         a .pub file or authorized_keys"
    );
    assert!(errors[5].message.contains("followed by more text"));
    assert_eq!(errors[0].to_string(), format!("3:1: {}", errors[0].message));
}

#[test]
fn an_empty_set_is_an_error_at_line_1() {
    for text in ["", "\n\n", "# nobody yet\n\n# really\n"] {
        let errors = RecipientSet::parse(text).unwrap_err();
        assert_eq!(
            errors,
            vec![LineError {
                line: 1,
                column: 1,
                message: "no recipients: add at least one age1... or ssh-ed25519 key".to_owned()
            }]
        );
    }
}

#[test]
fn a_pasted_private_key_is_refused_without_echoing_it() {
    let secret = age::x25519::Identity::generate();
    let secret = age::secrecy::ExposeSecret::expose_secret(&secret.to_string()).to_owned();
    let text = format!("{}\n{secret}\n-----BEGIN OPENSSH PRIVATE KEY-----\n", x25519());
    let errors = RecipientSet::parse(&text).unwrap_err();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].line, 2);
    assert!(errors[0].message.starts_with("this is an age identity (a private key)"));
    assert!(!errors[0].message.contains(&secret[15..]));
    assert_eq!(errors[1].line, 3);
    assert!(errors[1].message.contains("private key"));
}

#[test]
fn the_lines_of_a_pasted_private_key_are_not_echoed() {
    let body = [
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
        "QyNTUxOQAAACBvZXJzYmFzZTY0a2V5bWF0ZXJpYWxub3RyZWFsbHlhbnl0aGluZw==",
    ];
    let text = format!(
        "{}\n-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n{}\n-----END OPENSSH PRIVATE KEY-----\nagee1xyz\n",
        x25519(),
        body[0],
        body[1]
    );
    let errors = RecipientSet::parse(&text).unwrap_err();
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![2, 6], "{errors:?}");
    for e in &errors {
        assert!(body.iter().all(|b| !e.message.contains(&b[..12])), "{}", e.message);
    }
}

#[test]
fn short_rsa_keys_are_refused() {
    // A 1024-bit key (age requires 2048 bits or more).
    let errors = RecipientSet::parse(super::super::tests::RSA_1024_PUB).unwrap_err();
    assert_eq!(errors[0].line, 1);
    assert!(errors[0].message.starts_with("this ssh-rsa key is shorter than 2048 bits"), "{}", errors[0].message);
}

#[test]
fn long_garbage_is_shortened_in_messages() {
    let junk = "x".repeat(500);
    let errors = RecipientSet::parse(&junk).unwrap_err();
    assert!(errors[0].message.len() < 200);
    assert!(errors[0].message.ends_with("...`"));
}
