#!/usr/bin/env bash
# Run each cargo-fuzz target for FUZZ_SECONDS (default 60) from its recorded
# corpus. A crash fails the run; its input is left in fuzz/artifacts/<target>/
# and belongs in fuzz/regressions/<target>/ once fixed, where cargo test
# (rust/kestrel-fuzz/tests/replay.rs) replays it for good.
#
# libFuzzer needs a nightly toolchain. Without one the fuzzers are skipped
# with a message: the replay of every recorded input still runs on stable.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECONDS_PER_TARGET="${FUZZ_SECONDS:-60}"
TOOLS="${KESTREL_CACHE_DIR:-$HOME/.cache/kestrel}/tools"

# libFuzzer reads a total time of 0 as "no limit": 0 here means no fuzzing.
if [ "$SECONDS_PER_TARGET" = "0" ]; then
    echo "fuzz: skipped (FUZZ_SECONDS=0); cargo test replays the recorded inputs"
    exit 0
fi

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: skipped, no nightly Rust toolchain (rustup toolchain install nightly)"
    exit 0
fi
if [ ! -x "$TOOLS/bin/cargo-fuzz" ]; then
    echo "fuzz: installing cargo-fuzz into $TOOLS"
    cargo install -q --locked cargo-fuzz --root "$TOOLS"
fi
export PATH="$TOOLS/bin:$PATH"

cd "$ROOT/fuzz"
for target in decode_ndjson load_ir restore_snapshot; do
    # A scratch copy of the corpus: what the fuzzer adds is not committed.
    work="$(mktemp -d)"
    cp "corpus/$target/"* "$work/"
    echo "fuzz: $target for ${SECONDS_PER_TARGET}s"
    log="$work.log"
    status=0
    cargo +nightly fuzz run -s none "$target" "$work" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    grep -E "^(stat::number_of_executed_units|stat::new_units_added|SUMMARY|Failing input|thread .* panicked)" "$log" || true
    if [ "$status" -ne 0 ]; then tail -40 "$log"; fi
    rm -f "$log"
    rm -rf "$work"
    if [ "$status" -ne 0 ]; then
        echo "fuzz: $target found a failing input (see fuzz/artifacts/$target/)"
        exit 1
    fi
done
