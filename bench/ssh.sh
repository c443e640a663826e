#!/usr/bin/env bash
# `make bench`, part 2 (also on its own: ./bench/ssh.sh): a fleet of hosts over SSH (DESIGN §7.1).
# An ssh stand-in (examples/ssh_standin.rs, first on PATH as `ssh`) costs what a network costs: SSH_STANDIN_HANDSHAKE seconds
# per new connection (default 0.150), SSH_STANDIN_RTT per command over one (default 0.030), and runs
# the remote script on this machine; a do-nothing nlserver stands in for nlserver.
#
# The fleet: 50 instances x 4 containers, each container on a host of its own (200 hosts, 200 files),
# every deployed file drifted, no credential ever applied: apply writes every file, sets the IMS
# credentials and reloads on each container. Reported: diff, plan and apply (medians), and the
# connections the stand-in counted per run and per host.
#
# Settings: BENCH_SSH_RUNS (default 3), BENCH_SSH_PARALLELISM (default: nlconf's own default),
# BENCH_DIR (default ${TMPDIR:-/tmp}/nlconf-bench), NLCONF_BIN (default: a release build of this
# checkout, built here), FLEET_BIN and STANDIN_BIN (with NLCONF_BIN: nothing is built), BENCH_OUT (the report is appended to it when set).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${BENCH_SSH_RUNS:-3}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/nlconf-bench}
INSTANCES=50 CONTAINERS=4
export SSH_STANDIN_HANDSHAKE=${SSH_STANDIN_HANDSHAKE:-0.150} SSH_STANDIN_RTT=${SSH_STANDIN_RTT:-0.030}
log() { printf '%s\n' "$*" >&2; }

# NLCONF_BIN and FLEET_BIN (both set): binaries built elsewhere (e.g. another commit's), nothing built.
if [ -z "${NLCONF_BIN:-}" ] || [ -z "${FLEET_BIN:-}" ] || [ -z "${STANDIN_BIN:-}" ]; then
    cargo build --release --quiet --example fleet --example ssh_standin --bin nlconf
    TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
fi
N=${NLCONF_BIN:-$TARGET_DIR/release/nlconf}
FLEET_BIN=${FLEET_BIN:-$TARGET_DIR/release/examples/fleet}
STANDIN_BIN=${STANDIN_BIN:-$TARGET_DIR/release/examples/ssh_standin}
PAR=()
[ -n "${BENCH_SSH_PARALLELISM:-}" ] && PAR=(--parallelism "$BENCH_SSH_PARALLELISM")

F=$BENCH_DIR/ssh-fleet
if [ ! -f "$F/.nlconf-ssh-bench" ]; then
    log "bench: generating $INSTANCES x $CONTAINERS containers on $((INSTANCES * CONTAINERS)) hosts in $F"
    rm -rf "$F"
    "$FLEET_BIN" --out "$F" --instances $INSTANCES --containers $CONTAINERS --secrets $INSTANCES --drift 1.0 --seed 7 \
        --nlconf "$N" >/dev/null
    # Each container is its own host (the generator names one per container); the conf folders are
    # this machine's, where the stand-in runs the remote scripts.
    python3 - "$F" "$ROOT/bench/ssh-standin/nlserver" <<'PY'
import pathlib, re, sys
root, nlserver = pathlib.Path(sys.argv[1]), sys.argv[2]
env = root / "environments/fleet/environment.yaml"
text = env.read_text()
text, n = re.subn(r"target:\n  kind: local\n  conf_dir: deployed/\{container\}\n",
                  f"nlserver: {nlserver}\n\ntarget:\n  kind: ssh\n  conf_dir: {root}/deployed/{{container}}\n", text)
assert n == 1, "the generator's target block changed: update bench/ssh.sh"
env.write_text(text)
PY
    rm -rf "$F/pristine" && cp -a "$F/deployed" "$F/pristine"
    touch "$F/.nlconf-ssh-bench"
fi
HOSTS=$(grep -ho 'host: [^ }]*' "$F"/environments/fleet/*.yaml | sort -u | wc -l)
STANDIN_DIR=$F/standin-path
mkdir -p "$STANDIN_DIR" && ln -sf "$STANDIN_BIN" "$STANDIN_DIR/ssh"
export PATH="$STANDIN_DIR:$PATH" NO_COLOR=1
reset() { rm -rf "$F/deployed" && cp -a "$F/pristine" "$F/deployed"; }

# run NAME CMD...: times RUNS runs (each after reset), prints the median and the connections per run.
results=()
run() {
    local name=$1; shift
    local times=() conns=0 code
    for _ in $(seq "$RUNS"); do
        reset
        [ "$name" = apply ] && { "$N" -C "$F" -i "$F/identity.txt" plan -e fleet --out "$F/plan.json" "${PAR[@]}" >/dev/null 2>&1 || true; }
        : > "$F/connections.log"
        local t0; t0=$(date +%s.%N)
        set +e; SSH_STANDIN_LOG="$F/connections.log" "$@" >/dev/null 2>"$F/stderr.txt"; code=$?; set -e
        local t1; t1=$(date +%s.%N)
        if [ "$code" -ne 0 ] && [ "$code" -ne 2 ]; then log "bench: $name failed ($code):"; tail -5 "$F/stderr.txt" >&2; exit 1; fi
        times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")
        conns=$(wc -l < "$F/connections.log")
    done
    local med; med=$(printf '%s\n' "${times[@]}" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    results+=("| \`$name\` | $(printf '%.2f' "$med") s | $conns | $(awk -v c="$conns" -v h="$HOSTS" 'BEGIN { printf "%.2f", c / h }') |")
}
run diff "$N" -C "$F" -i "$F/identity.txt" diff -e fleet "${PAR[@]}"
run plan "$N" -C "$F" -i "$F/identity.txt" plan -e fleet --out "$F/plan.json" "${PAR[@]}"
run apply "$N" -C "$F" -i "$F/identity.txt" apply "$F/plan.json" "${PAR[@]}"
reset

report=$(
    echo "### Over SSH: $INSTANCES instances x $CONTAINERS containers on $HOSTS hosts"
    echo
    echo "ssh stand-in: ${SSH_STANDIN_HANDSHAKE} s per new connection, ${SSH_STANDIN_RTT} s per command; parallelism ${BENCH_SSH_PARALLELISM:-default}; median of $RUNS runs; $("$N" --version)."
    echo
    echo "| command | median | connections | per host |"
    echo "|---|--:|--:|--:|"
    printf '%s\n' "${results[@]}"
)
echo "$report"
[ -n "${BENCH_OUT:-}" ] && { mkdir -p "$(dirname "$BENCH_OUT")"; printf '\n%s\n' "$report" >> "$BENCH_OUT"; }
exit 0
