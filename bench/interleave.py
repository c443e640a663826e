#!/usr/bin/env python3
"""Interleaved timing for `make bench` (bench/run.sh).

Times nlconf's commands and the floor (GNU `diff -ru`) on the fleets of one repository shape, round
after round: each round runs every command once on every fleet of the shape, smallest fleet first. So
the two sides of every ratio, and the two sizes of every growth figure, are timed seconds apart and see
the same host. On a shared machine whose load changes from minute to minute, timing one command ten
times and then the other ten times measured the host as much as nlconf.

    interleave.py --nlconf BIN --runs N [--rss-runs N] [--pin CPUS] [--plan] FILES=DIR [FILES=DIR ...]

Prints tab-separated lines on stdout:
    time   FILES COMMAND MEDIAN_SECONDS     median wall time of the timed runs
    rss    FILES COMMAND MAX_KB             largest peak RSS of the memory rounds (GNU time %M)
    ratio  FILES COMMAND MEDIAN             median over rounds of COMMAND / diff -ru, same round
    growth FROM TO COMMAND MEDIAN           median over rounds of (t_TO / TO) / (t_FROM / FROM)

First come the memory rounds (`--rss-runs`, at least one: the warm-up of the file cache and the
binary's pages), untimed, each run under GNU time for its peak RSS, their exit codes checked (0, or
1 for `diff -ru`, which found the drift). The peak RSS is not read from the timed runs: a process
started from this one (fork or posix_spawn) reports in ru_maxrss at least the RSS of this Python
process, which GNU time, small, does not add. Then the timed rounds.
"""

import argparse
import os
import shutil
import statistics
import sys
import time

FLOOR = "diff -ru"


def commands(nlconf, fleet, plan):
    """The commands timed on one fleet, in order: (name, argv, file to remove before each run)."""
    cmds = [
        ("validate", [nlconf, "-C", fleet, "validate"], None),
        ("diff", [nlconf, "-C", fleet, "diff", "-e", "fleet"], None),
    ]
    if plan:
        out = os.path.join(fleet, "plan.json")
        cmds.append(("plan", [nlconf, "-C", fleet, "plan", "-e", "fleet", "--out", out], out))
    cmds.append((FLOOR, ["diff", "-ru", os.path.join(fleet, "rendered"), os.path.join(fleet, "deployed")], None))
    return cmds


def run_once(argv, env, pin, stderr_path):
    """Runs argv with its output discarded; returns (wall seconds, exit code)."""
    if pin:
        argv = ["taskset", "-c", pin] + argv
    path = argv[0] if os.sep in argv[0] else which(argv[0])
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
    ]
    start = time.perf_counter()
    pid = os.posix_spawn(path, argv, env, file_actions=actions)
    _, status, _ = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    return wall, os.waitstatus_to_exitcode(status)


def rss_once(argv, env, pin, stderr_path, gnu_time, out_path):
    """Runs argv under GNU time; returns (exit code, peak RSS in KB or None)."""
    _, code = run_once([gnu_time, "-f", "%M", "-o", out_path] + argv, env, pin, stderr_path)
    try:
        with open(out_path, encoding="utf-8") as f:
            last = f.read().split()[-1:]
        return code, int(last[0]) if last and last[0].isdigit() else None
    except OSError:
        return code, None


def which(name):
    found = shutil.which(name)
    if found is None:
        sys.exit(f"bench: `{name}` not found on PATH")
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nlconf", required=True)
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--rss-runs", type=int, default=3)
    ap.add_argument("--pin", default="")
    ap.add_argument("--plan", action="store_true")
    ap.add_argument("fleets", nargs="+", metavar="FILES=DIR")
    args = ap.parse_args()

    fleets = []
    for spec in args.fleets:
        files, _, d = spec.partition("=")
        fleets.append((int(files), d))
    fleets.sort()

    gnu_time = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
    walls = {}  # (files, name) -> [seconds]
    rss = {}  # (files, name) -> max KB
    ratios = {}  # (files, name) -> [name / floor, per round]
    growth = {}  # (from, to, name) -> [per round]
    memory_rounds = max(args.rss_runs, 1)
    for rnd in range(memory_rounds + args.runs):
        timed = rnd >= memory_rounds
        this_round = {}
        for files, d in fleets:
            env = dict(os.environ, NO_COLOR="1", NLCONF_AGE_IDENTITY=os.path.join(d, "identity.txt"))
            stderr_path = os.path.join(d, ".bench-stderr")
            for name, argv, remove in commands(args.nlconf, d, args.plan):
                if remove:
                    try:
                        os.unlink(remove)
                    except FileNotFoundError:
                        pass
                if timed:
                    wall, code = run_once(argv, env, args.pin, stderr_path)
                    walls.setdefault((files, name), []).append(wall)
                    this_round[(files, name)] = wall
                    continue
                if gnu_time:
                    code, peak = rss_once(argv, env, args.pin, stderr_path, gnu_time, os.path.join(d, ".bench-rss"))
                    if peak is not None:
                        rss[(files, name)] = max(rss.get((files, name), 0), peak)
                else:
                    _, code = run_once(argv, env, args.pin, stderr_path)
                if not (code == 0 or (name == FLOOR and code == 1)):
                    with open(stderr_path, encoding="utf-8", errors="replace") as f:
                        sys.stderr.write(f"bench: `{' '.join(argv)}` failed with exit code {code}:\n{f.read()}")
                    sys.exit(1)
        if not timed:
            continue
        for files, d in fleets:
            floor = this_round[(files, FLOOR)]
            for name, _, _ in commands(args.nlconf, d, args.plan):
                ratios.setdefault((files, name), []).append(this_round[(files, name)] / floor)
        for (small, _), (big, d) in zip(fleets, fleets[1:]):
            for name, _, _ in commands(args.nlconf, d, args.plan):
                per_file = (this_round[(big, name)] / big) / (this_round[(small, name)] / small)
                growth.setdefault((small, big, name), []).append(per_file)

    for (files, name), v in walls.items():
        print(f"time\t{files}\t{name}\t{statistics.median(v):.6f}")
    for (files, name), v in rss.items():
        print(f"rss\t{files}\t{name}\t{v}")
    for (files, name), v in ratios.items():
        print(f"ratio\t{files}\t{name}\t{statistics.median(v):.4f}")
    for (small, big, name), v in growth.items():
        print(f"growth\t{small}\t{big}\t{name}\t{statistics.median(v):.4f}")


if __name__ == "__main__":
    main()
