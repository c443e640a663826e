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

/// A scalar or a list of scalars, as a list.
fn strings(node: &Node) -> Vec<&str> {
    match &node.kind {
        Kind::Seq(items) => items.iter().filter_map(Node::as_str).collect(),
        _ => node.as_str().into_iter().collect(),
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

// CI examples ------------------------------------------------------------------------------------------

const GITHUB: &str = "examples/ci/github-actions.yml";
const GITLAB: &str = "examples/ci/gitlab-ci.yml";

/// Every shell script of a CI file: the values of `run` (GitHub) and `script`, `before_script`,
/// `after_script` (GitLab), a list's lines joined.
fn scripts(node: &Node) -> Vec<String> {
    let mut out = Vec::new();
    for e in node.entries() {
        if ["run", "script", "before_script", "after_script"].contains(&e.key.as_str()) {
            out.push(strings(&e.value).join("\n"));
        } else {
            out.extend(scripts(&e.value));
        }
    }
    for item in items(node) {
        out.extend(scripts(item));
    }
    out
}

fn commands_of(node: &Node) -> Vec<Vec<String>> {
    scripts(node).iter().flat_map(|s| nlconf_commands(s)).collect()
}

/// The value after `flag` in a command.
fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).map(String::as_str)
}

#[track_caller]
fn the_command<'a>(commands: &'a [Vec<String>], sub: &str) -> &'a [String] {
    let found: Vec<&Vec<String>> = commands.iter().filter(|c| c.first().is_some_and(|a| a == sub)).collect();
    assert_eq!(found.len(), 1, "one `nlconf {sub}` expected, found {found:?}");
    found[0]
}

/// `nlconf diff` of a pull-request review: against the target branch, as markdown.
#[track_caller]
fn assert_review(commands: &[Vec<String>], base_var: &str) {
    let diff = the_command(commands, "diff");
    let base = flag_value(diff, "--base").expect("diff --base");
    assert!(base.contains(base_var), "diff --base {base}: not the target branch");
    assert_eq!(flag_value(diff, "--format"), Some("markdown"));
    assert!(diff.iter().any(|a| a == "--detailed-exitcode"), "{diff:?}");
}

/// Each `nlconf` command of both examples parses with nlconf's own command line, and would not with
/// any one of its flags misspelt; together they validate, check the secrets, review, plan, apply.
#[test]
fn every_nlconf_command_of_the_ci_examples_parses() {
    for file in [GITHUB, GITLAB] {
        let commands = commands_of(&parse_yaml(file));
        assert_commands_parse(file, &commands);
        let subs: Vec<String> = commands.iter().map(|c| c[..c.len().min(2)].join(" ")).collect();
        for expected in ["validate", "secret check", "diff -e", "plan -e", "apply prod.plan"] {
            assert!(subs.iter().any(|s| s == expected), "{file}: no `nlconf {expected} ...` in {subs:?}");
        }
    }
}

/// An identity from a CI secret reaches a 0600 file through the environment, never a command line
/// or the log: `umask 077`, then `printf '%s\n' "$VAR" > file`, and `$VAR` nowhere else.
#[track_caller]
fn assert_identity_written_privately(file: &str, script: &str, var: &str) {
    let uses: Vec<&str> = script.lines().filter(|l| l.contains(&format!("${var}"))).collect();
    assert!(!uses.is_empty(), "{file}: ${var} is not used");
    let umask =
        script.find("umask 077").unwrap_or_else(|| panic!("{file}: no umask 077 before the identity is written"));
    let write = format!("printf '%s\\n' \"${var}\" > ");
    for line in uses {
        let at = line.find(&write).unwrap_or_else(|| panic!("{file}: ${var} used otherwise: {line}"));
        assert!(script.find(line).unwrap() + at > umask, "{file}: the identity is written before umask 077");
    }
    assert!(!script.contains("set -x"), "{file}: set -x would print the identity");
}

/// The step of a GitHub Actions job that uses `action`.
#[track_caller]
fn step_using<'a>(job: &'a Node, action: &str) -> &'a Node {
    items(get(job, "steps"))
        .iter()
        .find(|s| s.get("uses").and_then(Node::as_str).is_some_and(|u| u.starts_with(action)))
        .unwrap_or_else(|| panic!("no step uses {action}"))
}

