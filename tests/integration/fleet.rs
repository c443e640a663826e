//! A fleet of hosts over the real sshd of the test suite (DESIGN §7.1, issue 16): one connection per
//! host per run, counted in sshd's own log; containers of several hosts applied at once; rolling
//! applies (`--batch`) and `--max-fail`; the report and the next plan telling the truth after a
//! failure; the private folder of the control sockets removed after every run, failed ones too.
//!
//! The three containers are three hosts: app1 on 127.0.0.1 (two instances), app2 on 127.0.0.2 and
//! app3 on 127.0.0.3, all served by the one sshd. Their nlserver is a wrapper around the stand-in
//! that can meet the others (a rendezvous, to show that containers run at the same time without
//! timing anything) and fail on a container whose conf folder holds `.fail-reload`.

use std::path::{Path, PathBuf};

use crate::apply::{STANDIN, Site, reload, summary};
use crate::harness::Output;
use crate::ssh::Sshd;

/// A site whose containers are on three hosts (their conf folders made), with the wrapper as nlserver.
struct Fleet {
    sshd: Sshd,
    site: Site,
    /// `TMPDIR` of every nlconf run: where the control sockets' folder is made (and must go).
    tmp: tempfile::TempDir,
    /// The wrapper's rendezvous folder and its log of calls (`<container> <args>` per line).
    rendezvous: PathBuf,
    calls: PathBuf,
}

impl Fleet {
    /// `None` (skipped, with a notice) without sshd, unless CI is set.
    fn start(meet: usize) -> Option<Fleet> {
        let sshd = Sshd::start()?;
        let site = sshd.site_with(false);
        site.edit("app2: { host: 127.0.0.1 }", "app2: { host: 127.0.0.2 }");
        site.edit("app3: { host: 127.0.0.1 }", "app3: { host: 127.0.0.3 }");
        let work = site.repo.work_path("");
        let rendezvous = work.join("rendezvous");
        let calls = work.join("calls.log");
        std::fs::create_dir_all(&rendezvous).unwrap();
        let wrapper = work.join("nlserver-wrapper");
        std::fs::write(&wrapper, wrapper_script(&rendezvous, &calls, meet)).unwrap();
        std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        site.edit(&format!("nlserver: {STANDIN}"), &format!("nlserver: {}", wrapper.display()));
        let tmp = tempfile::Builder::new().prefix("nlconf-tmp-").tempdir().unwrap();
        Some(Fleet { sshd, site, tmp, rendezvous, calls })
    }

    fn run(&self, args: &[&str]) -> Output {
        let tmp = self.tmp.path().to_string_lossy().into_owned();
        self.site.run_env(args, &[("TMPDIR", &tmp)])
    }

    /// Connections sshd accepted so far.
    fn connections(&self) -> usize {
        let log = std::fs::read_to_string(self.sshd.dir.path().join("sshd.log")).unwrap_or_default();
        log.lines().filter(|l| l.contains("Accepted publickey")).count()
    }

    /// Runs `nlconf ARGS`, checks its exit code, and returns its output and the connections it made.
    #[track_caller]
    fn counted(&self, args: &[&str], code: i32) -> (Output, usize) {
        let before = self.connections();
        let out = self.run(args);
        out.assert_exit(code);
        // sshd logs a connection as it authenticates it, before nlconf's first command there returns.
        (out, self.connections() - before)
    }

    /// Nothing left of the run's control sockets.
    #[track_caller]
    fn assert_no_socket_left(&self) {
        let left: Vec<String> = std::fs::read_dir(self.tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(left.is_empty(), "left in TMPDIR after the run: {left:?}");
    }

    /// The wrapper's calls, in the order they were made: `<container> <args>`.
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.calls).unwrap_or_default().lines().map(str::to_string).collect()
    }

    /// How many containers the wrapper saw at the rendezvous at once, per container.
    fn met(&self) -> Vec<usize> {
        std::fs::read_dir(&self.rendezvous)
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                let seen = name.strip_prefix("seen-")?.to_string();
                Some(
                    std::fs::read_to_string(self.rendezvous.join(format!("seen-{seen}")))
                        .unwrap()
                        .trim()
                        .parse()
                        .unwrap(),
                )
            })
            .collect()
    }

    fn fail_reload_on(&self, container: &str) {
        std::fs::create_dir_all(self.site.conf(container)).unwrap();
        std::fs::write(self.site.conf(container).join(".fail-reload"), "").unwrap();
    }

    fn heal(&self, container: &str) {
        std::fs::remove_file(self.site.conf(container).join(".fail-reload")).unwrap();
    }
}

