//! Unit tests of `crate::secrets::armor`.

use super::*;

const DIGEST: &str = "0123456789abcdef";

/// A real armored age file (X25519 recipient, plaintext irrelevant).
fn armor() -> String {
    super::super::tests::armored_for_test()
}

fn bound(env: &str, path: &str) -> Binding {
    Binding { env: env.to_owned(), path: path.to_owned(), recipients_digest: DIGEST.to_owned() }
}

fn err(text: &str) -> CipherError {
    Ciphertext::parse(text).unwrap_err()
}

#[test]
fn parses_header_and_armor_and_writes_them_back() {
    let a = armor();
    let text = format!("nlconf:v1 env=prod path=instances.mkt_prod.ims.clientSecret recipients={DIGEST}\n{a}");
    let ct = Ciphertext::parse(&text).unwrap();
    assert_eq!(ct.binding, Some(bound("prod", "instances.mkt_prod.ims.clientSecret")));
    assert_eq!(ct.armor, a);
    assert_eq!(ct.to_text(), text);
    assert!(ct.to_text().ends_with("-----END AGE ENCRYPTED FILE-----\n"));
    for line in ct.armor.lines() {
        assert!(line.len() <= 64);
    }
}

#[test]
fn tolerates_whitespace_indentation_and_crlf() {
    let a = armor();
    let indented: String = a.lines().map(|l| format!("    {l}\r\n")).collect::<String>();
    let text = format!("\n\r\n  nlconf:v1 env=dev path=a.b recipients={DIGEST}  \r\n\n{indented}\n\n   \n");
    let ct = Ciphertext::parse(&text).unwrap();
    assert_eq!(ct.armor, a);
    assert_eq!(ct.binding, Some(bound("dev", "a.b")));
    let unbound = Ciphertext::parse(&a.replace('\n', "\r\n")).unwrap();
    assert_eq!(unbound.binding, None);
    assert_eq!(unbound.to_text(), a);
}

#[test]
fn binding_status() {
    let ct = Ciphertext { binding: Some(bound("prod", "instances.mkt.ims.clientSecret")), armor: armor() };
    assert_eq!(ct.check_binding("prod", "instances.mkt.ims.clientSecret"), BindingStatus::Bound);
    assert_eq!(
        ct.check_binding("stage", "instances.mkt.ims.clientSecret"),
        BindingStatus::Moved { from_env: "prod".to_owned(), from_path: "instances.mkt.ims.clientSecret".to_owned() }
    );
    assert_eq!(
        ct.check_binding("prod", "instances.mkt.ims.privateKey"),
        BindingStatus::Moved { from_env: "prod".to_owned(), from_path: "instances.mkt.ims.clientSecret".to_owned() }
    );
    let unbound = Ciphertext { binding: None, armor: armor() };
    assert_eq!(unbound.check_binding("prod", "x"), BindingStatus::Unbound);
}

#[test]
fn header_percent_encoding_round_trips() {
    let odd = [
        ("prod eu", "instances.\"a.b\".x"),
        ("100%", "instances.mkt_prod.ims.clientSecret"),
        ("tab\there", "line\nbreak\r%20 literal"),
        ("élan", "instances.données.clé"),
        ("bell\u{7}", "c1\u{85}control"),
    ];
    for (env, path) in odd {
        let b = bound(env, path);
        let line = b.header_line();
        assert!(!line.contains('\n') && !line.contains('\t') && !line.contains('\r'));
        assert_eq!(line.matches(' ').count(), 3, "{line}");
        let ct = Ciphertext { binding: Some(b.clone()), armor: armor() };
        let back = Ciphertext::parse(&ct.to_text()).unwrap();
        assert_eq!(back.binding, Some(b));
    }
    assert_eq!(
        bound("prod eu", "a%b").header_line(),
        format!("nlconf:v1 env=prod%20eu path=a%25b recipients={DIGEST}")
    );
    assert_eq!(percent_encode("é\u{85}"), "é%C2%85");
}

