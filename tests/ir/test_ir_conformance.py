"""Elasticsearch's own EQL event-query cases (the Endgame data set) through
kestrel._core.IrProgram.matches: the same ids as Elasticsearch, and as the
Python interpreter (tests/compiler/test_conformance.py). Cases with
`| head` / `| tail` are left to the engine (tests/engine/test_engine_conformance.py)."""

from __future__ import annotations

import pytest

import kestrel
from kestrel._core import IrProgram
from kestrel.compiler import compile

from support.conformance import ENDGAME_OPTIONS, endgame_batch, event_cases, unpiped

EVENT_CASES = event_cases()
UNPIPED = unpiped(EVENT_CASES)


@pytest.fixture(scope="module")
def endgame():
    """Every case compiled on one schema, and the events decoded once with it."""
    schema = kestrel.Schema.empty()
    compiled = {case["name"]: compile(case["query"], schema=schema, options=ENDGAME_OPTIONS) for case in EVENT_CASES}
    batch, ids = endgame_batch(schema)
    return schema, compiled, ids, batch


def test_suite_size():
    assert len(EVENT_CASES) == 94


@pytest.mark.parametrize("case", UNPIPED, ids=[case["name"] for case in UNPIPED])
def test_event_query(case, endgame):
    schema, compiled, ids, batch = endgame
    rule = compiled[case["name"]]
    program = IrProgram(rule.ir_json(), schema)
    assert [ids[i] for i in program.matches(batch)] == case["expected_event_ids"]
