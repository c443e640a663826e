//! The shell side of an ssh target: what runs in the container's conf folder on the host, which is
//! as hostile as a local one (see `local`). A shell has no `openat`; the scripts instead enter each
//! folder nlconf owns by its physical path and check it is where it should be (`cd -P`, `pwd -P`),
//! so that a name swapped afterwards no longer matters; refuse a symlink or a special file where
//! nlconf reads or writes; create temporary and lock files exclusively (`mktemp`, `ln -T`); copy a
//! mode and owner read with `stat` (no `--reference`, which follows links); and rename over a name
//! (`mv -T`), which replaces a symlink instead of following it.

use super::shell_quote;

/// Helpers every script starts with, after entering the conf folder (`$conf`, its physical path).
const FUNCTIONS: &str = r#"nl_refuse() { echo "nlconf: $1: refused (whoever can write the conf folder could point nlconf elsewhere)" >&2; exit 4; }
nl_enter() { if [ -L "$1" ]; then nl_refuse "$(pwd -P)/$1 is a symlink"; fi; if [ -e "$1" ] && [ ! -d "$1" ]; then nl_refuse "$(pwd -P)/$1 is not a folder"; fi; [ -d "$1" ] || mkdir -m 700 -- "$1"; nl_want="$(pwd -P)/$1"; cd -P -- "$1"; [ "$(pwd -P)" = "$nl_want" ] || nl_refuse "$nl_want moved while nlconf entered it"; }
nl_regular() { if [ -L "$1" ]; then nl_refuse "$(pwd -P)/$1 is a symlink"; fi; if [ -e "$1" ] && [ ! -f "$1" ]; then nl_refuse "$(pwd -P)/$1 is not a regular file"; fi; }"#;

/// A script run in the conf folder `dir`.
pub fn script(dir: &str, body: &str) -> String {
    format!("set -e; umask 077; cd -P -- {}; conf=$(pwd -P)\n{FUNCTIONS}\n{body}", shell_quote(dir))
}

/// Reads, per folder, `files` (names in the conf folder, or in its `.nlconf`), each as a header
/// line and the bytes: `-` absent, `L` a symlink, `S` not a regular file, `B` over `cap` bytes,
/// else its size. A conf folder that does not exist yet holds nothing.
pub fn read_folders(folders: &[(&str, &[&str])], cap: u64) -> String {
    let mut s = String::from("set -e");
    for (dir, files) in folders {
        let absent: String = files.iter().map(|_| "echo -; ").collect();
        s.push_str(&format!("; ( cd -P -- {} 2>/dev/null || {{ {absent}exit 0; }}", shell_quote(dir)));
        for f in files.iter() {
            let (enter, name) = match f.strip_prefix(".nlconf/") {
                Some(name) => (
                    "if [ -L .nlconf ]; then echo L; exit 0; fi; if [ ! -d .nlconf ]; then echo -; exit 0; fi; cd -P .nlconf; ",
                    name,
                ),
                None => ("", *f),
            };
            s.push_str(&format!(
                "; ( {enter}p={p}; if [ -L \"$p\" ]; then echo L; elif [ ! -e \"$p\" ]; then echo -; \
                 elif [ ! -f \"$p\" ]; then echo S; else n=$(wc -c < \"$p\"); n=$((n+0)); \
                 if [ \"$n\" -gt {cap} ]; then echo B; else echo $n; head -c $n -- \"$p\"; fi; fi )",
                p = shell_quote(name)
            ));
        }
        s.push_str(" )");
    }
    s
}

/// Writes stdin to `file` (`config-<i>.xml`, or `.nlconf/state-<i>.json`) atomically, keeping the
/// mode and owner of the file it replaces (new files: 0640, the conf folder's owner).
pub fn write_atomic(file: &str) -> String {
    write_atomic_from(file, "cat")
}

/// `write_atomic`, of what `source` (a shell command) prints.
pub fn write_atomic_from(file: &str, source: &str) -> String {
    let (into_work, name) = match file.strip_prefix(".nlconf/") {
        Some(name) => (true, name),
        None => (false, file),
    };
    let n = shell_quote(name);
    let check = if into_work { format!("nl_enter .nlconf; nl_regular {n}") } else { format!("nl_regular {n}") };
    let dest = if into_work { format!("\"$conf\"/.nlconf/{n}") } else { format!("\"$conf\"/{n}") };
    format!(
        "{check}; if [ -e {n} ]; then m=$(stat -c %a -- {n}); o=$(stat -c %u:%g -- {n}); \
         else m=640; o=$(stat -c %u:%g -- \"$conf\"); fi; {private}cd -P -- \"$conf\"; nl_enter .nlconf; \
         tmp=$(mktemp tmp-{t}.XXXXXX); trap 'rm -f -- \"$tmp\"' EXIT; {source} > \"$tmp\"; chmod \"$m\" \"$tmp\"; \
         chown \"$o\" \"$tmp\" 2>/dev/null || true; sync \"$tmp\" 2>/dev/null || sync; \
         mv -fT -- \"$tmp\" {dest}; trap - EXIT; sync \"$conf\" 2>/dev/null || true",
        t = name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_', "_"),
        // nlconf's own records (fingerprints of credentials) are for its user alone.
        private = if into_work { "m=600; " } else { "" },
    )
}

