#!/usr/bin/env bash
# Command 2 of the README: set everything up and run the whole test suite.
source "$(dirname "$0")/setup.sh"
# KESTREL_SKIP_SLOW=1 leaves out the tests that start real Flink and Kafka
# clusters (pytest marker `slow`) and the environment only they use. The
# fresh-clone check sets it: those tests read nothing from ../shared, and
# CI has just run them in its first step.
if [ "${KESTREL_SKIP_SLOW:-0}" = "1" ]; then
    SELECT=(-m "not slow")
else
    SELECT=()
    echo "== the scale-out tests' environment: .venv-flink (PyFlink), Kafka jars"
    bash "$ROOT/scripts/flink-setup.sh"
fi
echo "== rust format and lints: cargo fmt --check, clippy -D warnings"
cargo fmt --all --check
cargo clippy -q --workspace --all-targets -- -D warnings
echo "== python lint and format: ruff check, ruff format --check"
"$ROOT/.venv/bin/ruff" check "$ROOT"
"$ROOT/.venv/bin/ruff" format --check "$ROOT"
echo "== python types: mypy (configured in pyproject.toml)"
(cd "$ROOT" && "$VPY" -m mypy)
echo "== stub check: kestrel._core against _core.pyi"
"$VPY" -m mypy.stubtest kestrel._core --allowlist scripts/stubtest-allowlist.txt
echo "== pytest (tests/ and benches/, benchmarks run once) ${SELECT[*]:-}"
"$VPY" -m pytest -q -p no:cacheprovider "${SELECT[@]}" tests benches
echo "== cargo test"
cargo test -q --workspace --exclude kestrel-ext
echo "== fuzzing: each cargo-fuzz target for ${FUZZ_SECONDS:-60} s (scripts/fuzz.sh)"
bash "$ROOT/scripts/fuzz.sh"
