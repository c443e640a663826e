//! Editors and pipelines (DESIGN §11, issue 17): the pre-commit hooks this repository ships, run by
//! the real `pre-commit`; the CI examples of `examples/ci/`, whose every `nlconf` command line must
//! parse with nlconf's own command line and whose jobs must be what the README says.

use std::path::{Path, PathBuf};
use std::process::Command;

use nlconf::support::yaml::{self, Kind, Node};

use crate::harness::{Repo, have_tool, tool_in};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A repository holding a copy of the shipped example (`environments/`, `templates/`).
fn example_repo() -> Repo {
    let repo = Repo::new();
    for dir in ["environments", "templates"] {
        let to = repo.path(dir);
        let _ = std::fs::remove_dir_all(&to);
        tool_in(root(), "cp", &["-r", dir, &to.display().to_string()], b"");
    }
    repo
}

fn parse_yaml(rel: &str) -> Node {
    let text = std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"));
    match yaml::parse(&text, Path::new(rel)) {
        Ok((node, findings)) => {
            assert!(findings.is_empty(), "{rel}: {findings:?}");
            node
        }
        Err(d) => panic!("{rel} is not valid YAML: {d}"),
    }
}

#[track_caller]
fn get<'a>(node: &'a Node, key: &str) -> &'a Node {
    node.get(key).unwrap_or_else(|| panic!("no `{key}` in {:?}", keys(node)))
}

fn keys(node: &Node) -> Vec<&str> {
    node.entries().iter().map(|e| e.key.as_str()).collect()
}

#[track_caller]
fn text<'a>(node: &'a Node, key: &str) -> &'a str {
    get(node, key).as_str().unwrap_or_else(|| panic!("`{key}` is not a scalar"))
}

fn items(node: &Node) -> &[Node] {
    match &node.kind {
        Kind::Seq(items) => items,
        _ => &[],
    }
}

// Shell command lines ---------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    /// `;`, a line break, `|`, `||`, `&&`, `>`, `(`, ...: where a command's arguments end.
    Op(String),
}

/// The words and operators of a shell script: quotes removed, `$...` kept as written, comments
/// dropped. Enough to find the `nlconf` commands of a CI script and their arguments.
fn shell_tokens(script: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = script.chars().peekable();
    let flush = |word: &mut String, in_word: &mut bool, out: &mut Vec<Token>| {
        if *in_word {
            out.push(Token::Word(std::mem::take(word)));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\n') | None => {}
                Some(n) => {
                    word.push(n);
                    in_word = true;
                }
            },
            '\'' => {
                in_word = true;
                for n in chars.by_ref() {
                    if n == '\'' {
                        break;
                    }
                    word.push(n);
                }
            }
            '"' => {
                in_word = true;
                while let Some(n) = chars.next() {
                    match n {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        _ => word.push(n),
                    }
                }
            }
            '#' if !in_word => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
                out.push(Token::Op(";".into()));
            }
            ' ' | '\t' => flush(&mut word, &mut in_word, &mut out),
            '\n' | ';' => {
                flush(&mut word, &mut in_word, &mut out);
                out.push(Token::Op(";".into()));
            }
            '|' | '&' | '>' | '<' | '(' | ')' => {
                // `2>`: a descriptor, not an argument.
                if word.chars().all(|d| d.is_ascii_digit()) && in_word && matches!(c, '>' | '<') {
                    word.clear();
                    in_word = false;
                }
                flush(&mut word, &mut in_word, &mut out);
                let mut op = c.to_string();
                while let Some(&n) = chars.peek() {
                    if op.len() < 2 && "|&><".contains(n) {
                        op.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Token::Op(op));
            }
            _ => {
                word.push(c);
                in_word = true;
            }
        }
    }
    flush(&mut word, &mut in_word, &mut out);
    out
}

/// Every `nlconf` command of a script, as its arguments (without `nlconf`); a word holding a shell
/// expansion (`"$env"`, `"origin/$BASE"`) stands as one argument.
fn nlconf_commands(script: &str) -> Vec<Vec<String>> {
    let tokens = shell_tokens(script);
    let mut found = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if *t != Token::Word("nlconf".into()) {
            continue;
        }
        let at_command = match i.checked_sub(1).map(|p| &tokens[p]) {
            None => true,
            Some(Token::Op(op)) => !op.starts_with('>') && !op.starts_with('<'),
            Some(Token::Word(w)) => ["then", "do", "else", "if", "!", "time"].contains(&w.as_str()),
        };
        if !at_command {
            continue;
        }
        let args = tokens[i + 1..]
            .iter()
            .map_while(|t| match t {
                Token::Word(w) => Some(w.clone()),
                Token::Op(_) => None,
            })
            .collect();
        found.push(args);
    }
    found
}

