"""Benchmarks: Kestrel beside the `eql` package's PythonEngine (`kestrel bench --compare eql`'s cases).

* group `engine`: every event rule of the production corpus that both
  engines accept, timed together over one generated stream;
* group `sequence`: the 3-step `sequence by process.entity_id with
  maxspan=5m` (benches/bench_sequence.py measures it at scale).

The timing is `kestrel.bench.compare`'s own (best of N per engine); the
benchmark's median is the whole comparison. `extra_info` records Kestrel's
ns/event and events/s, eql's (`eql_ns_per_event`), the ratio, the matches and
whether every rule's matches agree, known semantic differences aside (see
kestrel/bench/compare.py). Run once as a test, it compares 40 rules on 300
events; timed (`--benchmark-only`), all of them on 2,000.
"""

from __future__ import annotations

import pytest

import kestrel
from kestrel.bench import compare, events

from support.shared_paths import CORPUS, require

pytest.importorskip("eql")


def compare_case(benchmark, budget, cases: tuple[str, ...], case: str) -> None:
    timed = not benchmark.disabled
    schema = kestrel.Schema.default()
    plan = compare.plan(schema, cases, corpus_limit=None if timed else 40)
    stream = events.generate(2_000 if timed else 300, schema, dicts=True, entities=compare.ENTITIES)
    results = benchmark.pedantic(
        compare.run, args=(plan, stream, schema), kwargs={"repeats": 3 if timed else 1}, rounds=1, iterations=1
    )
    (result,) = [r for r in results if r.case == case]
    budget(
        result.kestrel_ns_per_event,
        matches=result.kestrel_matches,
        agrees_with_reference=result.agrees,
        reference="eql PythonEngine",
        events=result.events,
        rules=result.rules,
        eql_ns_per_event=round(result.eql_ns_per_event, 1),
        eql_matches=result.eql_matches,
        ratio=None if result.ratio is None else round(result.ratio, 1),
        known_differences=len(result.explained),
        matched_rules=result.matched_rules,
    )
    assert result.agrees, f"RESULTS DIFFER: {result.differing[:10]}"


@pytest.mark.benchmark(group="engine")
def test_corpus_event_rules_vs_eql(benchmark, budget):
    require(CORPUS)
    compare_case(benchmark, budget, ("corpus",), "corpus_event_rules")


@pytest.mark.benchmark(group="sequence")
def test_sequence_3_steps_vs_eql(benchmark, budget):
    compare_case(benchmark, budget, ("sequence",), "sequence_3_steps_by_entity_5m")