/// The wrapper: logs the call; on the first `config -reload` of each container, waits (at most
/// 20 s) until `meet` containers have arrived, and writes how many it saw; fails that reload where
/// the conf folder holds `.fail-reload`; where it holds `.fail-record`, echoes the credential step's
/// arguments (the secret) to stderr and puts a folder where its state record goes; otherwise runs
/// the stand-in.
fn wrapper_script(rendezvous: &Path, calls: &Path, meet: usize) -> String {
    format!(
        r#"#!/bin/sh
conf=${{NLCONF_CONF_DIR:-$PWD}}
name=$(basename "$conf")
echo "$name $*" >> '{calls}'
if [ "$*" = "config -reload" ] && [ ! -e '{rdv}'/"seen-$name" ]; then
    : > '{rdv}'/"here-$name"
    i=0
    while [ "$(ls '{rdv}' | grep -c '^here-')" -lt {meet} ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
    ls '{rdv}' | grep -c '^here-' > '{rdv}'/"seen-$name"
fi
case "$*" in *-setimsoauth:*)
    if [ -e "$conf/.fail-record" ]; then
        echo "echoed: $*" >&2
        rm -f "$conf/.nlconf/state-mkt_prod.json"; mkdir "$conf/.nlconf/state-mkt_prod.json"
    fi;;
esac
if [ "$*" = "config -reload" ] && [ -e "$conf/.fail-reload" ]; then
    echo "ERROR: simulated failure of config -reload on $name" >&2
    exit 1
fi
exec '{standin}' "$@"
"#,
        calls = calls.display(),
        rdv = rendezvous.display(),
        standin = STANDIN,
    )
}

#[test]
fn one_connection_per_host_containers_of_several_hosts_at_once_and_no_socket_left() {
    let Some(fleet) = Fleet::start(3) else { return };
    let (out, connections) = fleet.counted(&["plan", "-e", "prod", "--out", "p.plan", "--detailed-exitcode"], 2);
    assert_eq!(connections, 3, "plan: one connection per host\n{}", out.stderr);
    fleet.assert_no_socket_left();
    assert_eq!(summary(&out.stdout).len(), 4, "{}", out.stdout);

    let (out, connections) = fleet.counted(&["apply", "p.plan"], 0);
    // Read, locks, the check under the locks, writes, backups, state records and every step: all
    // over the host's one connection.
    assert_eq!(connections, 3, "apply: one connection per host\n{}", out.stderr);
    fleet.assert_no_socket_left();
    assert!(out.stdout.ends_with("4 of 4 containers done\n"), "{}", out.stdout);
    // The three hosts' first containers were at the rendezvous together.
    let met = fleet.met();
    assert_eq!(met.len(), 3, "{met:?}");
    assert!(met.iter().all(|&n| n == 3), "the containers did not run at the same time: {met:?}");
    // A host's containers one after the other, in plan order.
    let app1: Vec<String> = fleet.calls().into_iter().filter(|c| c.starts_with("app1 ")).collect();
    assert_eq!(app1[0], "app1 config -reload", "{app1:?}");
    assert!(app1[1].starts_with("app1 config -instance:mkt_prod -setimsoauth:"), "{app1:?}");
    let mut argv = fleet.site.take_argv();
    argv.sort();
    let mut expected = vec![reload("app1"), reload("app1"), reload("app2"), reload("app3")];
    expected.sort();
    let reloads: Vec<_> = argv.into_iter().filter(|(_, a)| a == &["config", "-reload"]).collect();
    assert_eq!(reloads, expected);

    let (_, connections) = fleet.counted(&["plan", "-e", "prod", "--out", "q.plan", "--detailed-exitcode"], 0);
    assert_eq!(connections, 3);
    fleet.assert_no_socket_left();
}