/// Parses `nlconf ARGS` with nlconf's own command line, as the binary would.
fn cli_parse(args: &[String]) -> Result<(), String> {
    let argv = std::iter::once("nlconf".to_string()).chain(args.iter().cloned());
    nlconf::cli::parse(argv).map(|_| ()).map_err(|e| e.to_string())
}

/// Every command parses, and would not with any one of its `--flags` misspelt: the check is real.
#[track_caller]
fn assert_commands_parse(what: &str, commands: &[Vec<String>]) {
    for args in commands {
        if let Err(e) = cli_parse(args) {
            panic!("{what}: `nlconf {}` does not parse:\n{e}", args.join(" "));
        }
        for (i, flag) in args.iter().enumerate().filter(|(_, a)| a.starts_with("--")) {
            let mut wrong = args.clone();
            wrong[i] = format!("{flag}x");
            assert!(cli_parse(&wrong).is_err(), "{what}: `nlconf {}` parses too", wrong.join(" "));
        }
    }
}

#[test]
fn shell_lines_are_split_into_nlconf_commands() {
    let script = "for env in dev prod; do\n  rc=0\n  nlconf diff -e \"$env\" --base \"origin/$BASE\" \\\n    --format markdown > \"review-$env.md\" || rc=$?\ndone\nnlconf -q validate 2>&1 | tee out # nlconf in a comment\necho nlconf; cat nlconf\n";
    assert_eq!(
        nlconf_commands(script),
        [vec!["diff", "-e", "$env", "--base", "origin/$BASE", "--format", "markdown"], vec!["-q", "validate"],]
    );
    assert!(cli_parse(&["diff".into(), "-e".into(), "prod".into(), "--bsae".into(), "main".into()]).is_err());
    assert!(cli_parse(&["plan".into(), "-e".into(), "prod".into()]).is_err(), "plan without --out");
}

// pre-commit -------------------------------------------------------------------------------------------

/// The two hooks, as `nlconf init` configures them (`repo: local`): ids, names, entries, filters.
#[test]
fn the_pre_commit_hooks_are_the_documented_two() {
    let hooks = parse_yaml(".pre-commit-hooks.yaml");
    let found: Vec<[&str; 6]> = items(&hooks)
        .iter()
        .map(|h| {
            [
                text(h, "id"),
                text(h, "name"),
                text(h, "entry"),
                text(h, "language"),
                text(h, "pass_filenames"),
                text(h, "files"),
            ]
        })
        .collect();
    assert_eq!(
        found,
        [
            ["nlconf-validate", "nlconf validate", "nlconf validate", "system", "false", "^(environments|templates)/"],
            [
                "nlconf-secret-check",
                "nlconf secret check",
                "nlconf secret check --no-decrypt",
                "system",
                "false",
                "^environments/"
            ],
        ]
    );
    let entries: Vec<Vec<String>> = found.iter().flat_map(|h| nlconf_commands(h[2])).collect();
    assert_eq!(entries.len(), 2);
    assert_commands_parse(".pre-commit-hooks.yaml", &entries);
}

/// `pre-commit`, with this repository's debug `nlconf` first on PATH, in a git repository holding
/// the example. CI installs pre-commit; elsewhere the test is skipped when it is missing.
struct PreCommit {
    repo: Repo,
    hooks: PathBuf,
}

impl PreCommit {
    fn new() -> PreCommit {
        let repo = example_repo();
        // A repository of hooks holding this checkout's `.pre-commit-hooks.yaml`, committed as
        // pre-commit wants it (the checkout's own may have uncommitted changes).
        let hooks = repo.work_path("hooks");
        std::fs::create_dir_all(&hooks).unwrap();
        std::fs::copy(root().join(".pre-commit-hooks.yaml"), hooks.join(".pre-commit-hooks.yaml")).unwrap();
        let git = ["-c", "user.email=ci@example.com", "-c", "user.name=ci"];
        tool_in(&hooks, "git", &["init", "-q"], b"");
        tool_in(&hooks, "git", &[&git[..], &["add", "-A"]].concat(), b"");
        tool_in(&hooks, "git", &[&git[..], &["commit", "-q", "-m", "hooks"]].concat(), b"");
        tool_in(repo.root(), "git", &["init", "-q"], b"");
        PreCommit { repo, hooks }
    }

