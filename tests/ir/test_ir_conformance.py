"""Elasticsearch's own EQL event-query cases (the Endgame data set) through
kestrel._core.IrProgram.matches: the same ids as Elasticsearch, and as the
Python interpreter (tests/compiler/test_conformance.py)."""

from __future__ import annotations

import json
import sys

import pytest

import kestrel
from kestrel._core import IrProgram
from kestrel.compiler import CompileOptions, compile

from ir_corpus import CONFORMANCE

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ENDGAME = CompileOptions(
    category_field="event_type",
    timestamp_field="timestamp",
    timestamp_unit="filetime",
    tiebreaker_field="serial_event_id",
)

with open(CONFORMANCE / "es_test_queries.toml", "rb") as _handle:
    QUERIES = tomllib.load(_handle)["queries"]
EVENT_CASES = [case for case in QUERIES if not case["query"].lstrip().startswith(("sequence", "sample"))]


@pytest.fixture(scope="module")
def endgame():
    """Every case compiled on one schema, and the events decoded once with it."""
    schema = kestrel.Schema.empty()
    compiled = {case["name"]: compile(case["query"], schema=schema, options=ENDGAME) for case in EVENT_CASES}
    with open(CONFORMANCE / "endgame_test_data.json", encoding="utf-8") as handle:
        events = json.load(handle)
    # Elasticsearch's order: timestamp, then the tiebreaker.
    events.sort(key=lambda event: (event["timestamp"], event["serial_event_id"]))
    batch = kestrel.EventBatch.from_dicts(
        events, schema=schema, category_field="event_type", timestamp_field="timestamp", timestamp_unit="filetime"
    )
    assert len(batch) == len(events)
    return schema, compiled, events, batch


def test_suite_size():
    assert len(EVENT_CASES) == 94


@pytest.mark.parametrize("case", EVENT_CASES, ids=[case["name"] for case in EVENT_CASES])
def test_event_query(case, endgame):
    schema, compiled, events, batch = endgame
    rule = compiled[case["name"]]
    program = IrProgram(rule.ir_json(), schema)
    ids = [events[i]["serial_event_id"] for i in program.matches(batch)]
    for pipe in rule.ir.rule.pipes:
        ids = ids[: pipe.count] if pipe.op == "head" else ids[-pipe.count :]
    assert ids == case["expected_event_ids"]
