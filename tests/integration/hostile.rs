//! Hostile inputs (issue 13). A conf folder: whoever can write a container's conf folder plants
//! symlinks, FIFOs and folders where nlconf keeps its own files; a root-run apply must never write,
//! chmod, chown or remove anything outside the folder through them, locally or over ssh, and what it
//! refuses, it names. Noisy tools: what a failing nlserver prints. Names: an environment name or a
//! plan file that would lead nlconf out of the repository.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use crate::apply::Site;
use crate::ssh::Sshd;

/// A folder outside every conf folder, with one file in it, that nothing may touch.
struct Outside {
    dir: PathBuf,
}

const VICTIM: &str = "victim.conf";
const VICTIM_TEXT: &str = "root-owned configuration: must stay exactly as it is\n";

impl Outside {
    fn new(site: &Site) -> Outside {
        let dir = site.repo.work_path("outside");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(VICTIM), VICTIM_TEXT).unwrap();
        Outside { dir }
    }

    fn victim(&self) -> PathBuf {
        self.dir.join(VICTIM)
    }

    /// Nothing was created, changed or removed there.
    #[track_caller]
    fn assert_untouched(&self) {
        let names: Vec<String> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [VICTIM], "nlconf created files outside the conf folder");
        assert_eq!(std::fs::read_to_string(self.victim()).unwrap(), VICTIM_TEXT);
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(self.victim()).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o644, "the file outside was chmod-ed");
    }
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
}

/// A local site deployed once, with a change planned for every container.
fn deployed_with_a_change() -> (Site, Outside) {
    let site = Site::local();
    site.deploy();
    site.edit("hosts: \"mid.example.com*\"", "hosts: \"mid2.example.com*\"");
    let outside = Outside::new(&site);
    set_mode(&outside.victim(), 0o644);
    (site, outside)
}

#[test]
fn a_symlinked_work_folder_is_refused_and_nothing_outside_is_touched() {
    let (site, outside) = deployed_with_a_change();
    let work = site.conf("app3").join(".nlconf");
    std::fs::remove_dir_all(&work).unwrap();
    symlink(&outside.dir, &work).unwrap();
    // The state record is read through .nlconf: the review refuses at once.
    site.run(&["plan", "-e", "prod", "--out", "p.plan"]).assert_exit(1).stderr_contains("app3/.nlconf is a symlink");
    outside.assert_untouched();
}

/// A change planned, then `.nlconf` of app3 swapped for a symlink to `outside`: apply refuses to
/// lock or write through it.
#[track_caller]
fn plan_swap_the_work_folder_and_apply(site: &Site, outside: &Outside) {
    site.plan("p.plan", 2);
    let work = site.conf("app3").join(".nlconf");
    std::fs::remove_dir_all(&work).unwrap();
    symlink(&outside.dir, &work).unwrap();
    site.run(&["apply", "p.plan"]).assert_exit(1).stderr_contains("is a symlink");
    outside.assert_untouched();
}

#[test]
fn a_work_folder_symlinked_after_the_plan_is_refused_by_apply() {
    let (site, outside) = deployed_with_a_change();
    plan_swap_the_work_folder_and_apply(&site, &outside);
}

#[test]
fn a_symlinked_backups_folder_is_refused() {
    let (site, outside) = deployed_with_a_change();
    let backups = site.conf("app3").join(".nlconf/backups");
    let _ = std::fs::remove_dir_all(&backups);
    symlink(&outside.dir, &backups).unwrap();
    site.plan("p.plan", 2);
    site.run(&["apply", "p.plan"]).assert_exit(1).stderr_contains(".nlconf/backups is a symlink");
    outside.assert_untouched();
}

#[test]
fn a_deployed_file_that_is_a_symlink_is_refused_at_plan_time_without_reading_it() {
    let site = Site::local();
    site.deploy();
    let outside = Outside::new(&site);
    let file = site.deployed("app3", "config-mid_prod.xml");
    std::fs::remove_file(&file).unwrap();
    symlink(outside.victim(), &file).unwrap();
    let out = site.run(&["plan", "-e", "prod", "--out", "p.plan"]);
    out.assert_exit(1).stderr_contains("config-mid_prod.xml is a symlink");
    assert!(!out.stderr.contains("root-owned") && !out.stdout.contains("root-owned"), "the target was read");
    outside.assert_untouched();
}

