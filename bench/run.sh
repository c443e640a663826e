#!/usr/bin/env bash
# `make bench`: times nlconf on generated fleets against the byte-compare floor (GNU diff -ru) and
# prints a markdown table of medians. See bench/README.md for what each column means.
#
# Settings (environment variables):
#   BENCH_SIZES  instances per fleet, 5 containers each   (default "20 200 1000": 100, 1,000, 5,000 files)
#   BENCH_RUNS   timed runs per command                   (default 5; the largest fleet uses at most 3)
#   BENCH_RSS_RUNS runs under /usr/bin/time for peak RSS  (default 3; 1 on the largest fleet)
#   BENCH_DIR    where fleets are generated and cached    (default ${TMPDIR:-/tmp}/nlconf-bench)
#   BENCH_CPUS   CPU list to pin to with taskset          (default "0,1" when the machine has more than
#                2 CPUs, as the targets are set for 2 cores; "" to not pin)
#   BENCH_OUT    where the report is also written         (default target/bench/report.md)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SIZES=${BENCH_SIZES:-"20 200 1000"}
RUNS=${BENCH_RUNS:-5}
RSS_RUNS=${BENCH_RSS_RUNS:-3}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/nlconf-bench}
OUT=${BENCH_OUT:-$ROOT/target/bench/report.md}
CONTAINERS=5

log() { printf '%s\n' "$*" >&2; }

# --- tools ------------------------------------------------------------------------------------------
if ! command -v hyperfine >/dev/null 2>&1; then
    log "bench: hyperfine not found; trying apt-get install -y hyperfine"
    if command -v apt-get >/dev/null 2>&1; then
        SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
        $SUDO apt-get install -y -qq hyperfine >/dev/null 2>&1 || log "bench: could not install hyperfine; timing with a loop instead"
    fi
fi
HYPERFINE=$(command -v hyperfine || true)
GNU_TIME=""
[ -x /usr/bin/time ] && /usr/bin/time -f '%M' true >/dev/null 2>&1 && GNU_TIME=/usr/bin/time
PY=$(command -v python3 || true)
if ! diff --version 2>/dev/null | grep -q GNU; then
    log "bench: GNU diff is needed for the floor (diff -ru)"; exit 1
fi

NPROC=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)
if [ -z "${BENCH_CPUS+x}" ]; then
    BENCH_CPUS=""
    [ "$NPROC" -gt 2 ] && command -v taskset >/dev/null 2>&1 && BENCH_CPUS="0,1"
fi
PIN=()
[ -n "$BENCH_CPUS" ] && PIN=(taskset -c "$BENCH_CPUS")

# --- build once -------------------------------------------------------------------------------------
log "bench: cargo build --release (nlconf and the fleet generator)"
cargo build --release --quiet --bin nlconf --example fleet
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
N=$TARGET_DIR/release/nlconf
FLEET=$TARGET_DIR/release/examples/fleet
HAS_PLAN=0
grep -qE '^\s+plan\s' <<<"$("$N" --help)" && HAS_PLAN=1

export NO_COLOR=1

# --- helpers ----------------------------------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

now() { date +%s.%N; }

# Peak RSS in KB of one run of "$@" (output discarded), or empty when it cannot be measured.
rss_once() {
    if [ -n "$GNU_TIME" ]; then
        local f; f=$(mktemp)
        "${PIN[@]}" "$GNU_TIME" -f '%M' -o "$f" "$@" >/dev/null 2>&1 || true
        tail -n 1 "$f"; rm -f "$f"
    elif [ -n "$PY" ]; then
        "${PIN[@]}" "$PY" -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"
    fi
}