#[test]
fn a_container_failing_mid_way_while_others_run_the_report_and_the_next_plan_tell_the_truth() {
    let Some(fleet) = Fleet::start(3) else { return };
    fleet.fail_reload_on("app1");
    fleet.site.plan("p.plan", 2);
    let (out, _) = fleet.counted(&["apply", "p.plan"], 1);
    fleet.assert_no_socket_left();
    // app1's first container fails once all three were started: the others finish; app1's second
    // container, on the same host after the failure, is not started (--max-fail 0).
    assert_eq!(
        fleet.site.norm(&out.stdout),
        "apply prod:
  app1 (mid_prod): PARTIAL: wrote config-mid_prod.xml; then failed: `$WORK/nlserver-wrapper config -reload` failed (exit 1): ERROR: simulated failure of config -reload on app1
  app3 (mid_prod): done: wrote config-mid_prod.xml, ran config -reload
  app1 (mkt_prod): not started (apply stopped before it)
  app2 (mkt_prod): done: wrote config-mkt_prod.xml, set the IMS credentials, ran config -reload
2 of 4 containers done, 1 failed, 1 not started
",
        "{}",
        out.stderr
    );
    assert!(fleet.met().iter().all(|&n| n == 3), "{:?}", fleet.met());
    for c in ["app1", "app2", "app3"] {
        assert!(!fleet.site.conf(c).join(".nlconf/lock").exists(), "{c}: lock left after the failure");
    }
    // The next plan: app1's reload is still to do; its other file is new; the rest is done.
    let out = fleet.site.plan("q.plan", 2);
    assert_eq!(
        summary(&out.stdout),
        [
            "app1: config-mid_prod.xml: unchanged",
            "app3: config-mid_prod.xml: unchanged",
            "app1: config-mkt_prod.xml: new file (+10 -0)",
            "app2: config-mkt_prod.xml: unchanged",
        ]
    );
    let steps = crate::apply::planned_steps(&crate::apply::plan_json(&fleet.site, "q.plan"));
    assert!(steps.iter().any(|s| s.starts_with("app1 (mid_prod): ") && s.ends_with(" config -reload")), "{steps:?}");
    assert!(!steps.iter().any(|s| s.starts_with("app2 ") || s.starts_with("app3 ")), "{steps:?}");
    fleet.heal("app1");
    fleet.site.apply("q.plan");
    fleet.site.plan("r.plan", 0);
    fleet.site.assert_no_leak_in_files();
}

#[test]
fn max_fail_lets_the_others_go_on() {
    let Some(fleet) = Fleet::start(1) else { return };
    fleet.fail_reload_on("app1");
    fleet.site.plan("p.plan", 2);
    let (out, _) = fleet.counted(&["apply", "--max-fail", "1", "p.plan"], 1);
    fleet.assert_no_socket_left();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[1].starts_with("  app1 (mid_prod): PARTIAL: wrote config-mid_prod.xml; then failed: "), "{lines:?}");
    assert_eq!(lines[2], "  app3 (mid_prod): done: wrote config-mid_prod.xml, ran config -reload");
    assert!(
        lines[3].starts_with(
            "  app1 (mkt_prod): PARTIAL: wrote config-mkt_prod.xml, set the IMS credentials; then failed: "
        ),
        "{lines:?}"
    );
    assert_eq!(
        lines[4],
        "  app2 (mkt_prod): done: wrote config-mkt_prod.xml, set the IMS credentials, ran config -reload"
    );
    assert_eq!(lines[5], "2 of 4 containers done, 2 failed, 0 not started");
}

#[test]
fn a_rolling_apply_finishes_each_batch_before_the_next_and_stops_after_a_failed_one() {
    let Some(fleet) = Fleet::start(1) else { return };
    fleet.site.plan("p.plan", 2);
    // Batches of two in plan order: [app1 (mid_prod), app3 (mid_prod)], [app1 (mkt_prod), app2 (mkt_prod)].
    let (out, connections) = fleet.counted(&["apply", "--batch", "2", "p.plan"], 0);
    assert_eq!(connections, 3, "{}", out.stderr);
    fleet.assert_no_socket_left();
    let calls = fleet.calls();
    let at = |call: &str| calls.iter().position(|c| c == call);
    let second = calls.iter().position(|c| c.contains("mkt_prod") || c.starts_with("app2 "));
    let (Some(app1), Some(app3), Some(second)) = (at("app1 config -reload"), at("app3 config -reload"), second) else {
        panic!("{calls:?}")
    };
    assert!(app1 < second && app3 < second, "the second batch started before the first was finished: {calls:?}");

    // A failed batch: nothing of the next is started.
    fleet.site.edit("hosts: \"mid.example.com*\"", "hosts: \"mid2.example.com*\"");
    fleet.site.edit("processingThreads: 4", "processingThreads: 6");
    fleet.fail_reload_on("app3");
    fleet.site.plan("q.plan", 2);
    std::fs::remove_file(&fleet.calls).unwrap();
    let (out, _) = fleet.counted(&["apply", "--batch", "50%", "q.plan"], 1);
    fleet.assert_no_socket_left();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[1], "  app1 (mid_prod): done: wrote config-mid_prod.xml, ran config -reload", "{lines:?}");
    assert!(lines[2].starts_with("  app3 (mid_prod): PARTIAL: "), "{lines:?}");
    assert_eq!(lines[3], "  app1 (mkt_prod): not started (apply stopped before it)");
    assert_eq!(lines[4], "  app2 (mkt_prod): not started (apply stopped before it)");
    assert!(fleet.calls().iter().all(|c| !c.contains("mkt_prod") && !c.starts_with("app2 ")), "{:?}", fleet.calls());
}