    /// `pre-commit try-repo HOOKS HOOK --all-files`, on what is staged; exit code and output.
    fn try_hook(&self, hook: &str) -> (i32, String) {
        tool_in(self.repo.root(), "git", &["add", "-A"], b"");
        let bin = Path::new(env!("CARGO_BIN_EXE_nlconf")).parent().unwrap();
        let path = std::env::join_paths(
            std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
        )
        .unwrap();
        let out = Command::new("pre-commit")
            .args(["try-repo", &self.hooks.display().to_string(), hook, "--all-files", "--color", "never"])
            .current_dir(self.repo.root())
            .env("PATH", path)
            .env("PRE_COMMIT_HOME", self.repo.work_path("pre-commit-cache"))
            .env("HOME", self.repo.work_path(""))
            .env("NO_COLOR", "1")
            .env_remove("NLCONF_AGE_IDENTITY")
            .env_remove("SOPS_AGE_KEY_FILE")
            .output()
            .expect("run pre-commit");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), text)
    }

    fn edit(&self, rel: &str, from: &str, to: &str) {
        let path = self.repo.path(rel);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{rel} has no {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }
}

#[test]
fn pre_commit_runs_the_validate_hook_and_a_misspelt_attribute_fails_it() {
    if !have_tool("pre-commit") || !have_tool("git") {
        return;
    }
    let pc = PreCommit::new();
    let (code, out) = pc.try_hook("nlconf-validate");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nlconf validate") && out.contains("Passed"), "{out}");

    pc.edit("environments/prod/mkt_prod.yaml", "autoStart:", "autoStrat:");
    let (code, out) = pc.try_hook("nlconf-validate");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Failed"), "{out}");
    assert!(out.contains("environments/prod/mkt_prod.yaml:") && out.contains("did you mean `autoStart`?"), "{out}");
}

#[test]
fn pre_commit_runs_the_secret_hook_without_a_key_and_a_recipient_added_without_rekey_fails_it() {
    if !have_tool("pre-commit") || !have_tool("git") {
        return;
    }
    let pc = PreCommit::new();
    let (code, out) = pc.try_hook("nlconf-secret-check");
    assert_eq!(code, 0, "no key at hand, and the hook still passes:\n{out}");
    assert!(out.contains("nlconf secret check") && out.contains("Passed"), "{out}");

    // Someone joins prod and nobody ran `nlconf secret rekey`: the new person cannot read prod.
    let bob = std::fs::read_to_string(root().join("demo/keys/demo-ONLY-bob-ed25519.pub")).unwrap();
    let recipients = pc.repo.path("environments/prod/recipients");
    let mut text = std::fs::read_to_string(&recipients).unwrap();
    text.push_str(&bob);
    std::fs::write(&recipients, text).unwrap();
    let (code, out) = pc.try_hook("nlconf-secret-check");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not encrypted to exactly the current recipients of environments/prod/recipients"), "{out}");
}

/// `secret check --no-decrypt` checks places and recipients with no identity at all; without the
/// flag, no identity is an error, and no environment is said to be ok.
#[test]
fn secret_check_without_decrypting_needs_no_key() {
    let repo = example_repo();
    let out = repo.run(&["secret", "check", "--no-decrypt"]);
    out.assert_exit(0);
    out.stderr_contains(
        "ok: prod (3 secrets: bound to their places and encrypted to the current recipients; not decrypted)",
    );
    // No identity is looked up: a wrong one in the environment does not matter.
    repo.run_with(&["secret", "check", "--no-decrypt"], b"", &[("NLCONF_AGE_IDENTITY", "/nonexistent")]).assert_exit(0);

    let out = repo.run(&["secret", "check"]);
    out.assert_exit(1).stderr_contains("secret check needs an identity");
    assert!(!out.stderr.contains("ok:"), "an environment not decrypted is said to be ok:\n{}", out.stderr);

    // A ciphertext pasted from another field is refused without a key.
    let file = repo.path("environments/prod/mkt_prod.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let moved = text.replacen(
        "path=instances.mkt_prod.ims.clientSecret",
        "path=instances.mkt_prod.serverconf.shared.dataStore.dataSource.default.dbcnx.password",
        1,
    );
    assert_ne!(moved, text);
    std::fs::write(&file, moved).unwrap();
    repo.run(&["secret", "check", "--no-decrypt", "-e", "prod"])
        .assert_exit(1)
        .stderr_contains("instances.mkt_prod.ims.clientSecret: this ciphertext was encrypted for environment `prod` at `instances.mkt_prod.serverconf.shared.dataStore.dataSource.default.dbcnx.password`");
}