# measure NAME PREPARE RUNS RSS_RUNS CMD...: sets WALL (median seconds) and RSS (median KB).
# PREPARE is a shell snippet run (untimed) before each run. The first run checks the exit code (0, or 1
# for `diff -ru`), serves as the warm-up and gives the first peak-RSS sample.
measure() {
    local name=$1 prepare=$2 runs=$3 rss_runs=$4; shift 4
    local quoted; quoted=$(printf '%q ' "$@")
    local r=() v i rc=0 f
    eval "$prepare"
    if [ -n "$GNU_TIME" ]; then
        f=$(mktemp)
        "${PIN[@]}" "$GNU_TIME" -f '%M' -o "$f" "$@" >/dev/null 2>"$BENCH_DIR/last-stderr" || rc=$?
        v=$(tail -n 1 "$f"); rm -f "$f"
        [[ "$v" =~ ^[0-9]+$ ]] && r+=("$v")
    else
        "${PIN[@]}" "$@" >/dev/null 2>"$BENCH_DIR/last-stderr" || rc=$?
    fi
    if [ "$rc" -ne 0 ] && ! { [ "$name" = "diff -ru" ] && [ "$rc" -eq 1 ]; }; then
        log "bench: \`$quoted\` failed with exit code $rc:"; cat "$BENCH_DIR/last-stderr" >&2; exit 1
    fi
    if [ -n "$HYPERFINE" ]; then
        local json="$BENCH_DIR/hyperfine.json"
        "${PIN[@]}" "$HYPERFINE" --style none --runs "$runs" ${prepare:+--prepare "$prepare"} \
            -i --export-json "$json" "$quoted" >/dev/null 2>&1
        WALL=$(grep -o '"median": *[0-9.e+-]*' "$json" | head -n 1 | sed 's/.*: *//')
    else
        local t=() s e
        for ((i = 0; i < runs; i++)); do
            eval "$prepare"
            s=$(now); "${PIN[@]}" "$@" >/dev/null 2>&1 || true; e=$(now)
            t+=("$(awk -v a="$e" -v b="$s" 'BEGIN { print a - b }')")
        done
        WALL=$(printf '%s\n' "${t[@]}" | median)
    fi
    for ((i = ${#r[@]}; i < rss_runs; i++)); do
        eval "$prepare"
        v=$(rss_once "$@")
        [ -n "$v" ] && r+=("$v")
    done
    RSS=""
    [ "${#r[@]}" -gt 0 ] && RSS=$(printf '%s\n' "${r[@]}" | median)
}

fmt_time() { awk -v t="$1" 'BEGIN { if (t < 1) printf "%.0f ms", t * 1000; else printf "%.2f s", t }'; }
fmt_rss() { [ -z "$1" ] && { echo "n/a"; return; }; awk -v k="$1" 'BEGIN { printf "%.0f MB", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }

# --- fleets -----------------------------------------------------------------------------------------
mkdir -p "$BENCH_DIR" "$(dirname "$OUT")"
KEY_INPUTS=$(sha256sum "$N" examples/fleet.rs | awk '{ print $1 }' | tr '\n' ' ')

fleet() { # fleet INSTANCES -> prints the fleet's folder, generating it unless cached
    local inst=$1 secrets=$(( $1 * 3 / 2 ))
    local dir="$BENCH_DIR/fleet-$(( inst * CONTAINERS ))"
    local key="$KEY_INPUTS instances=$inst containers=$CONTAINERS secrets=$secrets drift=0.10 seed=1"
    if [ "$(cat "$dir/.bench-key" 2>/dev/null)" != "$key" ]; then
        log "bench: generating $(( inst * CONTAINERS )) files in $dir"
        rm -rf "$dir"
        "${PIN[@]}" "$FLEET" --out "$dir" --instances "$inst" --containers "$CONTAINERS" --secrets "$secrets" \
            --drift 0.10 --seed 1 --nlconf "$N" >&2
        printf '%s' "$key" >"$dir/.bench-key"
    else
        log "bench: reusing $dir"
    fi
    echo "$dir"
}

# --- run --------------------------------------------------------------------------------------------
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
ROWS=()
declare -A T
for inst in $SIZES; do
    D=$(fleet "$inst")
    files=$(( inst * CONTAINERS ))
    # The largest fleet: fewer runs, to keep the whole under about 10 minutes on 2 cores.
    runs=$RUNS rss_runs=$RSS_RUNS
    [ "$files" -ge 5000 ] && [ "$runs" -gt 3 ] && runs=3
    [ "$files" -ge 5000 ] && rss_runs=1
    export NLCONF_AGE_IDENTITY="$D/identity.txt"
    kb=$(du -sk --apparent-size "$D/deployed" | awk '{ print $1 }')
    label="$files files ($inst instances, $(( inst * 3 / 2 )) secrets, $(( kb / 1024 )) MB)"
    cmds=(validate render diff)
    [ "$HAS_PLAN" = 1 ] && cmds+=(plan)
    cmds+=("diff -ru")
    for c in "${cmds[@]}"; do
        log "bench: $files files: $c"
        case $c in
            validate) measure "$c" "" "$runs" "$rss_runs" "$N" -C "$D" validate ;;
            render) measure "$c" "rm -rf '$D/out-render'" "$runs" "$rss_runs" "$N" -C "$D" render -e fleet --out "$D/out-render" ;;
            diff) measure "$c" "" "$runs" "$rss_runs" "$N" -C "$D" diff -e fleet ;;
            plan) measure "$c" "rm -f '$D/plan.json'" "$runs" "$rss_runs" "$N" -C "$D" plan -e fleet --out "$D/plan.json" ;;
            "diff -ru") measure "$c" "" "$runs" "$rss_runs" diff -ru "$D/rendered" "$D/deployed" ;;
        esac
        T["$files/$c"]=$WALL
        ROWS+=("$label|$c|$WALL|$RSS")
    done
