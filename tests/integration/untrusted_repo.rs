//! The repository is untrusted in a pull request (issue 13, items 8 and 3): the keyless review runs
//! on the pull request's own files, so every file nlconf reads from the repository, in the working
//! tree and in the `--base` revision, must be a regular file inside the repository. A symlink that
//! leaves it, a dangling one, a FIFO, a device or a folder where a file is expected is refused,
//! naming the file; nothing is rendered, no content of the file leaks. Every input file is read with
//! a size cap, and none can make nlconf wait forever.

use crate::harness::{OVERRIDE, PROD_FILE, PROD_IDENTITY, Repo, have_tool};
use crate::review::git;

/// The value a CI runner's token would have: it must never reach the output.
const CANARY: &str = "leak-canary-5f0c2a9e7d41";
const CANARY_ENV: (&str, &str) = ("NLCONF_TEST_TOKEN", CANARY);

/// What a pull request adds to read a file it should not: the main template, overridden to include
/// a partial inside an XML comment, where it shows in the review and breaks nothing.
const LEAKING_TEMPLATE: &str = "{% include \"partials/prologue.xml\" %}<{{ root }}>\n\
<!-- {% include \"partials/x.xml\" %} -->\n\
{% for line in lines %}{% include \"partials/element.xml\" %}{% endfor %}</{{ root }}>\n";

const OUTSIDE: &str =
    "is a symlink to a file outside the repository: refused (a pull request could read the runner's files with it)";

/// Neither output shows the canary, nor a line of `/etc/passwd`.
#[track_caller]
fn assert_nothing_leaked(out: &crate::harness::Output) {
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(CANARY), "the runner's environment leaked:\n{text}");
        assert!(!text.contains("root:x:0:0"), "a line of /etc/passwd leaked:\n{text}");
    }
}

/// The production repository committed as the base of a pull request.
fn committed_prod() -> Option<Repo> {
    if !have_tool("git") {
        return None;
    }
    let repo = Repo::with_prod();
    git(repo.root(), &["init", "-q", "-b", "main"]);
    git(repo.root(), &["add", "-A"]);
    git(repo.root(), &["commit", "-q", "-m", "base"]);
    Some(repo)
}

fn review(repo: &Repo, base: &str) -> crate::harness::Output {
    repo.run_guarded(&["diff", "-e", "prod", "--base", base, "--format", "markdown"], &[CANARY_ENV])
}