#[test]
fn header_errors() {
    let a = armor();
    let cases = [
        (
            format!("nlconf:v2 env=a path=b recipients={DIGEST}\n{a}"),
            "binding header: unsupported version `nlconf:v2`: this nlconf reads `nlconf:v1` headers; upgrade nlconf",
        ),
        (
            format!("nlconf:v1 env=a recipients={DIGEST}\n{a}"),
            "binding header: expected `nlconf:v1 env=<env> path=<yamlpath> recipients=<digest>`, some fields are missing",
        ),
        (
            format!("nlconf:v1 env=a path=b owner=x recipients={DIGEST}\n{a}"),
            "binding header: unknown field `owner`: expected `nlconf:v1 env=<env> path=<yamlpath> recipients=<digest>`",
        ),
        (format!("nlconf:v1 env=a env=b path=b recipients={DIGEST}\n{a}"), "binding header: `env=` appears twice"),
        (
            format!("nlconf:v1 env=a%2 path=b recipients={DIGEST}\n{a}"),
            "binding header: env: `%` must be followed by two hex digits",
        ),
        (format!("nlconf:v1 env= path=b recipients={DIGEST}\n{a}"), "binding header: env: empty value"),
        (
            format!("nlconf:v1 env=a path=%FF recipients={DIGEST}\n{a}"),
            "binding header: path: percent-encoded bytes are not UTF-8",
        ),
        (
            format!("nlconf:v1 env=a path=b recipients=XYZ\n{a}"),
            "binding header: the binding's recipient digest is not 16 lower-case hex characters",
        ),
    ];
    for (text, message) in cases {
        assert_eq!(err(&text), CipherError { line: 1, message: message.to_owned() }, "{text}");
    }
    let e = err(&format!(
        "\n\nnlconf:v1 env=a path=b recipients={DIGEST}\nnlconf:v1 env=a path=b recipients={DIGEST}\n{a}"
    ));
    assert_eq!(e.line, 4);
    assert_eq!(e.message, "a second binding header line: expected the armor to start here");
    let e = err(&format!("nlconf:v1 env=a path=b recipients={DIGEST}\n\n"));
    assert_eq!(e.line, 2);
    assert!(e.message.contains("after the binding header, found the end of the text"));
}

#[test]
fn armor_structure_errors() {
    let a = armor();
    let lines: Vec<&str> = a.lines().collect();
    let n = lines.len();
    assert!(n >= 5, "test armor should have several base64 lines");

    let e = err("");
    assert_eq!(e.line, 1);
    assert!(e.message.starts_with("the secret is empty"));

    // A plaintext pasted instead of a ciphertext: refused, and not echoed.
    let e = err("\nhunter2-my-password\n");
    assert_eq!(e.line, 2);
    assert!(e.message.starts_with("expected `-----BEGIN AGE ENCRYPTED FILE-----`"));
    assert!(!e.message.contains("hunter2"));

    // Two blocks.
    let e = err(&format!("{a}\n{a}"));
    assert_eq!(
        (e.line, e.message.as_str()),
        (n + 2, "a second age armor block: a secret holds exactly one ciphertext")
    );

    // Text after END.
    let e = err(&format!("{a}trailing words\n"));
    assert_eq!(e.line, n + 1);
    assert!(e.message.starts_with("unexpected text after `-----END AGE ENCRYPTED FILE-----`"));

    // Missing END (truncated armor): reported where END was expected.
    let truncated = lines[..n - 1].join("\n");
    let e = err(&truncated);
    assert_eq!(
        (e.line, e.message.as_str()),
        (n, "missing `-----END AGE ENCRYPTED FILE-----`: the ciphertext is truncated (copy the whole block)")
    );
    let e = err(&lines[..3].join("\n"));
    assert_eq!(e.line, 4);
    assert!(e.message.starts_with("missing `-----END"));

    // A second BEGIN before END.
    let e = err(&format!("{}\n{a}", lines[..3].join("\n")));
    assert_eq!(e.line, 4);
    assert!(e.message.starts_with("a second `-----BEGIN AGE ENCRYPTED FILE-----` before"));

    // A middle line removed: the short last line is no longer last... or an inner line
    // became short.
    let mut short = lines.clone();
    let cut = &lines[2][..40];
    short[2] = cut;
    let e = err(&short.join("\n"));
    assert_eq!(e.line, 4);
    assert!(e.message.starts_with("only the last line of the armor may be shorter"), "{}", e.message);

    // A line too long.
    let long = format!("{}AAAA", lines[1]);
    let mut wide = lines.clone();
    wide[1] = &long;
    let e = err(&wide.join("\n"));
    assert_eq!(
        (e.line, e.message.as_str()),
        (2, "armor lines are 64 characters wide (as `age -a` writes them); this one has 68")
    );

    // Base64 garbage at a known column.
    let garbage = format!("{}*{}", &lines[1][..10], &lines[1][11..]);
    let mut bad = lines.clone();
    bad[1] = &garbage;
    let text = bad.join("\n").replace(&garbage, &format!("  {garbage}"));
    let e = err(&text);
    assert_eq!(
        (e.line, e.message.as_str()),
        (2, "invalid base64 in the armor at column 13: the ciphertext was damaged")
    );

    // Missing padding on the last line. (age's grease stanza varies the length: an armor whose last
    // line is padded is taken, else the line could be a full 64 characters with nothing to remove.)
    let padded =
        std::iter::repeat_with(armor).find(|a| a.lines().rev().nth(1).is_some_and(|l| l.ends_with('='))).unwrap();
    let lines: Vec<&str> = padded.lines().collect();
    let n = lines.len();
    let last = lines[n - 2].trim_end_matches('=');
    let unpadded = format!("{}A", &last[..last.len() - last.len() % 4]);
    let mut pad = lines.clone();
    pad[n - 2] = &unpadded;
    let e = err(&pad.join("\n"));
    assert_eq!(e.line, n - 1);
    assert!(e.message.starts_with("the last armor line must be padded"), "{}", e.message);

    // Blank line inside.
    let e = err(&format!("{}\n\n{}", lines[..2].join("\n"), lines[2..].join("\n")));
    assert_eq!((e.line, e.message.as_str()), (3, "blank line inside the armor: the block must be contiguous"));

    // Empty armor.
    let e = err("-----BEGIN AGE ENCRYPTED FILE-----\n-----END AGE ENCRYPTED FILE-----\n");
    assert_eq!((e.line, e.message.as_str()), (2, "the armor is empty: the age file is missing between BEGIN and END"));
}

