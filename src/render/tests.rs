//! Unit tests of `crate::render`.

use super::*;

#[test]
fn reveal_puts_every_value_in_escaped_and_a_missing_secret_as_told() {
    let f = RenderedFile {
        instance: "i".into(),
        container: "c".into(),
        file_name: "config-i.xml".into(),
        content: format!(
            "<a p=\"{}\" q=\"{}\" r=\"{}\">{}</a>",
            Placeholder::Secret(SecretId::new(0)).text(),
            Placeholder::Kept(0).text(),
            Placeholder::Secret(SecretId::new(1)).text(),
            Placeholder::Secret(SecretId::new(0)).text()
        ),
        secrets: vec![SecretId::new(0), SecretId::new(1)],
        kept: vec!["@abc&def".into()],
        tree: None,
    };
    let zero = crate::secrets::SecretValue::new("\"<pa&ss>'\n".into());
    let out = reveal(&f, |i| (i == SecretId::new(0)).then_some(&zero), "(sensitive)");
    let s = "&quot;&lt;pa&amp;ss&gt;&apos;&#10;";
    assert_eq!(out.as_str(), format!("<a p=\"{s}\" q=\"@abc&amp;def\" r=\"(sensitive)\">{s}</a>"));
    assert_eq!(xml::parse(&out).unwrap().attr("p"), Some("\"<pa&ss>'\n"));

    // Comparing piece by piece says what comparing the whole revealed text says.
    let secret = |i| (i == SecretId::new(0)).then_some(&zero);
    assert!(reveals_as(&f, secret, "(sensitive)", &out));
    let mut others: Vec<String> = vec![String::new(), format!("{}x", *out), out[1..].to_string()];
    others.push(out[..out.len() - 1].to_string());
    others.push(out.replace("@abc&amp;def", "@abc&def"));
    others.push(out.replacen("&quot;&lt;pa", "&quot;&lt;pA", 1));
    others.push(out.replace("(sensitive)", ""));
    for other in &others {
        assert!(!reveals_as(&f, secret, "(sensitive)", other), "{other}");
    }
    let none = |_| None;
    assert!(reveals_as(&f, none, "", &reveal(&f, none, "")));
}

/// The direct writer is only an optimisation: it must produce the templates' bytes exactly.
#[test]
fn the_direct_writer_writes_what_the_builtin_templates_render() {
    let repo = Repository::open(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut t = Templates::load(&repo).unwrap();
    assert!(t.builtin_only, "the repository's templates/ are the built-in ones");
    for name in ["dev", "stage", "prod"] {
        let env = crate::env::load(&repo, name).unwrap_or_else(|d| panic!("{name}: {:?}", d.sorted())).value;
        t.builtin_only = true;
        let direct = t.render_environment(&env, None, None).unwrap().value;
        t.builtin_only = false;
        let tera = t.render_environment(&env, None, None).unwrap().value;
        assert!(!direct.is_empty());
        assert_eq!(direct.len(), tera.len());
        for (a, b) in direct.iter().zip(&tera) {
            assert_eq!(a.content, b.content, "{name} {}", a.rel_path());
        }
    }
}

/// A mark that starts no placeholder is text, for writing and for comparing alike.
#[test]
fn a_mark_that_starts_no_placeholder_is_text() {
    let content = format!("<a p=\"@@nlconf:bogus@@\" q=\"@@nlconf:\" r=\"{}\"/>@@nlconf:", Placeholder::Kept(0).text());
    let f = RenderedFile {
        instance: "i".into(),
        container: "c".into(),
        file_name: "config-i.xml".into(),
        content,
        secrets: vec![],
        kept: vec!["@k".into()],
        tree: None,
    };
    let out = reveal(&f, |_| None, "");
    assert_eq!(out.as_str(), "<a p=\"@@nlconf:bogus@@\" q=\"@@nlconf:\" r=\"@k\"/>@@nlconf:");
    assert!(reveals_as(&f, |_| None, "", &out));
    assert!(!reveals_as(&f, |_| None, "", &out[..out.len() - 1]));
    assert!(!reveals_as(&f, |_| None, "", &format!("{}x", *out)));
}
