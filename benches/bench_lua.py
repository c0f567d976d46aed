"""Benchmarks: the Lua runtime, ns/event over 64k-event batches (issue 5's table).

Each case evaluates one rule over the same 65,536 synthetic process events
(`workloads.process_batch`) with `LuaRule.evaluate`: one Python->Lua call,
the per-event loop in Lua, matches through `match_emit` into the core's
buffer, then `take_matches` into Python. Through the `budget` fixture
(benches/budgets.toml) `extra_info` records:

* `ns_per_event` -- the Lua call alone (best of 5), the matches left in the
  core's buffer: the budgeted figure, comparable with bench_wasm.py's;
* `evaluate_ns_per_event` -- best of 5 for the whole `LuaRule.evaluate`,
  which adds turning the match buffer into a Python list (`take_matches`,
  which dominates when most events match);
* `events_per_s`, `matches`, `agrees_with_reference` (the Python
  interpreter's matches for generated code, a Python transcription for the
  seed rules, on the first 2,048 events), `events`, `mode` (`jit` for trusted/generated code in group
  predicate-lua, `sandboxed` -- interpreted under the watchdog's time
  budget, the default for hand-written rules -- in predicate-lua-sandboxed).

The IR->Lua cases are the Wasm issue's (a)-(c) (`workloads.PREDICATES`), so
bench_wasm.py's figures sit beside these in one run.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from workloads import CHECK_SAMPLE, PREDICATES, agrees_with_interpreter, process_batch, process_dicts

import kestrel
from kestrel.bench.timing import best_ns_per_event
from kestrel.compiler import compile
from kestrel.compiler.lua import generate_package
from kestrel.packages import FieldTable
from kestrel.runtime.lua import LuaRule, load_generated

SEED_FIELDS = FieldTable({1: "process.pid", 2: "process.name"})

SEED_PID = """
function pred_eval(event)
    local pid = kestrel.event_get_i64(event, 1)
    return pid > 1000
end
"""

#: The guide's complete example, as shipped (verbatim) in rules/lua_example_rule.
SEED_COMPLETE = (Path(__file__).resolve().parents[1] / "rules" / "lua_example_rule" / "predicate.lua").read_text()


@pytest.fixture(scope="module")
def schema():
    return kestrel.Schema.default()


@pytest.fixture(scope="module")
def batch(schema):
    return process_batch(schema)


def lua_loop_ns(rule: LuaRule, batch) -> float:
    """Best of 5 for the single Python->Lua call; the match buffer is drained once, afterwards."""

    def run() -> None:
        # A benchmark-only peek at the batch call, with no batch deadline. A
        # call that failed would time nothing but its error: it must succeed.
        outcome = rule._entry.run(batch._address(), len(batch), 0, math.inf)
        ok = outcome[0] if isinstance(outcome, tuple) else outcome
        assert ok is True, outcome

    ns = best_ns_per_event(run, len(batch))
    rule.context.take_matches()
    rule.context.take_emitted()
    return ns


def run_case(benchmark, budget, rule: LuaRule, batch, mode: str, agrees) -> None:
    """`agrees(matches)`: whether the rule's matches equal the reference's."""
    rule.evaluate(batch)  # warm-up: trace compilation happens here for JIT rules
    result = benchmark(rule.evaluate, batch)
    assert result.failure is None
    evaluate_ns = best_ns_per_event(lambda: rule.evaluate(batch), len(batch))
    matches = result.events()
    # The budgeted figure is the evaluation itself, matches left in the core's
    # buffer, as bench_wasm.py's (whose matches stay in the core too).
    budget(
        lua_loop_ns(rule, batch),
        events=len(batch),
        matches=len(matches),
        agrees_with_reference=agrees(matches),
        mode=mode,
        evaluate_ns_per_event=round(evaluate_ns, 2),
    )
    assert benchmark.extra_info["agrees_with_reference"]


def seed_reference(source: str):
    """The seed rules in plain Python, over the first CHECK_SAMPLE process events."""

    def expected(event) -> bool:
        pid, name = event["process"]["pid"], event["process"]["name"]
        return pid > 1000 and (source is SEED_PID or "suspicious" in name)

    def agrees(matches) -> bool:
        events = process_dicts()[:CHECK_SAMPLE]
        return [i for i in matches if i < CHECK_SAMPLE] == [i for i, e in enumerate(events) if expected(e)]

    return agrees


def seed_rule(source: str, schema, mode: str) -> LuaRule:
    return LuaRule("seed", source, fields=SEED_FIELDS, schema=schema, trusted=mode == "jit")


@pytest.mark.benchmark(group="predicate-lua")
@pytest.mark.parametrize("source", [SEED_PID, SEED_COMPLETE], ids=["seed_pid_gt_1000", "seed_complete_example"])
def test_lua_seed(benchmark, budget, batch, schema, source):
    run_case(benchmark, budget, seed_rule(source, schema, "jit"), batch, "jit", seed_reference(source))


@pytest.mark.benchmark(group="predicate-lua-sandboxed")
@pytest.mark.parametrize("source", [SEED_PID, SEED_COMPLETE], ids=["seed_pid_gt_1000", "seed_complete_example"])
def test_lua_seed_sandboxed(benchmark, budget, batch, schema, source):
    run_case(benchmark, budget, seed_rule(source, schema, "sandboxed"), batch, "sandboxed", seed_reference(source))


@pytest.mark.benchmark(group="predicate-lua")
@pytest.mark.parametrize("case", sorted(PREDICATES))
def test_lua_ir(benchmark, budget, batch, schema, case):
    compiled = compile(PREDICATES[case], schema=schema)
    rule = load_generated(generate_package(compiled), case, schema=schema)
    run_case(benchmark, budget, rule, batch, "jit", lambda matches: agrees_with_interpreter(compiled, matches))


def load_and_warm(source: str, schema, batch):
    rule = LuaRule("load", source, fields=SEED_FIELDS, schema=schema, trusted=True)
    rule.evaluate(batch)
    return rule


@pytest.mark.benchmark(group="compile")
def test_rule_load_with_jit_warmup(benchmark, budget, schema):
    # Load = new LuaJIT state + prelude + rule + pred_init; warm-up = a first
    # 4k-event batch, enough for the hot loop's traces to be recorded.
    warm = process_batch(schema, 4096)
    rule = benchmark(load_and_warm, SEED_COMPLETE, schema, warm)
    benchmark.extra_info["warmup_events"] = len(warm)
    if benchmark.stats is not None:
        benchmark.extra_info["ms"] = round(benchmark.stats.stats.median * 1e3, 3)
    result = rule.evaluate(warm)
    assert result.failure is None
    # A load has no per-event figure; the warm-up batch's matches are checked.
    budget(None, matches=len(result.events()), agrees_with_reference=seed_reference(SEED_COMPLETE)(result.events()))