#[test]
fn armor_must_hold_an_age_file() {
    // Valid base64 that is not an age file.
    let text = format!("{BEGIN}\n{}\n{END}\n", BASE64_STANDARD.encode(b"hello, this is not age at all"));
    let e = err(&text);
    assert_eq!(e.line, 2);
    assert!(e.message.starts_with("the armor does not hold an age file"), "{}", e.message);

    // An age header cut before its MAC line.
    let cut = BASE64_STANDARD.encode(b"age-encryption.org/v1\n-> X25519 abc\nxyz\n");
    let e = err(&format!("{BEGIN}\n{cut}\n{END}\n"));
    assert_eq!((e.line, e.message.as_str()), (2, "the age header is incomplete: the ciphertext is truncated"));

    // A newer version.
    let v2 = BASE64_STANDARD.encode(b"age-encryption.org/v2\n--- abc\n");
    let e = err(&format!("{BEGIN}\n{v2}\n{END}\n"));
    assert!(e.message.contains("newer format version"));
}

#[test]
fn binary_age_files_are_refused() {
    let e = err("age-encryption.org/v1\n-> X25519 abcdef\nbody\n--- mac\n");
    assert_eq!(e.line, 1);
    assert_eq!(
        e.message,
        "this is a binary age file; nlconf stores secrets ASCII-armored: encrypt with `age -a` (or `nlconf secret set`)"
    );
}

#[test]
fn header_scan_describes_recipients() {
    let bytes = b"age-encryption.org/v1\n-> X25519 aaa\nbody\n-> X25519 bbb\nbody\n-> ssh-ed25519 Ab12Cd ccc\nbody\n-> x-grease y\n\n-> scrypt salt 18\nbody\n--- mac\nPAYLOAD";
    let h = AgeHeader::scan(bytes).unwrap();
    assert_eq!(h.x25519, 2);
    assert_eq!(h.ssh, vec![("ssh-ed25519".to_owned(), "Ab12Cd".to_owned())]);
    assert_eq!(h.scrypt, 1);
    assert!(h.other.is_empty());
    assert_eq!(&bytes[h.payload_offset..], b"PAYLOAD");
    let text = h.describe(Some(&bound("prod", "a.b")));
    assert_eq!(
        text,
        "it is encrypted to 2 X25519 recipients (age does not reveal which keys), the ssh-ed25519 key with tag Ab12Cd, a passphrase (age -p), which nlconf does not use: re-encrypt it to the recipients; its header says recipient set 0123456789abcdef (env prod, a.b)"
    );
}
