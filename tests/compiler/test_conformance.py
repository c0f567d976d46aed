"""Elasticsearch's own EQL QA cases (transcribed in ../shared/conformance).

Event queries run through the IR interpreter over the Endgame data set and
must return exactly Elasticsearch's ids. `| head` / `| tail` select among a
rule's results, which is the engine's work: those cases run in
tests/engine/test_engine_conformance.py, and here they must compile to the
right pipes. Sequence cases must compile, to the right kind (the sequence
engine runs them in tests/sequence and tests/engine).
"""

from __future__ import annotations

import json

import pytest
from eql_test_data import CONFORMANCE, toml_cases

import kestrel
from kestrel.compiler import CompileOptions, compile, parse
from kestrel.reference.interpreter import matches

ENDGAME = CompileOptions(
    category_field="event_type",
    timestamp_field="timestamp",
    timestamp_unit="filetime",
    tiebreaker_field="serial_event_id",
)
MISSING_EVENTS = CompileOptions(category_field="event_type", tiebreaker_field="sequence")

QUERIES = toml_cases(CONFORMANCE / "es_test_queries.toml", "queries")
EVENT_CASES = [case for case in QUERIES if not case["query"].lstrip().startswith(("sequence", "sample"))]
SEQUENCE_CASES = [case for case in QUERIES if case not in EVENT_CASES]
MISSING_CASES = toml_cases(CONFORMANCE / "es_test_missing_events.toml", "queries")
PIPED_EVENT_CASES = [case for case in EVENT_CASES if parse(case["query"]).pipes]
UNPIPED_EVENT_CASES = [case for case in EVENT_CASES if case not in PIPED_EVENT_CASES]


@pytest.fixture(scope="module")
def endgame_events():
    with open(CONFORMANCE / "endgame_test_data.json", encoding="utf-8") as handle:
        events = json.load(handle)
    # Elasticsearch's order: timestamp, then the tiebreaker.
    return sorted(events, key=lambda event: (event["timestamp"], event["serial_event_id"]))


def run_event_query(compiled, events):
    return [event["serial_event_id"] for event in events if matches(compiled, event)]


def test_suite_sizes():
    assert (len(QUERIES), len(EVENT_CASES), len(MISSING_CASES)) == (133, 94, 26)
    assert len(PIPED_EVENT_CASES) == 6


@pytest.mark.parametrize("case", UNPIPED_EVENT_CASES, ids=[case["name"] for case in UNPIPED_EVENT_CASES])
def test_event_query(case, endgame_events):
    compiled = compile(case["query"], schema=kestrel.Schema.empty(), options=ENDGAME)
    assert compiled.kind == "event"
    assert run_event_query(compiled, endgame_events) == case["expected_event_ids"]


@pytest.mark.parametrize("case", PIPED_EVENT_CASES, ids=[case["name"] for case in PIPED_EVENT_CASES])
def test_event_query_pipes_compile(case):
    compiled = compile(case["query"], schema=kestrel.Schema.empty(), options=ENDGAME)
    assert compiled.kind == "event"
    written = [(pipe.name, pipe.count) for pipe in compiled.ast.pipes]
    assert [(pipe.op, pipe.count) for pipe in compiled.ir.rule.pipes] == written != []


@pytest.mark.parametrize("case", SEQUENCE_CASES, ids=[case["name"] for case in SEQUENCE_CASES])
def test_sequence_query_compiles(case):
    compiled = compile(case["query"], options=ENDGAME)
    assert compiled.kind == "sequence"
    json.loads(compiled.ir_json())


@pytest.mark.parametrize("case", MISSING_CASES, ids=[case["name"] for case in MISSING_CASES])
def test_missing_events_query_compiles(case):
    compiled = compile(case["query"], options=MISSING_EVENTS)
    steps = compiled.ir.rule.steps
    assert compiled.kind == "sequence"
    assert any(step.missing for step in steps)
    assert compiled.ir.rule.maxspan_ns is not None
