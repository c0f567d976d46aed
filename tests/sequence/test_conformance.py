"""Elasticsearch's own sequence and missing-event QA cases, run through the
Wasm step predicates and the Rust sequence matcher, with 1 and 3 shards."""

from __future__ import annotations

import pytest

import kestrel
from kestrel.runtime.sequence import SequenceRule

from support.conformance import (
    ENDGAME_OPTIONS,
    MISSING_OPTIONS,
    endgame_batch,
    flattened_ids,
    missing_event_cases,
    missing_events_batch,
    sequence_cases,
    unpiped,
)


def test_the_suites_are_all_here() -> None:
    assert len(sequence_cases()) == 39
    assert len(missing_event_cases()) == 26


@pytest.mark.parametrize("shards", [1, 3])
@pytest.mark.parametrize("case", sequence_cases(), ids=lambda c: c["name"])
def test_sequence_queries(case, shards) -> None:
    schema = kestrel.Schema.default()
    batch, _ = endgame_batch(schema)
    compiled = kestrel.compile(case["query"], schema=schema, options=ENDGAME_OPTIONS)
    rule = SequenceRule(compiled, schema, rule_id=case["name"], shards=shards)
    assert flattened_ids(rule.evaluate(batch), "serial_event_id") == case["expected_event_ids"]


@pytest.mark.parametrize("case", sequence_cases(), ids=lambda c: c["name"])
def test_candidates_spanning_every_category_change_nothing(case) -> None:
    """Candidates given as one list for every filter (or one per filter, as
    the engine's rule index gives them) may span every category: each step
    predicate must still keep to its own."""
    schema = kestrel.Schema.default()
    batch, _ = endgame_batch(schema)
    every_event = kestrel.compile("any where true", schema=schema, options=ENDGAME_OPTIONS).evaluate(batch)
    assert len(every_event) == len(batch)
    compiled = kestrel.compile(case["query"], schema=schema, options=ENDGAME_OPTIONS)
    rule = SequenceRule(compiled, schema, rule_id=case["name"])
    assert flattened_ids(rule.evaluate(batch, every_event), "serial_event_id") == case["expected_event_ids"]
    per_filter = SequenceRule(compiled, schema, rule_id=case["name"])
    lists = [every_event] * per_filter.matcher.filters
    assert flattened_ids(per_filter.evaluate(batch, lists), "serial_event_id") == case["expected_event_ids"]
    with pytest.raises(ValueError, match="candidate lists for"):
        per_filter.match_lists(batch, lists + [every_event])


@pytest.mark.parametrize("shards", [1, 2])
@pytest.mark.parametrize("case", missing_event_cases(), ids=lambda c: c["name"])
def test_missing_event_queries(case, shards) -> None:
    schema = kestrel.Schema.default()
    batch = missing_events_batch(schema)
    compiled = kestrel.compile(case["query"], schema=schema, options=MISSING_OPTIONS)
    rule = SequenceRule(compiled, schema, rule_id=case["name"], shards=shards)
    assert flattened_ids(rule.evaluate(batch), "sequence") == case["expected_event_ids"]


@pytest.mark.parametrize("case", unpiped(missing_event_cases()), ids=lambda c: c["name"])
def test_missing_events_one_event_per_batch(case) -> None:
    """Streaming one event at a time gives the same answer: trailing missing
    steps wait for their window, whatever the batch boundaries. (Over a
    stream, `| head` / `| tail` are the engine's:
    tests/engine/test_engine_conformance.py streams every case, those with
    pipes too.)"""
    schema = kestrel.Schema.default()
    whole = missing_events_batch(schema)
    compiled = kestrel.compile(case["query"], schema=schema, options=MISSING_OPTIONS)
    rule = SequenceRule(compiled, schema, rule_id=case["name"])
    found = []
    # A stream arrives in time order (Elasticsearch sorts by timestamp, then tiebreaker).
    order = sorted(range(len(whole)), key=lambda i: (whole.timestamp(i), whole.get(i, "sequence")))
    for i in order:
        found += rule.process(
            kestrel.EventBatch.from_ndjson(
                whole.raw(i),
                schema=schema,
                category_field="event_type",
                timestamp_field="@timestamp",
                timestamp_unit="ms",
                first_seq=i,
            )
        )
    found += rule.flush()
    found.sort(key=lambda m: next(s for s in m.seqs if s is not None))
    assert flattened_ids(found, "sequence") == case["expected_event_ids"]