/// `mkfifo PATH` inside the repository.
fn fifo(repo: &Repo, rel: &str) {
    let path = repo.path(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    let _ = std::fs::remove_file(&path);
    let made = std::process::Command::new("mkfifo").arg(&path).status().expect("run mkfifo");
    assert!(made.success(), "mkfifo {rel}");
}

/// `render --out out` refuses with `expected` in stderr, and writes nothing.
#[track_caller]
fn render_refused(repo: &Repo, expected: &str) {
    let out = repo.run_guarded(&["render", "-e", "prod", "--out", "out"], &[CANARY_ENV]);
    out.assert_exit(1).stderr_contains(expected).assert_no_temp_path();
    assert_eq!(out.stdout, "");
    assert_nothing_leaked(&out);
    assert!(!repo.work_path("out").exists(), "render --out wrote files although it failed");
}

// The attack: the runner's environment through a template ------------------------------------------

#[test]
fn a_template_symlinked_to_the_runners_environment_is_refused_in_the_pull_request() {
    let Some(repo) = committed_prod() else { return };
    let repo = repo
        .symlink("templates/partials/x.xml", "/proc/self/environ")
        .raw("templates/config-instance.xml", LEAKING_TEMPLATE);
    let expected = format!("templates/partials/x.xml: error: {OUTSIDE}\n");
    // Before committing (the working tree) and committed (what CI checks out).
    let out = review(&repo, "HEAD");
    out.assert_exit(1).stderr_is(&expected);
    assert_nothing_leaked(&out);
    git(repo.root(), &["add", "-A"]);
    git(repo.root(), &["commit", "-q", "-m", "the pull request"]);
    let out = review(&repo, "HEAD~1");
    out.assert_exit(1).stderr_is(&expected);
    assert_eq!(out.stdout, "");
    assert_nothing_leaked(&out);
}

#[test]
fn a_template_symlinked_to_the_runners_environment_is_refused_in_the_base_revision() {
    // The base is trusted no more than the pull request: it is extracted with its symlinks.
    let Some(repo) = committed_prod() else { return };
    let repo = repo
        .symlink("templates/partials/x.xml", "/proc/self/environ")
        .raw("templates/config-instance.xml", LEAKING_TEMPLATE);
    git(repo.root(), &["add", "-A"]);
    git(repo.root(), &["commit", "-q", "-m", "a bad base"]);
    std::fs::remove_dir_all(repo.path("templates")).unwrap();
    let out = review(&repo, "HEAD");
    out.assert_exit(1).stderr_is(&format!("HEAD:templates/partials/x.xml: error: in the base revision: {OUTSIDE}\n"));
    assert_nothing_leaked(&out);
}

#[test]
fn a_template_symlinked_to_a_file_beside_the_repository_is_refused() {
    // A plain file outside the repository (the runner's checkout of something else, a credentials
    // file): the same refusal, and its content shows nowhere.
    let repo = Repo::with_prod()
        .raw("../runner-token.txt", CANARY)
        .symlink("templates/partials/x.xml", "../../../runner-token.txt")
        .raw("templates/config-instance.xml", LEAKING_TEMPLATE);
    render_refused(&repo, &format!("templates/partials/x.xml: error: {OUTSIDE}\n"));
}

#[test]
fn a_templates_folder_symlinked_outside_the_repository_is_refused() {
    let repo = Repo::with_prod().raw("../elsewhere/partials/element.xml", CANARY).symlink("templates", "../elsewhere");
    render_refused(&repo, "templates: error: is a symlink to a folder outside the repository");
    let repo =
        Repo::with_prod().raw("../elsewhere/element.xml", CANARY).symlink("templates/partials", "../../elsewhere");
    render_refused(&repo, "templates/partials: error: is a symlink to a folder outside the repository");
}

#[test]
fn a_template_symlinked_into_the_git_folder_is_refused() {
    // actions/checkout keeps the job's token in .git/config unless told otherwise.
    let Some(repo) = committed_prod() else { return };
    git(repo.root(), &["config", "http.https://github.com/.extraheader", &format!("AUTHORIZATION: basic {CANARY}")]);
    let repo = repo
        .symlink("templates/partials/x.xml", "../../.git/config")
        .raw("templates/config-instance.xml", LEAKING_TEMPLATE);
    let out = review(&repo, "HEAD");
    out.assert_exit(1).stderr_is(
        "templates/partials/x.xml: error: leads into the .git folder: refused (it can hold the CI's credentials)\n",
    );
    assert_nothing_leaked(&out);
}

// Environment files and recipients -----------------------------------------------------------------------

#[test]
fn an_environment_file_symlinked_outside_the_repository_is_refused() {
    let repo = Repo::with_prod()
        .file(
            "../shared-config.yaml",
            &format!("instances:\n  mkt_prod:\n    serverconf:\n      mta: {{ statServerAddress: \"{CANARY}\" }}\n"),
        )
        .symlink(OVERRIDE, "../../../shared-config.yaml");
    let expected = format!("environments/prod/override.yaml: error: {OUTSIDE}\n");
    repo.run(&["validate"]).assert_exit(1).stdout_is("").stderr_is(&expected);
    render_refused(&repo, &expected);
}

#[test]
fn shared_defaults_symlinked_to_etc_passwd_are_refused_without_quoting_them() {
    let repo = Repo::with_prod().symlink("environments/defaults.yaml", "/etc/passwd");
    let out = repo.run(&["validate"]);
    out.assert_exit(1).stderr_is(&format!("environments/defaults.yaml: error: {OUTSIDE}\n"));
    assert_nothing_leaked(&out);
}

#[test]
fn an_environment_folder_symlinked_outside_the_repository_is_refused() {
    let repo = Repo::new()
        .raw("../elsewhere/environment.yaml", crate::harness::PROD_ENVIRONMENT)
        .symlink("environments/prod", "../../elsewhere");
    let out = repo.run(&["validate", "-e", "prod"]);
    out.assert_exit(1).stderr_contains("environments/prod: error: is a symlink to a folder outside the repository");
}

#[test]
fn recipients_symlinked_to_etc_passwd_are_refused_without_quoting_them() {
    let repo = Repo::with_prod();
    std::fs::remove_file(repo.path("environments/prod/recipients")).unwrap();
    let repo = repo.symlink("environments/prod/recipients", "/etc/passwd");
    let expected = format!("environments/prod/recipients: error: {OUTSIDE}\n");
    let out = repo.run(&["validate"]);
    out.assert_exit(1).stderr_is(&expected);
    assert_nothing_leaked(&out);
    let out = repo.run(&["-i", PROD_IDENTITY, "secret", "check"]);
    out.assert_exit(1).stderr_contains(&expected);
    assert_nothing_leaked(&out);
}

#[test]
fn a_dangling_symlink_is_named_as_such() {
    let repo = Repo::with_prod().symlink(OVERRIDE, "/nonexistent/runner/secret.yaml");
    repo.run(&["validate"])
        .assert_exit(1)
        .stdout_is("")
        .stderr_is("environments/prod/override.yaml: error: is a symlink to a file that does not exist\n");
}

#[test]
fn symlinks_to_files_inside_the_repository_still_work() {
    // Sharing a file between environments, or a partial between templates, is what links are for.
    let shared = "instances:\n  mkt_prod:\n    serverconf:\n      mta: { statServerAddress: \"shared.prod.example.com:7777\" }\n";
    let repo = Repo::with_prod()
        .raw("shared/mta.yaml", shared)
        .symlink(OVERRIDE, "../../shared/mta.yaml")
        .raw("templates/common/prologue.xml", "<?xml version='1.0'?>\n<!-- shared prologue -->\n")
        .symlink("templates/partials/prologue.xml", "../common/prologue.xml");
    repo.run(&["validate"]).assert_exit(0);
    repo.run(&["render", "-e", "prod", "--out", "out"]).assert_exit(0);
    let app1 = std::fs::read_to_string(repo.work_path("out/app1/config-mkt_prod.xml")).unwrap();
    assert!(app1.contains("shared.prod.example.com:7777"), "{app1}");
    assert!(app1.contains("<!-- shared prologue -->"), "{app1}");
}

#[test]
fn a_symlinked_template_folder_inside_the_repository_is_read_once() {
    let repo = Repo::with_prod().symlink("templates/partials/again", "..");
    render_refused(
        &repo,
        "templates/partials/again: error: is a symlink to a folder that contains it: refused (a loop)",
    );
}

// Special files: refused at once, never waited on -------------------------------------------------------

#[test]
fn a_fifo_as_the_environment_file_is_refused_at_once() {
    let repo = Repo::with_prod();
    fifo(&repo, PROD_FILE);
    let expected = "environments/prod/environment.yaml: error: is a FIFO (named pipe), not a regular file\n";
    repo.run_guarded(&["validate"], &[]).assert_exit(1).stderr_is(expected);
    render_refused(&repo, expected);
}

#[test]
fn a_fifo_as_a_template_is_refused_at_once() {
    let repo = Repo::with_prod();
    fifo(&repo, "templates/partials/element.xml");
    render_refused(&repo, "templates/partials/element.xml: error: is a FIFO (named pipe), not a regular file\n");
}

#[test]
fn a_fifo_as_the_recipients_file_is_refused_at_once() {
    let repo = Repo::with_prod();
    fifo(&repo, "environments/prod/recipients");
    repo.run_guarded(&["validate"], &[])
        .assert_exit(1)
        .stderr_is("environments/prod/recipients: error: is a FIFO (named pipe), not a regular file\n");
}

#[test]
fn dev_zero_symlinked_as_a_template_is_refused() {
    let repo = Repo::with_prod().symlink("templates/partials/element.xml", "/dev/zero");
    render_refused(&repo, &format!("templates/partials/element.xml: error: {OUTSIDE}\n"));
}

#[test]
fn a_folder_where_a_template_file_is_expected_is_refused() {
    let repo = Repo::with_prod().raw("templates/config-instance.xml/stray.xml", "<x/>");
    render_refused(&repo, "templates/config-instance.xml: error: is a folder, where a template file is expected\n");
}

#[test]
fn a_folder_named_like_a_yaml_file_is_refused() {
    let repo = Repo::with_prod().folder("environments/prod/extra.yaml");
    render_refused(&repo, "environments/prod/extra.yaml: error: is a directory, expected a YAML file\n");
}

#[test]
fn dev_zero_as_an_identity_file_is_refused_at_once() {
    let repo = Repo::with_prod();
    repo.run_guarded(&["-i", "/dev/zero", "secret", "check"], &[])
        .assert_exit(1)
        .stderr_contains("/dev/zero: error: is a character device, not a regular file");
}

#[test]
fn a_fifo_as_an_identity_file_is_refused_at_once() {
    let repo = Repo::with_prod();
    fifo(&repo, "../key.fifo");
    repo.run_guarded(&["-i", "key.fifo", "secret", "check"], &[])
        .assert_exit(1)
        .stderr_contains("key.fifo: error: is a FIFO (named pipe), not a regular file");
}

#[test]
fn a_fifo_as_a_secret_value_file_is_refused_at_once() {
    let repo = Repo::with_prod();
    fifo(&repo, "../value.fifo");
    let path = "instances.mkt_prod.serverconf.shared.proxyConfig.proxyHTTP.password";
    let before = repo.read(PROD_FILE);
    repo.run_guarded(&["secret", "set", "-e", "prod", path, "--from-file", "value.fifo"], &[])
        .assert_exit(1)
        .stderr_contains(
            "value.fifo: error: cannot read the value: the file is a FIFO (named pipe), not a regular file",
        );
    assert_eq!(repo.read(PROD_FILE), before);
}

#[test]
fn a_fifo_as_a_plan_file_is_refused_at_once() {
    let repo = Repo::with_prod();
    fifo(&repo, "../p.plan");
    repo.run_guarded(&["apply", "p.plan"], &[])
        .assert_exit(1)
        .stderr_is("p.plan: error: is a FIFO (named pipe), not a regular file\n");
}

#[test]
fn a_fifo_as_a_file_to_import_is_refused_at_once() {
    let repo = Repo::with_prod();
    fifo(&repo, "../deployed/app1/config-mkt_stage.xml");
    repo.run_guarded(
        &["import", "-e", "prod", "--instance", "mkt_stage", "app1=deployed/app1/config-mkt_stage.xml"],
        &[],
    )
    .assert_exit(1)
    .stderr_contains("deployed/app1/config-mkt_stage.xml: error: is a FIFO (named pipe), not a regular file");
}

// Size caps --------------------------------------------------------------------------------------------------

/// A sparse file of `bytes` bytes: the size is what matters, writing it would only slow the suite.
fn sparse(path: &std::path::Path, bytes: u64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::File::create(path).unwrap().set_len(bytes).unwrap();
}

#[test]
fn an_oversized_template_is_refused() {
    let repo = Repo::with_prod();
    sparse(&repo.path("templates/partials/element.xml"), 2 * 1024 * 1024);
    render_refused(&repo, "templates/partials/element.xml: error: is larger than 1 MB\n");
}

#[test]
fn an_oversized_recipients_file_is_refused() {
    let repo = Repo::with_prod();
    sparse(&repo.path("environments/prod/recipients"), 2 * 1024 * 1024);
    repo.run(&["validate"]).assert_exit(1).stderr_is("environments/prod/recipients: error: is larger than 1 MB\n");
}

#[test]
fn an_oversized_plan_file_is_refused_before_it_is_read() {
    let repo = Repo::with_prod();
    sparse(&repo.work_path("huge.plan"), 513 * 1024 * 1024);
    repo.run_guarded(&["apply", "huge.plan"], &[])
        .assert_exit(1)
        .stderr_is("huge.plan: error: is larger than 512 MB\n");
}

#[test]
fn an_oversized_identity_file_is_refused() {
    let repo = Repo::with_prod();
    sparse(&repo.work_path("huge.key"), 2 * 1024 * 1024);
    repo.run(&["-i", "huge.key", "secret", "check"])
        .assert_exit(1)
        .stderr_contains("huge.key: error: is larger than 1 MB: pass the identity file itself");
}

// "Did you mean" is bounded --------------------------------------------------------------------------------

#[test]
fn a_hundred_kilobyte_misspelt_key_gets_no_suggestion() {
    let key = format!("instance{}", "s".repeat(100 * 1024));
    // An explicit key (`? `): YAML allows no implicit key over 1024 characters.
    let repo = Repo::with_prod().raw(OVERRIDE, format!("? {key}\n: {{}}\n"));
    let out = repo.run_guarded(&["validate"], &[]);
    out.assert_exit(1).stderr_contains(": error: unknown key `instances");
    assert!(!out.stderr.contains("did you mean"), "{}", out.stderr);
}

#[test]
fn a_long_container_name_mistyped_gets_no_suggestion() {
    // Both names are the user's: a suggestion would cost the product of their lengths.
    let name = "c".repeat(2000);
    let typo = format!("{}d", "c".repeat(1999));
    let repo = Repo::with_prod().raw(
        OVERRIDE,
        format!(
            "instances:\n  mkt_prod:\n    containers:\n      ? {name}\n      : {{ host: app3.prod.example.com }}\n    containerOverrides:\n      ? {typo}\n      : {{}}\n"
        ),
    );
    let out = repo.run_guarded(&["validate"], &[]);
    out.assert_exit(1).stderr_contains("has no such container");
    assert!(!out.stderr.contains("did you mean"), "{}", out.stderr);
}
