"""Cross-runtime equivalence: every corpus rule compiled to Lua agrees with the
Python IR interpreter (the executable specification) on random events.

The interpreter reads the events back from the batch (`EventBatch.to_dicts`),
so both sides see the values as the core stored them (coerced to the schema's
types). Filters whose Lua hands a node to the core with `kestrel.eval_node`
are compared like the others. The Wasm runtime is the third voice (`test_lua_and_wasm_agree_...`).
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lua_events import events_for, witness_events

import kestrel
from kestrel.compiler import compile
from kestrel.compiler.ir import step_list
from kestrel.compiler.lua import generate_package
from kestrel.reference.interpreter import step_matches
from kestrel.runtime.lua import load_generated

from support.shared import CORPUS

RULES = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
CATEGORIES = ["process", "file", "network", "registry", "dns", "authentication", "library", "driver", "iam"]
PRIMARY_CORE_CALL = re.compile(r"^\s*\w+ = K\(kestrel\.eval_node\(", re.MULTILINE)


def schema():
    # A fresh copy each time: compiling and decoding assign ids and settle the
    # types of unknown fields, and a shared schema would make the strategies
    # depend on the order of the examples.
    return kestrel.Schema.default()


def needs_core(generated) -> bool:
    """Does the Lua hand some node to the core outright (not just a value of an unexpected type)?"""
    return PRIMARY_CORE_CALL.search(generated.source) is not None


def run_on_lua(index: int, events: list):
    """(compiled, schema, batch, result) of rule `index` on Lua over `events`."""
    rule_schema = schema()
    compiled = compile(RULES[index]["query"], schema=rule_schema)
    generated = generate_package(compiled)
    rule = load_generated(generated, RULES[index]["name"], schema=rule_schema)
    batch = kestrel.EventBatch.from_dicts(events, schema=rule_schema)
    result = rule.evaluate(batch, filters=tuple(range(generated.filters)))
    assert result.failure is None
    return compiled, rule_schema, batch, result


def check_rule(index: int, events: list) -> None:
    compiled, _, batch, result = run_on_lua(index, events)
    stored = batch.to_dicts()
    category = compiled.ir.event_fields.category.path
    for n, step in enumerate(step_list(compiled.ir.rule)):
        expected = [i for i, event in enumerate(stored) if step_matches(step, event, category)]
        assert result.events(n) == expected, f"{RULES[index]['name']} filter {n}: {compiled.source}"


def events_for_rule(index):
    """Batches (1-8 events) aimed at rule `index`: random, and built to satisfy or falsify it."""
    document = compile(RULES[index]["query"], schema=schema()).ir_dict()
    base = events_for(document, CATEGORIES)
    event = st.one_of(base, witness_events(document, base), witness_events(document, base))
    return st.lists(event, min_size=1, max_size=8)


def rule_with_events(indexes):
    """(index, events) for one rule drawn from `indexes`."""
    return st.sampled_from(indexes).flatmap(lambda index: st.tuples(st.just(index), events_for_rule(index)))


@pytest.mark.parametrize("index", range(len(RULES)), ids=[f"rule{i}" for i in range(len(RULES))])
def test_corpus_rule_agrees_with_the_interpreter(index):
    # Each of the 1,024 rules on a few random batches of its own.
    @settings(max_examples=3, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(events_for_rule(index))
    def check(events):
        check_rule(index, events)

    check()


def test_every_corpus_rule_compiles_to_loadable_lua():
    # Each rule, once: generated, loaded (LuaJIT parses it), run over an empty-ish batch.
    for entry in RULES:
        rule_schema = schema()
        generated = generate_package(compile(entry["query"], schema=rule_schema))
        rule = load_generated(generated, entry["name"], schema=rule_schema)
        batch = kestrel.EventBatch.from_dicts([{}], schema=rule_schema)
        assert rule.evaluate(batch, filters=tuple(range(generated.filters))).failure is None, entry["name"]


def test_most_corpus_rules_need_no_core_evaluator():
    core = sum(needs_core(generate_package(compile(r["query"], schema=schema()))) for r in RULES)
    assert core < 100, f"{core} of {len(RULES)} rules hand nodes to kestrel.eval_node"


def test_eval_node_reaches_the_core():
    compiled = compile('process where length(process.name) > 3 and cidrMatch(source.ip, "10.0.0.0/8")', schema=schema())
    rule = load_generated(generate_package(compiled), "core", schema=schema())
    batch = kestrel.EventBatch.from_dicts(
        [{"event": {"category": ["process"]}, "process": {"name": "bash"}, "source": {"ip": "10.1.2.3"}}], schema=schema()
    )
    assert rule.evaluate(batch).events() == [0]


def test_lua_and_wasm_agree_on_corpus_rules():
    """The seed's "test both runtimes": the same compiled rule on Lua and on Wasm."""
    from kestrel.runtime.wasm import WasmPredicate

    @settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(rule_with_events(list(range(len(RULES)))))
    def check(case):
        index, events = case
        compiled, rule_schema, batch, result = run_on_lua(index, events)
        wasm = WasmPredicate.from_compiled(compiled, rule_schema)
        for n in range(len(step_list(compiled.ir.rule))):
            assert result.events(n) == list(wasm.evaluate(batch, n)), f"{RULES[index]['name']} filter {n}"

    check()
