"""Differential tests: every filter of every corpus rule, compiled to Wasm and
run by wasmtime in the core, against the Python IR interpreter.

The event strategies are the IR evaluator's (tests/ir/ir_events.py): values
drawn to hit each rule's literals, patterns and CIDR blocks half the time.
A few batches per rule by default; KESTREL_WASM_EXAMPLES runs more.
"""

from __future__ import annotations

import os
from functools import lru_cache

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from ir.ir_corpus import corpus_rules
from ir.ir_events import compiled_with_batches

import kestrel
from kestrel.compiler.ir import step_list
from kestrel.reference.interpreter import step_matches
from kestrel.runtime.wasm import WasmPredicate

EXAMPLES = int(os.environ.get("KESTREL_WASM_EXAMPLES", "0"))
RULES = corpus_rules()
GROUP = 32
GROUPS = [range(start, min(start + GROUP, len(RULES))) for start in range(0, len(RULES), GROUP)]


@lru_cache(maxsize=GROUP)
def prepared(index: int):
    return compiled_with_batches(RULES[index]["query"])


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("aot")


@pytest.mark.parametrize("group", GROUPS, ids=[f"rules{g.start}-{g.stop - 1}" for g in GROUPS])
@settings(max_examples=EXAMPLES or 2, deadline=None, suppress_health_check=list(HealthCheck))
@(seed(0) if not EXAMPLES else lambda test: test)
@given(data=st.data())
def test_wasm_matches_the_interpreter(group, data, cache_dir):
    for index in group:
        compiled, base, batches = prepared(index)
        events = data.draw(batches, label=RULES[index]["name"])
        # A fresh copy per batch: auto-typed fields settle their type on first sight.
        schema = base.copy()
        batch = kestrel.EventBatch.from_dicts(events, schema=schema)
        predicate = WasmPredicate.from_compiled(compiled, schema, rule_id=RULES[index]["name"], limits={"cache_dir": cache_dir})
        category = compiled.ir.event_fields.category.path
        for k, step in enumerate(step_list(compiled.ir.rule)):
            expected = [i for i, event in enumerate(events) if step_matches(step, event, category)]
            assert predicate.evaluate(batch, k) == expected, (RULES[index]["name"], k, events)
