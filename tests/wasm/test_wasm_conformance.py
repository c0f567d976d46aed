"""Elasticsearch's EQL QA event-query cases, compiled to Wasm and run by the core's wasmtime.

Cases with `| head` / `| tail` are left to the engine, which applies pipes
(tests/engine/test_engine_conformance.py)."""

import pytest

import kestrel
from kestrel.runtime.wasm import WasmPredicate

from support.conformance import (
    ENDGAME_OPTIONS,
    endgame_fixture,  # noqa: F401 (the `endgame` fixture)
    event_cases,
    unpiped,
)

CASES = unpiped(event_cases())


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_event_query_on_wasm(case, endgame, tmp_path):
    schema, batch, ids = endgame
    rule = kestrel.compile(case["query"], schema=schema, options=ENDGAME_OPTIONS)
    predicate = WasmPredicate.from_compiled(rule, schema, rule_id=case["name"])
    found = [ids[i] for i in predicate.evaluate(batch)]
    assert found == case["expected_event_ids"]