done

# --- report -----------------------------------------------------------------------------------------
cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || true)
[ -z "$cpu" ] && cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
mem=$(awk '/MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || echo "?")
commit=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit + uncommitted changes"
timer="hyperfine ($("$HYPERFINE" --version 2>/dev/null | awk '{ print $2 }'), after one warm-up run)"
[ -z "$HYPERFINE" ] && timer="a shell loop (date +%s.%N)"
top=plan; [ "$HAS_PLAN" = 1 ] || top=diff

{
    echo "## nlconf benchmark"
    echo
    echo "- machine: $cpu; $NPROC CPUs${BENCH_CPUS:+, pinned to CPUs $BENCH_CPUS with taskset}; $mem RAM; $(uname -sr); load average before the run: $LOAD_BEFORE"
    echo "- nlconf: $commit ($("$N" --version)), release build"
    echo "- medians of $RUNS runs ($([ "$RUNS" -gt 3 ] && echo "3 for 5,000 files; ")wall time: $timer); peak RSS: median of $RSS_RUNS runs (1 for 5,000 files)${GNU_TIME:+, GNU time %M}"
    echo "- fleet: \`cargo run --release --example fleet\`, 5 containers per instance, ~10 KB per file, 10% of the deployed files drifted; diff and plan run with the key at hand (NLCONF_AGE_IDENTITY)"
    echo
    echo "| fleet | command | wall (median) | peak RSS | × diff -ru |"
    echo "|---|---|--:|--:|--:|"
    for row in "${ROWS[@]}"; do
        IFS='|' read -r label c wall rss <<<"$row"
        files=${label%% *}
        echo "| $label | \`$c\` | $(fmt_time "$wall") | $(fmt_rss "$rss") | $(ratio "$wall" "${T[$files/diff -ru]}") |"
    done
    echo
    line="- $top / diff -ru:"
    for inst in $SIZES; do
        f=$(( inst * CONTAINERS ))
        line="$line $f files: $(ratio "${T[$f/$top]}" "${T[$f/diff -ru]}")x;"
    done
    echo "${line%;} (target: at most 2x on 1,000 files)"
    # Growth: time per file from one fleet to the next (1.0 = linear).
    prev=""
    for inst in $SIZES; do
        f=$(( inst * CONTAINERS ))
        if [ -n "$prev" ]; then
            g="- growth $prev -> $f files (time per file, 1.0 = linear):"
            for c in validate render diff $([ "$HAS_PLAN" = 1 ] && echo plan); do
                g="$g $c $(awk -v a="${T[$f/$c]}" -v b="${T[$prev/$c]}" -v fa="$f" -v fb="$prev" 'BEGIN { printf "%.2f", (a / fa) / (b / fb) }'),"
            done
            echo "${g%,}"
        fi
        prev=$f
    done
} | tee "$OUT"
log "bench: report written to $OUT"
