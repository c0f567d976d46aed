"""Differential tests: kestrel._core.IrProgram (Rust) against the Python IR
interpreter, the executable spec, for every filter of every corpus rule.

Events are drawn per rule (see ir_events.py). A few batches per rule by
default; set KESTREL_IR_EXAMPLES to run more (and with a random seed).
"""

from __future__ import annotations

import os
from functools import lru_cache

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from ir_corpus import corpus_rules
from ir_events import compiled_with_batches

import kestrel
from kestrel._core import IrProgram
from kestrel.compiler.ir import step_list
from kestrel.reference.interpreter import evaluate_predicate, step_matches

EXAMPLES = int(os.environ.get("KESTREL_IR_EXAMPLES", "0"))
RULES = corpus_rules()
GROUP_CACHE = 32


@lru_cache(maxsize=GROUP_CACHE)
def prepared(index: int):
    """The compiled rule, its IR JSON, the schema it was compiled on, and an event strategy."""
    compiled, schema, batches = compiled_with_batches(RULES[index]["query"])
    return compiled, compiled.ir_json(), schema, batches


def check_batch(compiled, ir_json, schema, events):
    # A fresh copy per batch: auto-typed fields settle their type on first sight.
    schema = schema.copy()
    program = IrProgram(ir_json, schema)
    batch = kestrel.EventBatch.from_dicts(events, schema=schema)
    assert batch.errors == [] and len(batch) == len(events), batch.errors
    category = compiled.ir.event_fields.category.path
    for k, step in enumerate(step_list(compiled.ir.rule)):
        expected = [evaluate_predicate(step.predicate, event) for event in events]
        assert program.evaluate(batch, k) == expected, (k, events)
        hits = [i for i, event in enumerate(events) if step_matches(step, event, category)]
        assert program.matches(batch, k) == hits, (k, events)


# Rules are tested in groups: one Hypothesis run per group keeps the engine's
# fixed cost from dominating, and every rule still gets its own batches.
GROUP = 16
GROUPS = [range(start, min(start + GROUP, len(RULES))) for start in range(0, len(RULES), GROUP)]


@pytest.mark.parametrize("group", GROUPS, ids=[f"rules{g.start}-{g.stop - 1}" for g in GROUPS])
@settings(max_examples=EXAMPLES or 3, deadline=None, suppress_health_check=list(HealthCheck))
@(seed(0) if not EXAMPLES else lambda test: test)
@given(data=st.data())
def test_rust_evaluator_matches_the_interpreter(group, data):
    for index in group:
        compiled, ir_json, schema, batches = prepared(index)
        events = data.draw(batches, label=RULES[index]["name"])
        check_batch(compiled, ir_json, schema, events)
