"""Elasticsearch's EQL QA event-query cases on the Lua backend.

The same cases tests/compiler/test_conformance.py runs through the IR
interpreter, here compiled to Lua and run by the LuaJIT runtime over the
Endgame data set decoded into one batch, on LuaJIT and on the Lua 5.4 fallback. Cases whose Lua hands nodes to the
core (`kestrel.eval_node`) wait for the core's IR evaluator to be attachable.
Cases with `| head` / `| tail` are left to the engine, which applies pipes
(tests/engine/test_engine_conformance.py).
"""

from __future__ import annotations

import pytest

from kestrel.compiler import compile
from kestrel.compiler.lua import generate_package
from kestrel.runtime.lua import load_generated

from support.conformance import ENDGAME_OPTIONS as ENDGAME
from support.conformance import (
    endgame_fixture,  # noqa: F401 (the `endgame` fixture)
    event_cases,
    unpiped,
)

EVENT_CASES = unpiped(event_cases())


@pytest.mark.parametrize("case", EVENT_CASES, ids=[case["name"] for case in EVENT_CASES])
def test_event_query_on_lua(case, endgame, vm):
    schema, batch, ids = endgame
    rule = compile(case["query"], schema=schema, options=ENDGAME)
    generated = generate_package(rule)
    result = load_generated(generated, case["name"], schema=schema, vm=vm).evaluate(batch)
    assert result.failure is None
    assert [ids[ev] for ev in result.events()] == case["expected_event_ids"]
