#!/usr/bin/env bash
# `make bench`: times nlconf on generated fleets of every repository shape against the byte-compare
# floor (GNU diff -ru, timed in the same run) and prints a markdown table of medians. See
# bench/README.md for what each column means.
#
# Settings (environment variables):
#   BENCH_SHAPES repository shapes                        (default "per-instance one-file one-file-age-cli")
#   BENCH_SIZES  instances per fleet, 5 containers each   (default "200 1000": 1,000 and 5,000 files; a
#                one-file fleet of 1,000 instances is 12.7 MB of YAML, under the 32 MB nlconf reads)
#   BENCH_RUNS   timed runs per command                   (default 10; the largest fleet uses at most 3)
#   BENCH_RSS_RUNS runs under /usr/bin/time for peak RSS  (default 3; 1 on the largest fleet)
#   BENCH_DIR    where fleets are generated and cached    (default ${TMPDIR:-/tmp}/nlconf-bench)
#   BENCH_CPUS   CPU list to pin to with taskset          (default "0,1" when the machine has more than
#                2 CPUs, as the targets are set for 2 cores; "" to not pin)
#   BENCH_OUT    where the report is also written         (default target/bench/report.md)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SHAPES=${BENCH_SHAPES:-"per-instance one-file one-file-age-cli"}
SIZES=${BENCH_SIZES:-"200 1000"}
RUNS=${BENCH_RUNS:-10}
RSS_RUNS=${BENCH_RSS_RUNS:-3}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/nlconf-bench}
OUT=${BENCH_OUT:-$ROOT/target/bench/report.md}
CONTAINERS=5
# The most instances a one-file fleet holds: about 12.7 KB of YAML each, under the 32 MB nlconf reads.
ONE_FILE_MAX=2500

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

# The generator's flags for a shape.
shape_flags() {
    case $1 in
        per-instance) echo "--shape per-instance" ;;
        one-file) echo "--shape one-file" ;;
        one-file-age-cli) echo "--shape one-file --age-cli" ;;
        *) log "bench: unknown shape \`$1\` (per-instance, one-file, one-file-age-cli)"; exit 1 ;;
    esac
}

# The instances a fleet of a shape has, for a size asked.
instances_of() { # instances_of SHAPE INSTANCES
    if [ "$1" != per-instance ] && [ "$2" -gt "$ONE_FILE_MAX" ]; then echo "$ONE_FILE_MAX"; else echo "$2"; fi
}

fleet() { # fleet SHAPE INSTANCES -> prints the fleet's folder, generating it unless cached
    local shape=$1 inst=$2 secrets=$(( $2 * 3 / 2 )) flags
    flags=$(shape_flags "$shape")
    local dir="$BENCH_DIR/fleet-$shape-$(( inst * CONTAINERS ))"
    local key="$KEY_INPUTS instances=$inst containers=$CONTAINERS secrets=$secrets drift=0.10 seed=1 $flags"
    if [ "$(cat "$dir/.bench-key" 2>/dev/null)" != "$key" ]; then
        log "bench: generating $(( inst * CONTAINERS )) files ($shape) in $dir"
        rm -rf "$dir"
        # shellcheck disable=SC2086 # the flags are words
        "${PIN[@]}" "$FLEET" --out "$dir" --instances "$inst" --containers "$CONTAINERS" --secrets "$secrets" \
            --drift 0.10 --seed 1 $flags --nlconf "$N" >&2
        printf '%s' "$key" >"$dir/.bench-key"
    else
        log "bench: reusing $dir"
    fi
    echo "$dir"
}

