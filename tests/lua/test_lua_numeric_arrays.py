"""Numeric comparisons on array fields, in generated Lua: true when any of
the values compares true (`cmp_i64`/`cmp_f64` in the C table), as in the
Wasm runtime and the IR reference, on both Lua VMs' host bindings (the `vm` fixture)."""

from __future__ import annotations

import pytest

import kestrel
from kestrel.compiler import compile
from kestrel.compiler.lua import generate_package
from kestrel.reference.interpreter import matches as reference_matches
from kestrel.runtime.lua import load_generated

EVENTS = [
    {"event": {"category": "process"}, "process": {"pid": [5, 2000], "args_count": [1, 12]}},
    {"event": {"category": "process"}, "process": {"pid": [5, 6], "args_count": [1]}},
    {"event": {"category": "process"}, "process": {"pid": 4000, "args_count": 12}},
    {"event": {"category": "process"}, "process": {"pid": [], "args_count": []}},
    {"event": {"category": "process"}, "process": {"name": "no numbers"}},
]

QUERIES = [
    "process where process.pid > 1000",
    "process where process.pid == 6",
    "process where process.pid in (2000, 7)",
    "process where not process.pid < 100",
    "process where process.args_count > 9.0",
    "process where process.args_count <= 1",
]


@pytest.mark.parametrize("query", QUERIES)
def test_any_value_of_an_array_decides_a_numeric_comparison(query, vm):
    schema = kestrel.Schema.default()
    compiled = compile(query, schema=schema)
    generated = generate_package(compiled)
    assert "cmp_" in generated.source and "get_i64" not in generated.source
    lua = load_generated(generated, "numeric-arrays", schema=schema, vm=vm)
    batch = kestrel.EventBatch.from_dicts(EVENTS, schema=schema)
    assert batch.errors == []
    expected = [i for i, event in enumerate(batch.to_dicts()) if reference_matches(compiled, event)]
    assert expected, "each query matches some event"
    assert lua.evaluate(batch).events() == expected
    assert kestrel.compile(query, schema=schema).evaluate(batch).tolist() == expected


def test_the_events_hold_arrays_where_the_first_value_alone_would_answer_wrong():
    batch = kestrel.EventBatch.from_dicts(EVENTS)
    assert batch.get(0, "process.pid") == [5, 2000]
    assert kestrel.compile(QUERIES[0]).evaluate(batch).tolist() == [0, 2]
