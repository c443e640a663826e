//! The command line itself: `--help`, shell completions, the man page, usage errors and exit codes.

use std::io::Read;
use std::process::{Command, Stdio};

use insta::assert_snapshot;

use crate::harness::Repo;

fn help(args: &[&str]) -> String {
    let out = Repo::new().run(args);
    out.assert_exit(0).stderr_is("");
    out.stdout.clone()
}

#[test]
fn top_level_help() {
    assert_snapshot!("help", help(&["--help"]));
}

#[test]
fn render_help() {
    assert_snapshot!("help_render", help(&["render", "--help"]));
}

#[test]
fn explain_help() {
    assert_snapshot!("help_explain", help(&["explain", "--help"]));
}

#[test]
fn validate_help() {
    assert_snapshot!("help_validate", help(&["validate", "--help"]));
}

#[test]
fn the_man_command_is_hidden_from_help() {
    assert!(!help(&["--help"]).contains("\n  man "));
}

#[test]
fn version() {
    Repo::new().run(&["--version"]).assert_exit(0).stdout_is(&format!("nlconf {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn completions_bash_prints_a_completion_script() {
    let out = Repo::new().run(&["completions", "bash"]);
    out.assert_exit(0).stderr_is("");
    assert!(out.stdout.starts_with("_nlconf() {\n"), "{}", out.stdout);
    assert!(out.stdout.contains("complete -F _nlconf"), "{}", out.stdout);
    for word in ["validate", "render", "explain", "--instance", "--container"] {
        assert!(out.stdout.contains(word), "the script does not complete {word}");
    }
}

#[test]
fn completions_for_other_shells() {
    for (shell, marker) in
        [("zsh", "#compdef nlconf"), ("fish", "complete -c nlconf"), ("powershell", "Register-ArgumentCompleter")]
    {
        let out = Repo::new().run(&["completions", shell]);
        out.assert_exit(0).stderr_is("").stdout_contains(marker);
    }
}

#[test]
fn man_prints_a_roff_page() {
    let out = Repo::new().run(&["man"]);
    out.assert_exit(0).stderr_is("");
    assert!(out.stdout.contains(".TH nlconf 1"), "{}", out.stdout);
    assert!(out.stdout.contains(".SH NAME\nnlconf \\- GitOps for Adobe Campaign Classic"), "{}", out.stdout);
    assert!(out.stdout.contains(".SH SUBCOMMANDS"), "{}", out.stdout);
}

#[test]
fn an_unknown_command_is_a_usage_error_with_exit_code_1() {
    // DESIGN §6: exit codes are 0, 1 and 2 only; clap's own usage-error code (2) means "changes".
    Repo::new()
        .run(&["deploy"])
        .assert_exit(1)
        .stdout_is("")
        .stderr_contains("error: unrecognized subcommand '(argument 5, not shown: it may be a secret)'");
}

#[test]
fn a_missing_required_option_is_a_usage_error_with_exit_code_1() {
    Repo::new()
        .run(&["render"])
        .assert_exit(1)
        .stdout_is("")
        .stderr_contains("error: the following required arguments were not provided:\n  --env <ENV>");
}

#[test]
fn a_closed_standard_output_does_not_panic() {
    // `nlconf completions bash | head -1`, `nlconf render ... | head`: the reader goes away first.
    // A pipe whose read end is closed before nlconf starts makes every write fail deterministically.
    let repo = Repo::with_prod();
    let root = repo.root().to_str().unwrap().to_string();
    let mut panics = Vec::new();
    for args in [
        vec!["completions", "bash"],
        vec!["man"],
        vec!["--help"],
        vec!["render", "-e", "prod", "--instance", "mkt_prod", "--container", "app1"],
        vec!["render", "-e", "prod"],
        vec!["explain", "-e", "prod", "--instance", "mkt_prod"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut child = Command::new(env!("CARGO_BIN_EXE_nlconf"))
            .args(["-C", &root, "--color", "never"])
            .args(&args)
            .env_remove("RUST_BACKTRACE")
            .stdout(writer)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        let status = child.wait().unwrap();
        if stderr.contains("panicked") || !matches!(status.code(), Some(0 | 1)) {
            panics.push(format!("nlconf {} ({status}):\n{stderr}", args.join(" ")));
        }
    }
    assert!(panics.is_empty(), "{}", panics.join("\n"));
}