/// GitHub Actions: a review job on pull requests posting the review as a comment; a plan job whose
/// plan file is an artifact; an apply job behind the `production` environment's approval that
/// applies that artifact; the key only in an `env:` of the step that writes it.
#[test]
fn the_github_actions_example_reviews_plans_and_applies_behind_an_approval() {
    let doc = parse_yaml(GITHUB);
    assert_eq!(keys(get(&doc, "on")), ["pull_request", "push"]);
    let jobs = get(&doc, "jobs");
    assert_eq!(keys(jobs), ["review", "plan", "apply"]);

    let review = get(jobs, "review");
    assert!(text(review, "if").contains("pull_request"));
    let checkout = step_using(review, "actions/checkout@");
    assert_eq!(text(get(checkout, "with"), "fetch-depth"), "0", "diff --base needs the target branch's history");
    assert_eq!(text(get(review, "permissions"), "pull-requests"), "write");
    assert_review(&commands_of(review), "BASE");
    let review_script = scripts(review).join("\n");
    assert!(review_script.contains("gh pr comment \"$PR\" --body-file \"review-$env.md\""), "{review_script}");

    let (plan, apply) = (get(jobs, "plan"), get(jobs, "apply"));
    assert!(text(plan, "if").contains("push"));
    let plan_cmd = the_command(&commands_of(plan), "plan").to_vec();
    let plan_file = flag_value(&plan_cmd, "--out").expect("plan --out");
    let upload = get(step_using(plan, "actions/upload-artifact@"), "with");
    assert!(text(upload, "path").lines().any(|l| l.trim() == plan_file), "the plan file is not the artifact");
    assert!(text(get(plan, "outputs"), "changes").contains("steps.plan.outputs.changes"));

    assert_eq!(text(apply, "needs"), "plan");
    assert!(text(apply, "if").contains("needs.plan.outputs.changes"));
    assert_eq!(text(apply, "environment"), "production", "the approval is the environment's required reviewers");
    let download = get(step_using(apply, "actions/download-artifact@"), "with");
    assert_eq!(text(download, "name"), text(upload, "name"));
    assert_eq!(the_command(&commands_of(apply), "apply"), ["apply".to_string(), plan_file.to_string()]);

    // Secrets: only in `env:` maps, never pasted into a script.
    for script in scripts(&doc) {
        assert!(!script.contains("secrets."), "a secret pasted into a script:\n{script}");
    }
    let apply_script = scripts(apply).join("\n");
    assert_identity_written_privately(GITHUB, &apply_script, "NLCONF_AGE_KEY");
    assert!(apply_script.contains("NLCONF_AGE_IDENTITY=$RUNNER_TEMP/nlconf-identity.txt"), "{apply_script}");
    assert!(apply_script.contains("rm -f \"$RUNNER_TEMP/nlconf-identity.txt\""), "the identity is not removed");
    assert!(!scripts(get(jobs, "plan")).join("\n").contains("NLCONF_AGE"), "plan needs no key");
}

/// GitLab CI: a review job on merge requests posting the review as a note; a plan job whose plan
/// file is an artifact; a manual apply job on the protected `production` environment applying it.
#[test]
fn the_gitlab_ci_example_reviews_plans_and_applies_behind_a_manual_job() {
    let doc = parse_yaml(GITLAB);
    assert_eq!(strings(get(&doc, "stages")), ["review", "plan", "apply"]);
    let job_rule = |job: &Node| items(get(job, "rules"))[0].clone();

    let review = get(&doc, "review");
    assert!(text(&job_rule(review), "if").contains("merge_request_event"));
    assert_eq!(text(get(review, "variables"), "GIT_DEPTH"), "0");
    assert_review(&commands_of(review), "$CI_MERGE_REQUEST_TARGET_BRANCH_NAME");
    let review_script = scripts(review).join("\n");
    assert!(review_script.contains("/merge_requests/$CI_MERGE_REQUEST_IID/notes"), "{review_script}");
    assert!(review_script.contains("--data-urlencode \"body@review-$env.md\""), "{review_script}");

    let plan = get(&doc, "plan");
    assert!(text(&job_rule(plan), "if").contains("$CI_DEFAULT_BRANCH"));
    let plan_cmd = the_command(&commands_of(plan), "plan").to_vec();
    let plan_file = flag_value(&plan_cmd, "--out").expect("plan --out");
    assert!(strings(get(get(plan, "artifacts"), "paths")).contains(&plan_file), "the plan file is not an artifact");

    let apply = get(&doc, "apply");
    assert_eq!(text(apply, "stage"), "apply");
    assert_eq!(strings(get(apply, "needs")), ["plan"]);
    assert_eq!(text(&job_rule(apply), "when"), "manual");
    assert!(apply.get("allow_failure").is_none(), "a manual job that may fail does not block the pipeline");
    assert_eq!(text(get(apply, "environment"), "name"), "production");
    assert_eq!(the_command(&commands_of(apply), "apply"), ["apply".to_string(), plan_file.to_string()]);
    let apply_script = scripts(apply).join("\n");
    assert_identity_written_privately(GITLAB, &apply_script, "NLCONF_AGE_KEY");
    assert!(apply_script.contains("rm -f \"$CI_BUILDS_DIR/nlconf-identity-$CI_JOB_ID.txt\""), "{apply_script}");
    assert!(!scripts(plan).join("\n").contains("NLCONF_AGE"), "plan needs no key");
}

/// Both examples against GitHub's and GitLab's published schemas (vendored by check-jsonschema): a
/// misspelt key (`runs_on`, `when: manaul`) fails. CI installs check-jsonschema.
#[test]
fn the_ci_examples_match_the_published_schemas() {
    if !have_tool("check-jsonschema") {
        return;
    }
    for (file, schema) in [(GITHUB, "vendor.github-workflows"), (GITLAB, "vendor.gitlab-ci")] {
        let out = Command::new("check-jsonschema")
            .args(["--builtin-schema", schema, file])
            .current_dir(root())
            .output()
            .expect("run check-jsonschema");
        assert!(
            out.status.success(),
            "{file} does not match {schema}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The check can fail: the GitLab example with its manual gate misspelt.
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("gitlab-ci.yml");
    let text = std::fs::read_to_string(root().join(GITLAB)).unwrap();
    std::fs::write(&wrong, text.replace("when: manual", "when: manaul")).unwrap();
    let out =
        Command::new("check-jsonschema").args(["--builtin-schema", "vendor.gitlab-ci"]).arg(&wrong).output().unwrap();
    assert!(!out.status.success(), "a misspelt `when` passed");
}

/// The README shows both examples and names their jobs.
#[test]
fn the_readme_shows_the_ci_examples() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for file in [GITHUB, GITLAB] {
        assert!(readme.contains(&format!("({file})")), "README does not link {file}");
    }
    for job in ["`review`", "`plan`", "`apply`"] {
        assert!(readme.contains(job), "README does not name the job {job}");
    }
}