/// Copies `file` to `.nlconf/backups/<file>.<stamp>` and keeps the newest `keep` of its backups;
/// only regular files named as nlconf names them are removed.
pub fn backup(file: &str, stamp: &str, keep: usize) -> String {
    let f = shell_quote(file);
    let pattern = format!("^{}\\.[0-9]{{8}}T[0-9]{{6}}\\.[0-9]{{9}}Z$", file.replace('.', "\\."));
    format!(
        "nl_regular {f}; [ -e {f} ] || exit 0; m=$(stat -c %a -- {f}); nl_enter .nlconf; nl_enter backups; \
         tmp=$(mktemp bak.XXXXXX); trap 'rm -f -- \"$tmp\"' EXIT; cat -- \"$conf\"/{f} > \"$tmp\"; \
         chmod \"$m\" \"$tmp\"; touch -r \"$conf\"/{f} \"$tmp\" 2>/dev/null || true; mv -fT -- \"$tmp\" {name}; trap - EXIT; \
         ls -1A | grep -E -- {pattern} | sort | head -n -{keep} | while IFS= read -r x; do \
         if [ -f \"$x\" ] && [ ! -L \"$x\" ]; then rm -f -- \"$x\"; fi; done",
        name = shell_quote(&format!("{file}.{stamp}")),
        pattern = shell_quote(&pattern),
    )
}

/// Takes the lock from stdin: exit 0 when taken, 3 (with the holder on stdout) when held.
pub const LOCK: &str = "nl_enter .nlconf; t=$(mktemp lock.XXXXXX); cat > \"$t\"; \
    if ln -T -- \"$t\" lock 2>/dev/null; then rm -f -- \"$t\"; \
    for x in tmp-*; do if [ -f \"$x\" ] && [ ! -L \"$x\" ]; then rm -f -- \"$x\"; fi; done; exit 0; \
    else rm -f -- \"$t\"; if [ -L lock ] || [ ! -f lock ]; then nl_refuse \"$(pwd -P)/lock is a symlink or not a regular file\"; fi; \
    head -c 65536 lock; exit 3; fi";

/// Removes the lock (a symlink named `lock` included, never what it points to).
pub const UNLOCK: &str = "if [ -L .nlconf ]; then nl_refuse \"$conf/.nlconf is a symlink\"; fi; [ -d .nlconf ] || exit 0; cd -P .nlconf; rm -f -- lock";

/// In one script: the state record from stdin's first line (when `record` names it), a backup of
/// `file`, then `file` from the rest of stdin. Each part runs in its own subshell (from the conf
/// folder, its failure ends the script) and says `done <part>` on stdout when it is done.
pub fn write_backed_up(file: &str, stamp: &str, keep: usize, record: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(state) = record {
        parts.push("IFS= read -r nl_state".to_string());
        parts.push(format!("( {} ); echo done record", write_atomic_from(state, "printf '%s\\n' \"$nl_state\"")));
    }
    parts.push(format!("( {} ); echo done backup", backup(file, stamp, keep)));
    parts.push(format!("( {} ); echo done file", write_atomic(file)));
    parts.join("\n")
}

/// Runs `command` (a shell command line, its arguments quoted) in the conf folder `dir` with the
/// umask and environment the user's shell gives, its output on stderr; on success says `ran` on
/// stdout, writes the state record `state` from the variable `nl_state`, and says `recorded` (or
/// `not recorded: ` and why, on stdout: stderr holds what the command printed, which may echo a
/// secret of its arguments). Exits with the command's status when it fails.
pub fn run_and_record(dir: &str, command: &str, state: &str) -> String {
    // Not `( ... ) && echo`: a shell ignores `set -e` inside a subshell whose status is tested.
    format!(
        "( {command} ) >&2; nl_rc=$?; unset a; if [ $nl_rc -ne 0 ]; then exit $nl_rc; fi; echo ran\n\
         nl_err=$( ( {} ) 2>&1 ); if [ $? -eq 0 ]; then echo recorded; else printf 'not recorded: %s\\n' \"$nl_err\"; fi",
        script(dir, &write_atomic_from(state, "printf '%s\\n' \"$nl_state\"")),
    )
}
