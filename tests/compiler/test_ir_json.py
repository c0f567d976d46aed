"""The IR's JSON form: versioned, a DAG in dependency order, self-contained."""

from __future__ import annotations

import json

from eql_test_data import corpus_queries
from hypothesis import given, settings
from hypothesis import strategies as st

from kestrel.compiler import compile, ir
from kestrel.compiler.ir_json import rule_from_dict
from kestrel.reference.interpreter import evaluate_predicate

QUERY = (
    'process where process.name : ("a*", "b", "c") and process.pid in (1, 2) and '
    'process.command_line regex~ ".*[0-9]{2}" and ?user.name != null and length(process.name) > 2.5'
)


def test_document_shape():
    document = json.loads(compile(QUERY).ir_json())
    assert document["ir_version"] == ir.IR_VERSION == 1
    assert set(document) == {
        "ir_version",
        "schema",
        "event_fields",
        "rule",
        "nodes",
        "strings",
        "sets",
        "globs",
        "regexes",
        "metadata",
    }
    assert document["schema"]["version"]
    assert document["globs"] == [{"patterns": ["a*"], "case_insensitive": True}]
    assert document["regexes"][0]["translated"] == [".*[0-9]{2}"]
    assert {"values": ["b", "c"], "types": ["string", "string"], "case_insensitive": True} in document["sets"]


def test_nodes_are_in_dependency_order():
    document = json.loads(compile(QUERY).ir_json())
    for index, node in enumerate(document["nodes"]):
        refs = [node[key] for key in ("left", "right", "operand") if key in node]
        refs += node.get("operands", []) + node.get("args", [])
        assert all(ref < index for ref in refs), node


def test_shared_subtrees_are_emitted_once():
    document = json.loads(compile('any where x == "a" or (x == "a" and y == 1) or startsWith(x, "q")').ir_json())
    loads = [node for node in document["nodes"] if node["op"] == "LoadField" and node["path"] == "x"]
    assert len(loads) == 1


def test_string_operations_carry_case_flags():
    document = json.loads(compile(QUERY).ir_json())
    for node in document["nodes"]:
        if node["op"] in ("Compare", "InSet", "WildcardMatch", "RegexMatch", "FunctionCall"):
            assert isinstance(node["case_insensitive"], bool)


def test_field_loads_carry_id_and_path():
    document = json.loads(compile(QUERY).ir_json())
    for node in document["nodes"]:
        if node["op"] == "LoadField":
            assert isinstance(node["field"], int) and node["path"]


def test_non_finite_floats_are_encoded_as_strings():
    document = json.loads(compile("any where x == 1.0 / 0").ir_json())
    values = [node["value"] for node in document["nodes"] if node["op"] == "Literal"]
    assert "Infinity" in values


def test_corpus_documents_round_trip_through_json():
    for rule in corpus_queries()[:300]:
        compiled = compile(rule["query"])
        decoded = rule_from_dict(json.loads(compiled.ir_json()))
        assert decoded == compiled.ir.rule, rule["name"]


@settings(max_examples=100, deadline=None)
@given(st.fixed_dictionaries({"x": st.sampled_from([None, "a", "B", 3, ["a", "zz"]]), "y": st.sampled_from([None, 1, 2.5, "1"])}))
def test_decoded_rule_evaluates_the_same(event):
    compiled = compile('any where (x : ("a*", "b") or x in (3, 4)) and (y > 1 or y == null) and not x regex "z+"')
    decoded = rule_from_dict(json.loads(compiled.ir_json()))
    original, copy = compiled.ir.rule.steps[0].predicate, decoded.steps[0].predicate
    assert evaluate_predicate(copy, event) == evaluate_predicate(original, event)


def test_metadata():
    compiled = compile('sequence by host.id [process where process.name == "cmd.exe"] [any where ?user.name : "adm*"]')
    document = compiled.ir_dict()
    metadata = document["metadata"]
    assert compiled.categories == ("process",) and metadata["any_category"]
    assert compiled.required_fields == ("host.id", "process.name")
    assert [f["path"] for f in metadata["fields"] if f["optional"]] == ["user.name"]
