"""Loading IR documents into kestrel._core.IrProgram: every corpus rule
loads; damaged or hostile documents raise IrError and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ir_corpus import corpus_rules

import kestrel
from kestrel._core import IrError, IrProgram, KestrelError
from kestrel.compiler import compile

#: The compiler's snapshot IR documents (tests/compiler/fixtures/NAME.ir.json).
FIXTURES = Path(__file__).resolve().parents[1] / "compiler" / "fixtures"
GOLDEN_DOCS = {path.name[: -len(".ir.json")]: path.read_text(encoding="utf-8") for path in sorted(FIXTURES.glob("*.ir.json"))}


def test_every_corpus_rule_loads():
    schema = kestrel.Schema.default()
    rules = corpus_rules()
    failures = []
    for rule in rules:
        compiled = compile(rule["query"], schema=schema)
        try:
            program = IrProgram(compiled.ir_json(), schema)
        except IrError as exc:
            failures.append(f"{rule['name']}: {exc}")
            continue
        assert program.node_count == len(compiled.ir_dict()["nodes"])
    assert len(rules) == 1024 and failures == []


@pytest.mark.parametrize("name", sorted(GOLDEN_DOCS))
def test_golden_documents_load(name):
    program = IrProgram(GOLDEN_DOCS[name], kestrel.Schema.empty())
    assert program.node_count == len(json.loads(GOLDEN_DOCS[name])["nodes"])


def test_ir_error_is_a_kestrel_error():
    assert issubclass(IrError, KestrelError)
    with pytest.raises(IrError, match="unsupported ir_version 2"):
        IrProgram(GOLDEN_DOCS["sample"].replace('"ir_version": 1', '"ir_version": 2'), kestrel.Schema.empty())


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["nodes"].append({"op": "Teleport"}), "unknown node op"),
        (lambda d: d["nodes"][-1].update(operands=[0, len(d["nodes"])]), "out of range"),
        (lambda d: d["rule"]["steps"][0].update(predicate=999), "rule filter 0: predicate: index 999"),
        (lambda d: d["globs"].clear(), "globs has 0 entries"),
        (lambda d: d["regexes"][0].update(translated=["("]), "regexes[0]: translated[0]"),
        (lambda d: d.pop("nodes"), "missing field `nodes`"),
    ],
    ids=["op", "forward-child", "step", "table", "regex", "member"],
)
def test_damaged_documents_name_the_place(change, message):
    document = json.loads(GOLDEN_DOCS["event_patterns"])
    change(document)
    with pytest.raises(IrError, match=message.replace("[", r"\[").replace("]", r"\]")):
        IrProgram(json.dumps(document), kestrel.Schema.empty())


@pytest.mark.parametrize("text", ["", "{", "null", "[1, 2]", '{"ir_version": 1}', "\x00\xff", GOLDEN_DOCS["sample"][:-40]])
def test_garbage_raises_ir_error(text):
    with pytest.raises(IrError):
        IrProgram(text, kestrel.Schema.empty())


JSON_NOISE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=6,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _paths(child, prefix + (i,))


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mutated_documents_load_or_raise_ir_error(data):
    """Replace any part of a real document by random JSON: a clean load or IrError, never a crash."""
    name = data.draw(st.sampled_from(sorted(GOLDEN_DOCS)))
    document = json.loads(GOLDEN_DOCS[name])
    paths = [p for p in _paths(document) if p]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        parent = document
        try:
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = data.draw(JSON_NOISE)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this path
    try:
        program = IrProgram(json.dumps(document), kestrel.Schema.empty())
    except IrError:
        return
    batch = kestrel.EventBatch.from_dicts([{"a": 1}, {}])
    for step in range(len(document["rule"]["steps"])):
        assert len(program.evaluate(batch, step)) == 2


def test_filters_are_numbered_steps_then_until():
    schema = kestrel.Schema.empty()
    program = IrProgram(GOLDEN_DOCS["sequence_full"], schema)
    batch = kestrel.EventBatch.from_dicts([{"event": {"type": "end"}}], schema=schema)
    assert program.evaluate(batch, 3) == [True]  # until: event.type == "end"
    assert program.evaluate(batch, 0) == [False]
    with pytest.raises(IndexError):
        program.evaluate(batch, 4)
    with pytest.raises(IndexError):
        program.matches(batch, 4)
    assert program.evaluate(kestrel.EventBatch.from_dicts([], schema=schema), 0) == []
