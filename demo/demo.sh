#!/usr/bin/env bash
# The main job on the shipped example, run by `make demo`:
#   1. check and explain the configuration;
#   2. review prod against a drifted deployed snapshot (what a pull request shows);
#   3. the whole review-then-apply loop on dev, against a fresh local target with an nlserver stand-in:
#      plan, apply, plan again (nothing to do), change a value, plan (exactly that change), apply;
#   4. a credential-only change as a pull request shows it;
#   5. adopting the running prod (its drifted snapshot): import, adopt, plan = nothing; a restart rule.
# Nothing tracked is modified: the loop works on a scratch copy of the repository in demo/target/.
set -euo pipefail
cd "$(dirname "$0")/.."
# The binary `make demo` built, wherever cargo put it (CARGO_TARGET_DIR); by hand, cargo's default.
N="${NLCONF:-$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/debug/nlconf}"
# Demo-only key (public in this repository): never use it for real secrets.
export NLCONF_AGE_IDENTITY="$PWD/demo/keys/demo-ONLY-alice.agekey"
export NO_COLOR=1

step() { printf '\n== %s\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }
# Runs a step whose exit code 2 means "there are changes" (--detailed-exitcode).
step_changes() {
  printf '\n== %s\n$ %s\n' "$1" "${*:2}"
  local rc=0
  "${@:2}" || rc=$?
  [ "$rc" -eq 0 ] || [ "$rc" -eq 2 ] || exit "$rc"
  printf '(exit %s: %s)\n' "$rc" "$([ "$rc" -eq 2 ] && echo "changes" || echo "no changes")"
}

echo "### Part 1: check and explain"
step "Validate every environment (YAML, schema, secrets, templates)" $N validate
step "What would be written for prod" $N render -e prod
step "One rendered file (secrets never appear)" $N render -e prod --instance mkt_prod --container wf1
step "Where each value comes from" $N explain -e prod --instance mkt_prod serverconf.pipelined
step "Per container, with what each layer replaced" $N explain -e prod --instance mkt_prod --container mta1 serverconf.mta
step "Every secret decrypts, is bound to its place and to the current recipients" $N secret check

echo; echo "### Part 2: review prod against its deployed snapshot (demo/deployed/prod: drift included)"
step "The Adobe I/O project deployed on each container" $N ims status -e prod --deployed demo/deployed/prod
step_changes "What would change (text diff)" $N diff -e prod --deployed demo/deployed/prod --detailed-exitcode
step_changes "The same, compared semantically (formatting ignored)" $N diff -e prod --deployed demo/deployed/prod --semantic --detailed-exitcode
mkdir -p demo/target
$N diff -e prod --deployed demo/deployed/prod --format markdown > demo/target/review-prod.md
$N diff -e prod --deployed demo/deployed/prod --format json > demo/target/review-prod.json
printf '\nPull-request comment: demo/target/review-prod.md (%s bytes); JSON: demo/target/review-prod.json\n' \
  "$(wc -c < demo/target/review-prod.md)"

echo; echo "### Part 3: review, then apply, on dev (a scratch copy of this repository, a fresh local target)"
R=demo/target/repo
rm -rf "$R"
mkdir -p "$R/demo"
cp -r environments templates "$R/"
cp demo/nlserver-standin "$R/demo/"
step_changes "Plan: everything is new, credentials are set on every container" \
  $N -C "$R" plan -e dev --out "$R/dev.plan" --detailed-exitcode
step "Apply exactly that plan" $N -C "$R" apply "$R/dev.plan"
step "What nlserver (the stand-in) was asked to do on dev1 (secrets masked in its log)" \
  cat "$R/demo/target/dev/dev1/.nlserver-standin.log"
step "The state record: what was applied, as fingerprints that reveal nothing" \
  cat "$R/demo/target/dev/dev1/.nlconf/state-mkt_dev.json"
step_changes "Plan again: nothing to do" $N -C "$R" plan -e dev --out "$R/dev.plan" --detailed-exitcode
step "Someone changes one value in the YAML (pipelined gets 4 threads)" \
  sed -i 's/processingThreads: 2/processingThreads: 4/' "$R/environments/dev/environment.yaml"
step_changes "Plan: exactly that change, and the restart it needs" \
  $N -C "$R" plan -e dev --out "$R/dev.plan" --detailed-exitcode
step "Apply it" $N -C "$R" apply "$R/dev.plan"
step_changes "And the environment is as reviewed" $N -C "$R" diff -e dev --detailed-exitcode

echo; echo "### Part 4: a credential change in a pull request (no key and no server needed)"
git -C "$R" init -q -b main
git -C "$R" -c user.email=demo@example.com -c user.name=demo add -A
git -C "$R" -c user.email=demo@example.com -c user.name=demo commit -q -m "dev as deployed"
step "Rotate the client secret of mkt_dev" \
  sh -c "printf %s 'demo-ONLY-rotated-client-secret' | $N -C '$R' secret set -e dev instances.mkt_dev.ims.clientSecret"
step "Change the database password of mid_dev" \
  sh -c "printf %s 'demo-ONLY-new-db-password' | $N -C '$R' secret set -e dev instances.mid_dev.serverconf.shared.dataStore.dataSource.default.dbcnx.password"
step_changes "The pull-request comment: no file changes, two credential steps on every container" \
  env -u NLCONF_AGE_IDENTITY $N -C "$R" diff -e dev --base HEAD --format markdown --detailed-exitcode
step_changes "With a key at hand, a rotation is told from a re-encryption" \
  $N -C "$R" diff -e dev --base HEAD --detailed-exitcode

echo; echo "### Part 5: adopt the running prod (its drifted snapshot) without disturbing it"
P=demo/target/prod
rm -rf "$P"
mkdir -p "$P/demo"
cp -r environments templates "$P/"
cp -r demo/deployed/prod "$P/live"
cp demo/nlserver-standin "$P/demo/"
# The snapshot stands for the servers: a local target on the copied folders, and the stand-in nlserver.
python3 - "$P/environments/prod/environment.yaml" <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
lines = s.split('\n'); i = lines.index('target:'); j = i + 1
while j < len(lines) and (lines[j].startswith(' ') or lines[j].startswith('#') or not lines[j]):
    j += 1
lines[i:j] = ['target:', '  kind: local', '  conf_dir: live/{container}', 'nlserver: demo/nlserver-standin']
open(p, 'w').write('\n'.join(lines))
PY
step "Import what runs into the YAML (the technical account and secrets the YAML had stay)" \
  $N -C "$P" import -e prod --instance mkt_prod --force web1 wf1 mta1
step "And the mid-sourcing instance" $N -C "$P" import -e prod --instance mid_prod --force mid1 mid2
step "Adopt: record what is deployed, without running nlserver" $N -C "$P" adopt -e prod
step_changes "Plan: nothing to do, no credential step, no restart" \
  $N -C "$P" plan -e prod --out "$P/prod.plan" --detailed-exitcode
step "A restart rule: a wfserver change restarts the workflow server of that instance" \
  sh -c "printf 'restart:\n  wfserver: [\"wfserver@{instance}\"]\n' >> '$P/environments/defaults.yaml'"
step "Someone lowers wfserver's memory alert on mkt_prod" \
  sed -i 's/maxProcessMemoryAlertMb: 3072/maxProcessMemoryAlertMb: 2900/' "$P/environments/prod/mkt_prod.yaml"
step_changes "Plan: the change, the reload, and the restart with its reason" \
  $N -C "$P" plan -e prod --out "$P/prod.plan" --detailed-exitcode
step "Apply it" $N -C "$P" apply "$P/prod.plan"
step "What the stand-in nlserver was asked to do on wf1" cat "$P/live/wf1/.nlserver-standin.log"