#[test]
fn a_fifo_or_a_folder_as_the_deployed_file_is_an_error_at_once() {
    let site = Site::local();
    site.deploy();
    let file = site.deployed("app3", "config-mid_prod.xml");
    std::fs::remove_file(&file).unwrap();
    crate::harness::tool_in(&site.conf("app3"), "mkfifo", &["config-mid_prod.xml"], b"");
    site.run(&["plan", "-e", "prod", "--out", "p.plan"]).assert_exit(1).stderr_contains("is not a regular file");
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    site.run(&["plan", "-e", "prod", "--out", "p.plan"]).assert_exit(1).stderr_contains("is not a regular file");
}

#[test]
fn a_planted_lock_symlink_is_not_followed() {
    let (site, outside) = deployed_with_a_change();
    site.plan("p.plan", 2);
    symlink(outside.victim(), site.conf("app3").join(".nlconf/lock")).unwrap();
    site.run(&["apply", "p.plan"]).assert_exit(1).stderr_contains("lock is a symlink");
    outside.assert_untouched();
    // --force-unlock removes the planted link itself, never what it points to.
    site.run(&["apply", "p.plan", "--force-unlock"]).assert_exit(0);
    outside.assert_untouched();
}

#[test]
fn a_planted_state_record_symlink_is_replaced_not_written_through() {
    let (site, outside) = deployed_with_a_change();
    site.plan("p.plan", 2);
    // Planted after the plan: apply's check under the locks reads it and refuses.
    let state = site.conf("app3").join(".nlconf/state-mid_prod.json");
    std::fs::remove_file(&state).unwrap();
    symlink(outside.victim(), &state).unwrap();
    site.run(&["apply", "p.plan"]).assert_exit(1).stderr_contains("state-mid_prod.json is a symlink");
    outside.assert_untouched();
}

#[test]
fn backup_rotation_removes_only_regular_files_nlconf_named() {
    let (site, outside) = deployed_with_a_change();
    let backups = site.conf("app3").join(".nlconf/backups");
    std::fs::create_dir_all(&backups).unwrap();
    // Older than any real backup, so rotation would pick them first.
    let planted_link = backups.join("config-mid_prod.xml.20000101T000000.000000000Z");
    symlink(outside.victim(), &planted_link).unwrap();
    let planted_dir = backups.join("config-mid_prod.xml.20000101T000000.000000001Z");
    std::fs::create_dir(&planted_dir).unwrap();
    std::fs::write(planted_dir.join("keep"), "x").unwrap();
    let other = backups.join("config-mid_prod.xml.notes");
    std::fs::write(&other, "not a backup").unwrap();
    for i in 0..11 {
        site.edit(&format!("hosts: \"mid{}.example.com*\"", i + 2), &format!("hosts: \"mid{}.example.com*\"", i + 3));
        site.plan("p.plan", 2);
        site.apply("p.plan");
    }
    assert!(std::fs::symlink_metadata(&planted_link).is_ok(), "a symlink was taken for a backup and removed");
    assert!(planted_dir.join("keep").exists());
    assert!(other.exists());
    outside.assert_untouched();
}

