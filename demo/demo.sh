#!/usr/bin/env bash
# The main job on the shipped example: validate, render, explain, check secrets, and review what would
# change against a deployed snapshot. Run by `make demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
N=target/debug/nlconf
# Demo-only key (public in this repository): never use it for real secrets.
export NLCONF_AGE_IDENTITY=demo/keys/demo-ONLY-alice.agekey
export NO_COLOR=1

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "Validate every environment (YAML, schema, secrets, templates)" $N validate
step "What would be written for prod" $N render -e prod
step "One rendered file (secrets never appear)" $N render -e prod --instance mkt_prod --container wf1
step "Where each value comes from" $N explain -e prod --instance mkt_prod serverconf.pipelined
step "Per container, with what each override replaced" $N explain -e prod --instance mkt_prod --container mta1 serverconf.mta
step "Every secret decrypts, is bound to its place and to the current recipients" $N secret check
step "Review: prod against its deployed snapshot (drift shows)" $N diff -e prod --deployed demo/deployed/prod
step "The same, compared semantically (formatting ignored)" $N diff -e prod --deployed demo/deployed/prod --semantic
mkdir -p demo/target
$N diff -e prod --deployed demo/deployed/prod --format markdown > demo/target/review-prod.md
$N diff -e prod --deployed demo/deployed/prod --format json > demo/target/review-prod.json
printf '\nPull-request comment written to demo/target/review-prod.md (%s bytes), JSON to demo/target/review-prod.json\n' \
  "$(wc -c < demo/target/review-prod.md)"
