#!/usr/bin/env bash
# `make bench`: times nlconf on generated fleets of every repository shape against the byte-compare
# floor (GNU diff -ru, timed in the same run) and prints a markdown table of medians. See
# bench/README.md for what each column means.
#
# Settings (environment variables):
#   BENCH_SHAPES repository shapes                        (default "per-instance one-file one-file-age-cli")
#   BENCH_SIZES  instances per fleet, 5 containers each   (default "200 1000": 1,000 and 5,000 files; a
#                one-file fleet of 1,000 instances is 12.7 MB of YAML, under the 32 MB nlconf reads)
#   BENCH_RUNS   timed rounds (each runs every command once) (default 10)
#   BENCH_RSS_RUNS untimed rounds under GNU time for peak RSS, before them (default 3; the first warms up)
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
# bench/interleave.py times the commands (python3: also used below to read cargo's metadata).
PY=$(command -v python3 || true)
[ -z "$PY" ] && { log "bench: python3 is needed (bench/interleave.py times the runs)"; exit 1; }
# Peak memory is read by GNU time (bench/interleave.py says why not from the timed runs).
if [ ! -x /usr/bin/time ] && command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
    $SUDO apt-get install -y -qq time >/dev/null 2>&1 || log "bench: GNU time not found: peak RSS shows n/a"
fi
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
fmt_time() { awk -v t="$1" 'BEGIN { if (t < 1) printf "%.0f ms", t * 1000; else printf "%.2f s", t }'; }
fmt_rss() { [ -z "$1" ] && { echo "n/a"; return; }; awk -v k="$1" 'BEGIN { printf "%.0f MB", k / 1024 }'; }

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
declare -A T R Q G FILES
for shape in $SHAPES; do
    shape_flags "$shape" >/dev/null
    prev=""
    fleets=()
    for size in $SIZES; do
        inst=$(instances_of "$shape" "$size")
        [ "$inst" = "$prev" ] && continue
        prev=$inst
        D=$(fleet "$shape" "$inst")
        files=$(( inst * CONTAINERS ))
        FILES[$shape]="${FILES[$shape]:-} $files"
        fleets+=("$files=$D")
        yaml=$(du -sk --apparent-size "$D/environments" | awk '{ print $1 }')
        ROWS+=("$shape|$files|$inst|$(awk -v k="$yaml" 'BEGIN { printf "%.1f", k / 1024 }')")
    done
    # Every command on every fleet of the shape, round after round (bench/interleave.py): nlconf and the
    # floor, and the small and the large fleet, are timed seconds apart, on the same host.
    log "bench: $shape: $RUNS rounds of validate, diff$([ "$HAS_PLAN" = 1 ] && echo ", plan") and diff -ru on ${FILES[$shape]# } files"
    out=$("$PY" bench/interleave.py --nlconf "$N" --runs "$RUNS" --rss-runs "$RSS_RUNS" ${BENCH_CPUS:+--pin "$BENCH_CPUS"} \
        $([ "$HAS_PLAN" = 1 ] && echo --plan) "${fleets[@]}")
    while IFS=$'\t' read -r kind a b c d; do
        case $kind in
            time) T["$shape/$a/$b"]=$c ;;
            rss) R["$shape/$a/$b"]=$c ;;
            ratio) Q["$shape/$a/$b"]=$c ;;
            growth) G["$shape/$a/$b/$c"]=$d ;;
        esac
    done <<<"$out"
done

# --- report -----------------------------------------------------------------------------------------
cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || true)
[ -z "$cpu" ] && cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
mem=$(awk '/MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || echo "?")
commit=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit + uncommitted changes"
top=plan; [ "$HAS_PLAN" = 1 ] || top=diff
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")

{
    echo "## nlconf benchmark"
    echo
    echo "- machine: $cpu; $NPROC CPUs${BENCH_CPUS:+, pinned to CPUs $BENCH_CPUS with taskset}; $mem RAM; $(uname -sr); load average before the run: $LOAD_BEFORE, after: $LOAD_AFTER"
    echo "- nlconf: $commit ($("$N" --version)), release build"
    echo "- $RSS_RUNS untimed rounds under GNU time (peak RSS: the largest, %M; the first warms up), then $RUNS timed rounds; each round runs every command once on every fleet of a shape (bench/interleave.py). Times: medians of the wall times. Ratio: the median over rounds of $top / \`diff -ru\` timed in the same round. Growth: the same, of the time per file"
    echo "- fleets: \`cargo run --release --example fleet\`, 5 containers per instance, ~10 KB per file, 1.5 secrets per instance, 10% of the deployed files drifted; shapes: \`per-instance\` (one YAML file per instance), \`one-file\` (the whole environment in one file), \`one-file-age-cli\` (the same, its secrets encrypted with the age command, without nlconf's binding header); diff and plan run with the key at hand (NLCONF_AGE_IDENTITY); \`diff -ru\` compares the same fleet's rendered and deployed trees"
    echo
    echo "| shape | files | YAML | \`diff -ru\` | validate | diff | $top | $top / diff -ru | $top peak RSS |"
    echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|"
    for row in "${ROWS[@]}"; do
        IFS='|' read -r shape files inst yaml_mb <<<"$row"
        k="$shape/$files"
        echo "| $shape | $files | $yaml_mb MB | $(fmt_time "${T[$k/diff -ru]}") | $(fmt_time "${T[$k/validate]}") | $(fmt_time "${T[$k/diff]}") | $(fmt_time "${T[$k/$top]}") | $(awk -v q="${Q[$k/$top]}" 'BEGIN { printf "%.2f", q }')x | $(fmt_rss "${R[$k/$top]}") |"
    done
    echo
    echo "Target (issue 18): on every shape, 1,000 files: $top at most 2x \`diff -ru\`, peak RSS at most 150 MB; growth linear within 10%."
    echo
    # Growth: time per file from one fleet of a shape to the next, median over rounds (1.0 = linear).
    for shape in $SHAPES; do
        prev=""
        for f in ${FILES[$shape]:-}; do
            if [ -n "$prev" ]; then
                g="- growth, $shape, $prev -> $f files (time per file, 1.0 = linear):"
                for c in validate diff $([ "$HAS_PLAN" = 1 ] && echo plan) "diff -ru"; do
                    g="$g $c $(awk -v v="${G[$shape/$prev/$f/$c]}" 'BEGIN { printf "%.2f", v }'),"
                done
                echo "${g%,}"
            fi
            prev=$f
        done
    done
} | tee "$OUT"
