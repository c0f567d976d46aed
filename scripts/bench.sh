#!/usr/bin/env bash
# The timed benchmark step: every benchmark in benches/ with enough rounds for
# stable medians, budgets (benches/budgets.toml) enforced, results saved as
# pytest-benchmark JSON and printed as the README's table.
#
#   bash scripts/bench.sh [OUT.json]
#
# Exit status is pytest's: non-zero when a benchmark is over its budget or
# its results disagree with the reference. Compare two runs with
#   kestrel bench --diff OLD.json NEW.json --threshold 10
# and regenerate the README table with
#   python scripts/bench_table.py OUT.json --write README.md
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
OUT=${1:-.benchmarks/bench-$(date -u +%Y%m%dT%H%M%SZ).json}
mkdir -p "$(dirname "$OUT")"
started=$(date +%s)
status=0
"$PYTHON" -m pytest benches -q -p no:cacheprovider --benchmark-enable --benchmark-only \
    --benchmark-min-rounds=5 --benchmark-max-time=0.5 --benchmark-warmup=on --benchmark-warmup-iterations=1 \
    --benchmark-json="$OUT" || status=$?
echo "scripts/bench.sh: $(( $(date +%s) - started )) s, results in $OUT"
if [ -s "$OUT" ]; then
    "$PYTHON" scripts/bench_table.py "$OUT"
fi
exit "$status"
