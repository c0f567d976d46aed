#!/usr/bin/env bash
# The README's test command in a clone with nothing beside it: no ../shared,
# no KESTREL_SHARED or KESTREL_CORPUS, not in CI mode. Tests that need the
# shared reference data skip, naming the missing file; everything else must
# pass, as it would for a user who cloned the repository on its own.
#
# Clones this checkout's HEAD into an empty temporary directory and removes
# it afterwards. FUZZ_SECONDS defaults to 0 here: the fuzzers ran in the
# checkout's own run, and the recorded inputs are replayed by cargo test.
# The cluster tests (marker `slow`) are left out too (KESTREL_SKIP_SLOW):
# they read nothing from ../shared, so a second run of them here would
# only repeat the first step's, and would take CI past its time limit on
# a two-core machine.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/kestrel-fresh.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
git clone -q "$ROOT" "$WORK/kestrel"
echo "== the README's test command in a fresh clone at $WORK/kestrel (nothing beside it)"
cd "$WORK/kestrel"
env -u CI -u KESTREL_SHARED -u KESTREL_CORPUS FUZZ_SECONDS="${FUZZ_SECONDS:-0}" \
    KESTREL_SKIP_SLOW="${KESTREL_SKIP_SLOW:-1}" bash scripts/test.sh
