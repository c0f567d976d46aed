"""Benchmarks: the Lua runtime, ns/event over 64k-event batches (issue 5's table).

Each case evaluates one rule over the same 65,536 synthetic events
(`kestrel.synth.process_events`) with `LuaRule.evaluate`: one Python->Lua
call, the per-event loop in Lua, matches through `match_emit` into the
core's buffer, then `take_matches` into Python. `extra_info` records:

* `ns_per_event` -- the benchmark's median for the whole `evaluate`;
* `lua_loop_ns_per_event` -- the Lua call alone (best of 5), i.e. without
  turning the core's match buffer into a Python list, which dominates when
  most events match;
* `matches`, `events`, `mode` (`jit` for trusted/generated code,
  `sandboxed` for the interpreted, instruction-budgeted default).

They pass as tests with `--benchmark-disable`; time them with
`pytest benches/bench_lua.py --benchmark-only`.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import kestrel
from kestrel.compiler import compile
from kestrel.compiler.lua import generate_package
from kestrel.packages import FieldTable
from kestrel.runtime.lua import LuaRule, load_generated
from kestrel.synth import process_events

N_EVENTS = 65_536
SEED_FIELDS = FieldTable({1: "process.pid", 2: "process.name"})

SEED_PID = """
function pred_eval(event)
    local pid = kestrel.event_get_i64(event, 1)
    return pid > 1000
end
"""

#: The guide's complete example, as shipped (verbatim) in rules/lua_example_rule.
SEED_COMPLETE = (Path(__file__).resolve().parents[1] / "rules" / "lua_example_rule" / "predicate.lua").read_text()

#: (c) of the Wasm issue: 20 wildcard patterns on process.command_line.
COMMAND_LINE_PATTERNS = [
    "*-enc*", "*-e *", "*frombase64*", "*-nop*", "*-w hidden*", "*downloadstring*", "*invoke-expression*",
    "*iex(*", "*bypass*", "*-urlcache*", "*/transfer*", "*mshta*", "*regsvr32*/i:*", "*rundll32*javascript*",
    "*certutil*-decode*", "*bitsadmin*", "*wmic*process*call*", "*\\\\192.168.*", "*.hta*", "*whoami /all*",
]
EQL_CASES = {
    "a_pid_gt_1000": "process where process.pid > 1000",
    "b_name_ci_eq": 'process where process.name : "cmd.exe"',
    "c_cmdline_20_wildcards": "process where process.command_line : ({})".format(
        ", ".join('"{}"'.format(p.replace("\\", "\\\\")) for p in COMMAND_LINE_PATTERNS)),
}


@pytest.fixture(scope="module")
def schema():
    return kestrel.Schema.default()


@pytest.fixture(scope="module")
def batch(schema):
    return kestrel.EventBatch.from_dicts(process_events(N_EVENTS), schema=schema)


def lua_loop_ns(rule: LuaRule, batch) -> float:
    """Best of 5 for the single Python->Lua call, match buffer drained outside the timing."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        rule._entry.run(batch._address(), len(batch), 0)  # the Lua loop alone (a benchmark-only peek)
        best = min(best, time.perf_counter() - start)
        rule.context.take_matches()
        rule.context.take_emitted()
    return best / len(batch) * 1e9


def run_case(benchmark, rule: LuaRule, batch, mode: str) -> None:
    rule.evaluate(batch)  # warm-up: trace compilation happens here for JIT rules
    result = benchmark(rule.evaluate, batch)
    assert result.failure is None
    info = benchmark.extra_info
    info.update(events=len(batch), matches=len(result.events()), mode=mode, lua_loop_ns_per_event=round(lua_loop_ns(rule, batch), 2))
    if benchmark.stats is not None:
        info["ns_per_event"] = round(benchmark.stats.stats.median / len(batch) * 1e9, 2)
    # The 1 µs budget applies to production (JIT) mode, and only when timing
    # for real: a test run (--benchmark-disable) on a loaded 2-core machine
    # would make it flaky. Sandboxed runs are reported only.
    if mode == "jit" and not benchmark.disabled:
        assert info["lua_loop_ns_per_event"] < 1000, "over the CI budget of 1 µs per event"


@pytest.mark.benchmark(group="lua-seed")
@pytest.mark.parametrize("trusted", [True, False], ids=["jit", "sandboxed"])
def test_seed_pid_gt_1000(benchmark, batch, schema, trusted):
    rule = LuaRule("seed_pid", SEED_PID, fields=SEED_FIELDS, schema=schema, trusted=trusted)
    run_case(benchmark, rule, batch, "jit" if trusted else "sandboxed")


@pytest.mark.benchmark(group="lua-seed")
@pytest.mark.parametrize("trusted", [True, False], ids=["jit", "sandboxed"])
def test_seed_complete_example(benchmark, batch, schema, trusted):
    rule = LuaRule("seed_complete", SEED_COMPLETE, fields=SEED_FIELDS, schema=schema, trusted=trusted)
    run_case(benchmark, rule, batch, "jit" if trusted else "sandboxed")


@pytest.mark.benchmark(group="lua-ir")
@pytest.mark.parametrize("case", sorted(EQL_CASES))
def test_ir_to_lua(benchmark, batch, schema, case):
    rule = load_generated(generate_package(compile(EQL_CASES[case], schema=schema)), case, schema=schema)
    run_case(benchmark, rule, batch, "jit")


def load_and_warm(source: str, schema, batch):
    rule = LuaRule("load", source, fields=SEED_FIELDS, schema=schema, trusted=True)
    rule.evaluate(batch)
    return rule


@pytest.mark.benchmark(group="lua-load")
def test_rule_load_with_jit_warmup(benchmark, schema):
    # Load = new LuaJIT state + prelude + rule + pred_init; warm-up = a first
    # 4k-event batch, enough for the hot loop's traces to be recorded.
    warm = kestrel.EventBatch.from_dicts(process_events(4096), schema=schema)
    rule = benchmark(load_and_warm, SEED_COMPLETE, schema, warm)
    benchmark.extra_info["warmup_events"] = len(warm)
    if benchmark.stats is not None:
        benchmark.extra_info["ms"] = round(benchmark.stats.stats.median * 1e3, 3)
    assert rule.evaluate(warm).failure is None
