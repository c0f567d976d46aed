"""Benchmarks: Wasm predicates in the core, ns/event over 64k-event batches (the Wasm issue's table).

Each case compiles one rule to Wasm, loads it into `kestrel._core.WasmRule`
and times `evaluate(batch)` over 65,536 synthetic ECS process events: one
Python->core call, candidates selected by category in Rust, one host->Wasm
call for the batch. `extra_info` records ns/event (best of 5, the figure the
budget checks), events/s, matches, whether the matches equal the Python
interpreter's on a sample (`agrees_with_reference`), and, side by side, the `eql` package's PythonEngine on the same
query over the first 4,096 events (when `eql` is installed).

`test_wasm_predicate_independent` runs the same predicates over the process
events of benches/independent_stream.py, which this project's event
generator did not make: its command lines are mostly distinct, so a column
of repeated texts cannot flatter the wildcard case.
"""

from __future__ import annotations

import time

import pytest
from workloads import (
    PREDICATES,
    agrees_with_interpreter,
    eql_engine_ns_per_event,
    independent_process_dicts,
    most_conditions_rule,
    process_batch,
    process_dicts,
)

import kestrel
from kestrel.bench.timing import best_ns_per_event
from kestrel.runtime.wasm import WasmPredicate

from support.shared_paths import require

EQL_SAMPLE = 4_096


@pytest.fixture(scope="module")
def setup():
    schema = kestrel.Schema.default()
    return schema, process_batch(schema)


@pytest.fixture(scope="module")
def independent():
    import independent_stream

    require(independent_stream.corpus_path())
    schema = kestrel.Schema.default()
    events = independent_process_dicts()
    return schema, kestrel.EventBatch.from_dicts(list(events), schema=schema), events


def run_case(benchmark, budget, setup, query: str, *, eql_compare: bool = True, events=None):
    schema, batch = setup[:2]
    events = process_dicts() if events is None else events
    compiled = kestrel.compile(query, schema=schema)
    predicate = WasmPredicate.from_compiled(compiled, schema)
    matches = benchmark(predicate.evaluate, batch)
    ns = best_ns_per_event(lambda: predicate.evaluate(batch), len(batch))
    extra = {
        "events": len(batch),
        "matches": len(matches),
        "agrees_with_reference": agrees_with_interpreter(compiled, matches, events=events),
        "reference": "Python interpreter",
    }
    if eql_compare:
        try:
            eql_ns, eql_hits = eql_engine_ns_per_event(query, list(events[:EQL_SAMPLE]))
        except ImportError:  # the optional `compare` extra is not installed
            pass
        else:
            ours = sum(1 for i in matches if i < EQL_SAMPLE)
            extra.update(
                eql_ns_per_event=round(eql_ns, 1),
                eql_matches=eql_hits,
                eql_agrees=eql_hits == ours,
                speedup=round(eql_ns / ns, 1),
            )
    budget(ns, **extra)
    assert extra["agrees_with_reference"]


@pytest.mark.benchmark(group="predicate-wasm")
@pytest.mark.parametrize("case", sorted(PREDICATES))
def test_wasm_predicate(benchmark, budget, setup, case):
    run_case(benchmark, budget, setup, PREDICATES[case])


@pytest.mark.benchmark(group="predicate-wasm")
@pytest.mark.parametrize("case", sorted(PREDICATES))
def test_wasm_predicate_independent(benchmark, budget, independent, case):
    run_case(benchmark, budget, independent, PREDICATES[case], events=independent[2])


@pytest.mark.benchmark(group="predicate-wasm")
def test_wasm_most_conditions_corpus_rule(benchmark, budget, setup):
    name, query = most_conditions_rule()
    benchmark.extra_info["rule"] = name
    run_case(benchmark, budget, setup, query, eql_compare=False)


@pytest.mark.benchmark(group="compile")
def test_wasm_cold_start(benchmark, budget, setup, tmp_path):
    """Compile + instantiate with an empty AOT cache, then a load that hits it."""
    schema = kestrel.Schema.default()
    compiled = kestrel.compile(PREDICATES["c_cmdline_20_wildcards"], schema=schema)
    counter = iter(range(10**6))

    def cold():
        return WasmPredicate.from_compiled(compiled, schema, limits={"cache_dir": tmp_path / f"cold{next(counter)}"})

    first = benchmark(cold)
    warm_dir = tmp_path / "warm"
    WasmPredicate.from_compiled(compiled, schema, limits={"cache_dir": warm_dir})
    started = time.perf_counter()
    hit = WasmPredicate.from_compiled(compiled, schema, limits={"cache_dir": warm_dir})
    hit_ms = (time.perf_counter() - started) * 1e3
    assert hit.rule.stats()["cache"] == "hit"
    benchmark.extra_info.update(
        cold_compile_ms=round(first.rule.stats()["compile_ns"] / 1e6, 2),
        cold_instantiate_ms=round(first.rule.stats()["instantiate_ns"] / 1e6, 2),
        cached_load_ms=round(hit_ms, 2),
        cached_compile_ms=round(hit.rule.stats()["compile_ns"] / 1e6, 2),
    )
    # A load has no per-event figure; the loaded module's matches are checked.
    matches = hit.evaluate(setup[1])
    budget(None, matches=len(matches), agrees_with_reference=agrees_with_interpreter(compiled, matches))