#[test]
fn over_ssh_a_symlinked_work_folder_and_deployed_file_are_refused() {
    let Some(sshd) = Sshd::start() else { return };
    let site = sshd.site();
    site.deploy();
    let outside = Outside::new(&site);
    // The deployed file: refused when read, the target not shown.
    let file = site.deployed("app3", "config-mid_prod.xml");
    let kept = std::fs::read(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    symlink(outside.victim(), &file).unwrap();
    let out = site.run(&["plan", "-e", "prod", "--out", "p.plan"]);
    out.assert_exit(1).stderr_contains("config-mid_prod.xml is a symlink");
    assert!(!out.stdout.contains("root-owned") && !out.stderr.contains("root-owned"));
    std::fs::remove_file(&file).unwrap();
    std::fs::write(&file, kept).unwrap();
    site.edit("hosts: \"mid.example.com*\"", "hosts: \"mid2.example.com*\"");
    plan_swap_the_work_folder_and_apply(&site, &outside);
}

#[test]
fn over_ssh_a_planted_lock_or_backups_symlink_is_not_followed() {
    let Some(sshd) = Sshd::start() else { return };
    let site = sshd.site();
    site.deploy();
    let outside = Outside::new(&site);
    site.edit("hosts: \"mid.example.com*\"", "hosts: \"mid2.example.com*\"");
    site.plan("p.plan", 2);
    let lock = site.conf("app3").join(".nlconf/lock");
    symlink(outside.victim(), &lock).unwrap();
    site.run(&["apply", "p.plan"]).assert_exit(1).stderr_contains("lock is a symlink");
    outside.assert_untouched();
    std::fs::remove_file(&lock).unwrap();
    let backups = site.conf("app3").join(".nlconf/backups");
    let _ = std::fs::remove_dir_all(&backups);
    symlink(&outside.dir, &backups).unwrap();
    site.run(&["apply", "p.plan"]).assert_exit(1).stderr_contains("backups is a symlink");
    outside.assert_untouched();
}

/// A host that accepts the connection and then says nothing (a firewall that drops packets
/// behaves alike): ssh gives up after the target's `connect_timeout`, and the container fails
/// instead of the run hanging.
#[test]
fn a_host_that_never_answers_fails_its_container_after_the_connect_timeout() {
    if !crate::harness::have_tool("ssh") {
        assert!(std::env::var_os("CI").is_none(), "ssh is not installed, and CI is set");
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts and holds every connection without a byte of the SSH banner.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let site = Site::build(|repo| {
        let root = repo.work_path("remote");
        let target = crate::ssh::target_yaml("neolane", port, &[], &root)
            .replace("    - ConnectTimeout=10\n", "")
            .replace("target:\n", "target:\n  connect_timeout: 1\n");
        (target, root)
    });
    let out = site.run(&["plan", "-e", "prod", "--out", "p.plan"]);
    out.assert_exit(1).stderr_contains("error: app1: cannot read the ");
    assert!(!site.repo.work_path("p.plan").exists());
}

#[test]
fn ssh_options_that_run_local_commands_are_refused_in_the_repository() {
    for (option, key) in [
        ("ProxyCommand=nc %h %p", "ProxyCommand"),
        ("LocalCommand touch /tmp/pwned", "LocalCommand"),
        ("permitlocalcommand=yes", "permitlocalcommand"),
        ("KnownHostsCommand=/bin/true", "KnownHostsCommand"),
        ("Match exec \"touch /tmp/pwned\"", "Match"),
        ("PKCS11Provider=/tmp/evil.so", "PKCS11Provider"),
    ] {
        let site = Site::build(|repo| {
            let root = repo.work_path("remote");
            (crate::ssh::target_yaml("neolane", 22, &[option.to_string()], &root), root)
        });
        let line = site.repo.read(crate::apply::ENV_FILE).lines().position(|l| l.contains(option)).unwrap() + 1;
        site.run(&["validate"]).assert_exit(1).stderr_contains(&format!(
            "environments/prod/environment.yaml:{line}:7: error: target.options: `{key}` runs a program on the machine that runs nlconf"
        ));
    }
    // ProxyJump stays allowed; a connect timeout is checked.
    let site = Site::build(|repo| {
        let root = repo.work_path("remote");
        (crate::ssh::target_yaml("neolane", 22, &["ProxyJump=bastion.example.com".into()], &root), root)
    });
    site.run(&["validate"]).assert_exit(0);
    site.edit("target:\n", "target:\n  connect_timeout: 0\n");
    site.run(&["validate"]).assert_exit(1).stderr_contains("target.connect_timeout: expected seconds, from 1 to 3600");
}

/// nlserver (or a wrapper around it) that fails and echoes its arguments in every form a scrubber
/// could miss: none of it reaches the report, whatever the form (issue 13 item 2).
#[test]
fn a_failing_credential_step_shows_nothing_nlserver_printed_in_any_form() {
    let site = Site::local();
    let script = site.repo.work_path("noisy-nlserver");
    // The argument as python's repr, JSON, XML-escaped, shell-quoted, base64, wrapped at 10
    // characters, cut in halves, and reversed.
    let noisy = r#"#!/usr/bin/env python3
import base64, json, shlex, sys, xml.sax.saxutils as x
if any(a.startswith("-setims") for a in sys.argv):
    a = sys.argv[-1]
    forms = [repr(a), json.dumps(a), x.escape(a, {'"': "&quot;"}), shlex.quote(a),
             base64.b64encode(a.encode()).decode(), "\n".join(a[i:i + 10] for i in range(0, len(a), 10)),
             a[: len(a) // 2], a[len(a) // 2 :], a[::-1]]
    for f in forms:
        print("nlserver: bad argument: " + f, file=sys.stderr)
        print("nlserver: bad argument: " + f)
    sys.exit(4)
"#;
    std::fs::write(&script, noisy).unwrap();
    set_mode(&script, 0o755);
    site.edit(&format!("nlserver: {}", crate::apply::STANDIN), &format!("nlserver: {}", script.display()));
    site.drop_mid_prod();
    site.plan("p.plan", 2);
    let out = site.run(&["apply", "p.plan"]);
    out.assert_exit(1).stderr_contains("failed (exit 4); what nlserver printed is not shown");
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(!all.contains("bad argument"), "nlserver's output reached the report:\n{all}");
    // Every 8-character run of the secret, in the clear or reversed: none is in the output.
    let secret: Vec<char> = crate::apply::SECRET.chars().collect();
    for w in secret.windows(8) {
        let run: String = w.iter().collect();
        let reversed: String = w.iter().rev().collect();
        assert!(!all.contains(&run) && !all.contains(&reversed), "a piece of the secret is in the output: {run:?}");
    }
    // The opt-in is for a person at a terminal: refused without one.
    site.run(&["apply", "p.plan", "--show-credential-output"])
        .assert_exit(1)
        .stderr_contains("--show-credential-output works at a terminal only");
}

#[test]
fn an_environment_name_is_a_name_on_the_command_line() {
    let site = Site::local();
    for name in ["../../etc", "prod/../prod", "a/b", "..", ""] {
        for args in
            [vec!["validate", "-e", name], vec!["diff", "-e", name], vec!["plan", "-e", name, "--out", "p.plan"]]
        {
            site.run(&args).assert_exit(1).stderr_contains("use letters, digits, `_` and `-` only");
        }
    }
    assert!(!site.repo.work_path("p.plan").exists());
}

#[test]
fn a_plan_file_with_a_path_for_an_environment_or_a_container_twice_is_refused() {
    let site = Site::local();
    site.plan("p.plan", 2);
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(site.repo.work_path("p.plan")).unwrap()).unwrap();
    let before = site.tree();

    let mut other = plan.clone();
    other["environment"] = serde_json::json!("../../etc");
    std::fs::write(site.repo.work_path("evil.plan"), serde_json::to_vec_pretty(&other).unwrap()).unwrap();
    site.run(&["apply", "evil.plan"]).assert_exit(1).stderr_contains("evil.plan: error: environment name `../../etc`");

    let mut twice = plan.clone();
    let first = twice["containers"][0].clone();
    twice["containers"].as_array_mut().unwrap().push(first);
    std::fs::write(site.repo.work_path("twice.plan"), serde_json::to_vec_pretty(&twice).unwrap()).unwrap();
    site.run(&["apply", "twice.plan"])
        .assert_exit(1)
        .stderr_contains("twice.plan: error: the plan names app1 (mid_prod) twice");

    let mut unknown = plan;
    unknown["containers"][0]["container"] = serde_json::json!("app9");
    std::fs::write(site.repo.work_path("unknown.plan"), serde_json::to_vec_pretty(&unknown).unwrap()).unwrap();
    site.run(&["apply", "unknown.plan"])
        .assert_exit(1)
        .stderr_contains("app9: config-mid_prod.xml is no longer in the repository");

    assert_eq!(crate::apply::tree_differences(&before, &site.tree()), Vec::<String>::new());
    assert!(site.take_argv().is_empty());
}

#[test]
fn force_unlock_removes_a_stale_lock_even_when_the_plan_has_nothing_to_do() {
    let site = Site::local();
    site.deploy();
    site.plan("p.plan", 0);
    let lock = site.conf("app2").join(".nlconf/lock");
    std::fs::write(&lock, r#"{"holder":"died","host":"h","pid":1,"time":"2026-01-01T00:00:00Z"}"#).unwrap();
    site.apply("p.plan").stdout_contains("nothing to do");
    assert!(lock.exists(), "without --force-unlock the lock stays");
    site.run(&["apply", "p.plan", "--force-unlock"]).assert_exit(0).stdout_contains("nothing to do");
    assert!(!lock.exists(), "--force-unlock left the stale lock");
}

#[test]
fn the_lock_names_its_holder_without_user_or_logname() {
    let (site, _outside) = deployed_with_a_change();
    site.plan("p.plan", 2);
    let argv = site.argv_file.to_string_lossy().into_owned();
    // The stand-in sleeps in the reload: the lock is there to read meanwhile.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_nlconf"));
    cmd.arg("-C")
        .arg(site.repo.root())
        .args(["apply", "p.plan"])
        .current_dir(site.repo.work_path(""))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NLCONF_AGE_IDENTITY", crate::harness::PROD_IDENTITY)
        .env("NLSERVER_STANDIN_ARGV", &argv)
        .env("NLSERVER_STANDIN_SLEEP", "2")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let lock = site.conf("app1").join(".nlconf/lock");
    let mut seen = None;
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(&lock)
            && !text.is_empty()
        {
            seen = Some(text);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(child.wait().unwrap().success());
    let text = seen.expect("the lock was never seen");
    let info: serde_json::Value = serde_json::from_str(&text).unwrap();
    let holder = info["holder"].as_str().unwrap();
    assert!(!holder.is_empty() && holder != "unknown", "the lock does not name its holder: {text}");
}

#[test]
fn a_usage_error_never_echoes_an_argument_that_may_be_a_secret() {
    let site = Site::local();
    const VALUE: &str = "p4ssw0rd-typed-by-mistake";
    for args in [
        vec!["secret", "set", "-e", "prod", "instances.mkt_prod.ims.clientSecret", VALUE],
        vec!["secret", "set", "-e", "prod", "instances.mkt_prod.ims.clientSecret", "--", VALUE],
        vec![VALUE],
        vec!["diff", "-e", "prod", "--format", VALUE],
        vec!["diff", "-e", "prod", &format!("--format={VALUE}")],
    ] {
        let out = site.repo.run(&args);
        out.assert_exit(1).stderr_contains("not shown: it may be a secret");
        assert!(!out.stderr.contains(VALUE) && !out.stdout.contains(VALUE), "echoed:\n{}", out.stderr);
    }
    // Options and command names are still named.
    site.repo.run(&["diff", "--formt", "json", "-e", "prod"]).assert_exit(1).stderr_contains("'--formt'");
}

#[test]
fn a_circular_template_include_names_the_template() {
    let site = Site::local();
    let repo = &site.repo;
    std::fs::create_dir_all(repo.path("templates/partials")).unwrap();
    std::fs::write(repo.path("templates/config-instance.xml"), "{% include \"partials/a.xml\" %}").unwrap();
    std::fs::write(repo.path("templates/partials/a.xml"), "{% include \"partials/b.xml\" %}").unwrap();
    std::fs::write(repo.path("templates/partials/b.xml"), "{% include \"partials/a.xml\" %}").unwrap();
    repo.run(&["validate"])
        .assert_exit(1)
        .stderr_contains("templates/partials/a.xml: error: template: Circular include");
}

#[test]
fn ims_status_prints_cells_of_any_length() {
    let site = Site::local();
    site.deploy();
    let file = site.deployed("app1", "config-mkt_prod.xml");
    let text = std::fs::read_to_string(&file).unwrap();
    let long: String = "é𝄞x".repeat(30_000);
    let edited = regex_free_replace_client_id(&text, &long);
    std::fs::write(&file, edited).unwrap();
    let out = site.run(&["ims", "status", "-e", "prod"]);
    out.assert_exit(0).assert_no_panic();
    assert!(out.stdout.contains(&long), "the long client id is not shown whole");
}

/// The deployed file with `authIMSTAClientId` set to `id` (added to `<shared><ims>` if missing).
fn regex_free_replace_client_id(text: &str, id: &str) -> String {
    match text.find("authIMSTAClientId=\"") {
        Some(start) => {
            let value = start + "authIMSTAClientId=\"".len();
            let end = value + text[value..].find('"').unwrap();
            format!("{}{id}{}", &text[..value], &text[end..])
        }
        None => text.replacen("<shared>", &format!("<shared>\n    <ims authIMSTAClientId=\"{id}\"/>"), 1),
    }
}