# --- run --------------------------------------------------------------------------------------------
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
ROWS=()
declare -A T R FILES
for shape in $SHAPES; do
    shape_flags "$shape" >/dev/null
    prev=""
    for size in $SIZES; do
        inst=$(instances_of "$shape" "$size")
        [ "$inst" = "$prev" ] && continue
        prev=$inst
        D=$(fleet "$shape" "$inst")
        files=$(( inst * CONTAINERS ))
        FILES[$shape]="${FILES[$shape]:-} $files"
        # As many timed runs on the largest fleets as on the others (a 5,000-file plan takes under half a
        # second): the growth compares their medians, and a median of 5 followed the host's load. The
        # peak memory of the largest fleets is read once.
        runs=$RUNS rss_runs=$RSS_RUNS
        [ "$files" -ge 3000 ] && rss_runs=1
        export NLCONF_AGE_IDENTITY="$D/identity.txt"
        yaml=$(du -sk --apparent-size "$D/environments" | awk '{ print $1 }')
        cmds=(validate diff)
        [ "$HAS_PLAN" = 1 ] && cmds+=(plan)
        # The floor is timed right after nlconf, on the same fleet, in the same run.
        cmds+=("diff -ru")
        for c in "${cmds[@]}"; do
            log "bench: $shape, $files files: $c"
            case $c in
                validate) measure "$c" "" "$runs" "$rss_runs" "$N" -C "$D" validate ;;
                diff) measure "$c" "" "$runs" "$rss_runs" "$N" -C "$D" diff -e fleet ;;
                plan) measure "$c" "rm -f '$D/plan.json'" "$runs" "$rss_runs" "$N" -C "$D" plan -e fleet --out "$D/plan.json" ;;
                "diff -ru") measure "$c" "" "$runs" "$rss_runs" diff -ru "$D/rendered" "$D/deployed" ;;
            esac
            T["$shape/$files/$c"]=$WALL
            R["$shape/$files/$c"]=$RSS
        done
        ROWS+=("$shape|$files|$inst|$(awk -v k="$yaml" 'BEGIN { printf "%.1f", k / 1024 }')")
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
    echo "- medians of $RUNS runs (wall time: $timer); peak RSS: median of $RSS_RUNS runs (1 from 3,000 files)${GNU_TIME:+, GNU time %M}"
    echo "- fleets: \`cargo run --release --example fleet\`, 5 containers per instance, ~10 KB per file, 1.5 secrets per instance, 10% of the deployed files drifted; shapes: \`per-instance\` (one YAML file per instance), \`one-file\` (the whole environment in one file), \`one-file-age-cli\` (the same, its secrets encrypted with the age command, without nlconf's binding header); diff and plan run with the key at hand (NLCONF_AGE_IDENTITY); \`diff -ru\` compares the same fleet's rendered and deployed trees, timed in the same run"
    echo
    echo "| shape | files | YAML | \`diff -ru\` | validate | diff | $top | $top / diff -ru | $top peak RSS |"
    echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|"
    for row in "${ROWS[@]}"; do
        IFS='|' read -r shape files inst yaml_mb <<<"$row"
        k="$shape/$files"
        echo "| $shape | $files | $yaml_mb MB | $(fmt_time "${T[$k/diff -ru]}") | $(fmt_time "${T[$k/validate]}") | $(fmt_time "${T[$k/diff]}") | $(fmt_time "${T[$k/$top]}") | $(ratio "${T[$k/$top]}" "${T[$k/diff -ru]}")x | $(fmt_rss "${R[$k/$top]}") |"
    done
    echo
    echo "Target (issue 18): on every shape, 1,000 files: $top at most 2x \`diff -ru\`, peak RSS at most 150 MB; growth linear within 10%."
    echo
    # Growth: time per file from one fleet of a shape to the next (1.0 = linear).
    for shape in $SHAPES; do
        prev=""
        for f in ${FILES[$shape]:-}; do
            if [ -n "$prev" ]; then
                g="- growth, $shape, $prev -> $f files (time per file, 1.0 = linear):"
                for c in validate diff $([ "$HAS_PLAN" = 1 ] && echo plan) "diff -ru"; do
                    g="$g $c $(awk -v a="${T[$shape/$f/$c]}" -v b="${T[$shape/$prev/$c]}" -v fa="$f" -v fb="$prev" 'BEGIN { printf "%.2f", (a / fa) / (b / fb) }'),"
                done
                echo "${g%,}"
            fi
            prev=$f
        done
    done
} | tee "$OUT"
log "bench: report written to $OUT"