#[test]
fn a_host_that_cannot_be_reached_fails_its_containers_only_and_leaves_no_socket() {
    let Some(fleet) = Fleet::start(1) else { return };
    // Nothing listens on 127.0.0.4.
    fleet.site.edit("app2: { host: 127.0.0.2 }", "app2: { host: 127.0.0.4 }");
    let (out, connections) = fleet.counted(&["plan", "-e", "prod", "--out", "p.plan"], 1);
    assert_eq!(connections, 2, "the hosts that answer: one connection each\n{}", out.stderr);
    fleet.assert_no_socket_left();
    let errors: Vec<&str> = out.stderr.lines().filter(|l| l.contains("error: ")).collect();
    assert_eq!(errors.len(), 1, "{}", out.stderr);
    assert!(errors[0].contains("app2: cannot read the state record: "), "{}", out.stderr);
    assert!(errors[0].contains("Connection refused"), "{}", out.stderr);
    assert!(!std::path::Path::new(&fleet.site.repo.path("p.plan")).exists(), "a plan was written");
}

#[test]
fn batch_and_parallelism_are_checked() {
    let Some(fleet) = Fleet::start(1) else { return };
    for (args, wrong) in [
        (&["apply", "--batch", "0", "p.plan"][..], "--batch"),
        (&["apply", "--batch", "101%", "p.plan"][..], "--batch"),
        (&["apply", "--batch", "x", "p.plan"][..], "--batch"),
        (&["plan", "-e", "prod", "--out", "p.plan", "--parallelism", "0"][..], "--parallelism"),
    ] {
        let out = fleet.run(args);
        out.assert_exit(1);
        assert!(out.stderr.contains(wrong), "{args:?}: {}", out.stderr);
    }
    // One host at a time gives the same plan as ten.
    let one = fleet.run(&["diff", "-e", "prod", "--parallelism", "1"]);
    let ten = fleet.run(&["diff", "-e", "prod"]);
    one.assert_exit(0);
    assert_eq!(one.stdout, ten.stdout);
}

#[test]
fn ctrl_c_finishes_the_container_in_flight_releases_the_locks_and_closes_the_connections() {
    use std::process::Stdio;
    // app1's first reload waits at the rendezvous for a second arrival: the test, after the signal.
    let Some(fleet) = Fleet::start(2) else { return };
    fleet.site.plan("p.plan", 2);
    let tmp = fleet.tmp.path().to_string_lossy().into_owned();
    let path = crate::apply::search_path();
    let env = [("NLCONF_AGE_IDENTITY", crate::harness::PROD_IDENTITY), ("PATH", path.as_str()), ("TMPDIR", &tmp)];
    let child = fleet
        .site
        .repo
        .command(&["apply", "--parallelism", "1", "p.plan"], &env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let arrived = fleet.rendezvous.join("here-app1");
    for _ in 0..600 {
        if arrived.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(arrived.exists(), "app1's reload never started");
    let kill = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    // Let the signal land before the step in flight may finish.
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::fs::write(fleet.rendezvous.join("here-test"), "").unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert_eq!(
        stdout,
        "apply prod:
  app1 (mid_prod): done: wrote config-mid_prod.xml, ran config -reload
  app3 (mid_prod): not started (apply stopped before it)
  app1 (mkt_prod): not started (apply stopped before it)
  app2 (mkt_prod): not started (apply stopped before it)
1 of 4 containers done, 0 failed, 3 not started
",
        "{stderr}"
    );
    assert!(
        stderr.contains("error: interrupted: the steps in flight were finished, nothing more was started"),
        "{stderr}"
    );
    for c in ["app1", "app2", "app3"] {
        assert!(!fleet.site.conf(c).join(".nlconf/lock").exists(), "{c}: lock left after Ctrl-C");
    }
    fleet.assert_no_socket_left();
    // The next plan applies what is left.
    fleet.site.plan("q.plan", 2);
    fleet.site.apply("q.plan");
    fleet.site.plan("r.plan", 0);
}

#[test]
fn a_record_that_cannot_be_written_after_a_credential_step_is_reported_without_what_nlserver_printed() {
    let Some(fleet) = Fleet::start(1) else { return };
    std::fs::write(fleet.site.conf("app2").join(".fail-record"), "").unwrap();
    fleet.site.plan("p.plan", 2);
    // `run` checks every output for the secret: nlserver echoed it on stderr.
    let (out, _) = fleet.counted(&["apply", "p.plan"], 1);
    fleet.assert_no_socket_left();
    let line = out.stdout.lines().find(|l| l.starts_with("  app2 (mkt_prod): ")).unwrap_or_default();
    assert!(
        line.starts_with("  app2 (mkt_prod): PARTIAL: wrote config-mkt_prod.xml, set the IMS credentials; then failed: cannot write the state record: "),
        "{}",
        out.stdout
    );
    assert!(line.contains("state-mkt_prod.json is not a regular file"), "{line}");
    assert!(!out.stderr.contains("echoed:") && !out.stdout.contains("echoed:"), "{}", out.stderr);
}
