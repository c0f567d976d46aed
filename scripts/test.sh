#!/usr/bin/env bash
# Command 2 of the README: set everything up and run the whole test suite.
source "$(dirname "$0")/setup.sh"
echo "== stub check: kestrel._core against _core.pyi"
"$VPY" -m mypy.stubtest kestrel._core --allowlist scripts/stubtest-allowlist.txt
echo "== pytest (tests/ and benches/, benchmarks run once)"
"$VPY" -m pytest -q -p no:cacheprovider --benchmark-disable tests benches
echo "== cargo test"
cargo test -q --workspace --exclude kestrel-ext
