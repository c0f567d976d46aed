"""Semantic analysis against the real ECS schema, and the rule descriptor."""

from __future__ import annotations

import pytest

import kestrel
from kestrel.compiler import CompileOptions, EqlSemanticError, compile, ir


def test_fields_resolve_to_schema_ids(schema):
    compiled = compile('process where process.name == "a"', schema=schema)
    load = compiled.ir.rule.steps[0].predicate.left
    info = schema.lookup("process.name")
    assert (load.field, load.path, load.type) == (info.id, "process.name", "string")


def test_unknown_fields_are_auto_assigned(schema):
    compiled = compile('process where custom.thing == "a"', schema=schema)
    info = schema.lookup("custom.thing")
    assert info is not None and info.auto
    assert compiled.ir.rule.steps[0].predicate.left.field == info.id


def test_strict_mode_rejects_unknown_fields(schema):
    with pytest.raises(EqlSemanticError) as info:
        compile('process where custom.thing == "a"', schema=schema, options=CompileOptions(strict=True))
    assert info.value.code == "E030"
    # An optional field may be absent from the schema even in strict mode.
    compile('process where ?custom.thing == "a"', schema=schema, options=CompileOptions(strict=True))


def test_strict_mode_checks_categories():
    with pytest.raises(EqlSemanticError) as info:
        compile("bogus where true", options=CompileOptions(strict=True))
    assert info.value.code == "E045"
    compile("bogus where true")  # allowed outside strict mode
    compile("process where true", options=CompileOptions(strict=True))


def test_default_schema_is_fresh_per_call():
    compile("process where only.in.one.call == 1")
    assert kestrel.Schema.default().lookup("only.in.one.call") is None


def test_event_rule_descriptor():
    compiled = compile("process where true | head 5 | tail 2")
    rule = compiled.ir.rule
    assert compiled.kind == "event"
    assert rule.pipes == (ir.Pipe("head", 5), ir.Pipe("tail", 2))
    assert rule.steps[0].category == "process"


def test_sequence_rule_descriptor(schema):
    compiled = compile(
        "sequence by host.id with maxspan=30s "
        "[process where true] by process.pid with runs=3 "
        "![file where true] by process.pid "
        "until [process where false] by process.pid",
        schema=schema,
    )
    rule = compiled.ir.rule
    host = schema.lookup("host.id")
    assert rule.kind == "sequence"
    assert rule.by == (ir.FieldRef(host.id, "host.id", host.type),)
    assert rule.maxspan_ns == 30 * 10**9
    assert [(s.category, s.runs, s.missing) for s in rule.steps] == [("process", 3, False), ("file", 1, True)]
    assert [key.path for key in rule.steps[0].by] == ["process.pid"]
    assert rule.until.category == "process"


def test_maxspan_units():
    spans = {
        unit: compile(f"sequence with maxspan=2{unit} [a where true] [b where true]").ir.rule.maxspan_ns
        for unit in ("ms", "s", "m", "h", "d")
    }
    assert spans == {"ms": 2 * 10**6, "s": 2 * 10**9, "m": 120 * 10**9, "h": 7200 * 10**9, "d": 172800 * 10**9}


def test_optional_join_keys_are_flagged():
    rule = compile("sequence by ?process.entity_id [a where true] [b where true]").ir.rule
    assert rule.by[0].optional


def test_sample_rule():
    compiled = compile("sample by host.id [a where true] [b where true] [c where true]")
    assert compiled.kind == "sample" and len(compiled.ir.rule.steps) == 3


def test_runs_boundaries():
    compile("sequence [a where true] with runs=1 [b where true]")
    compile("sequence [a where true] with runs=100 [b where true]")
    compile("sequence [a where true] with runs=2")  # one step repeated is a sequence of two


def test_five_sample_filters_are_allowed():
    compile("sample by h " + " ".join(f"[c{i} where true]" for i in range(5)))


def test_null_comparisons_become_is_null():
    predicate = compile("any where x == null", options=CompileOptions(optimize=False)).ir.rule.steps[0].predicate
    assert isinstance(predicate, ir.IsNull)
    predicate = compile("any where x != null", options=CompileOptions(optimize=False)).ir.rule.steps[0].predicate
    assert predicate == ir.Not(ir.IsNull(predicate.operand.operand))


def test_not_equal_lowers_to_not_equal_node():
    predicate = compile('any where x != "a"').ir.rule.steps[0].predicate
    assert isinstance(predicate, ir.Not) and predicate.operand.cmp == "eq"


def test_comparing_with_a_literal_either_side_is_allowed():
    compile("process where 0 <= process.pid")
    compile("process where length(process.name) > 3 and add(process.pid, 1) == 5")


def test_timestamps_compare_with_strings_and_numbers():
    compile('any where @timestamp > "2024-01-01" or @timestamp > 0')


def test_event_fields_follow_options(schema):
    options = CompileOptions(
        category_field="event_type", timestamp_field="ts", timestamp_unit="filetime", tiebreaker_field="serial"
    )
    fields = compile("process where true", schema=schema, options=options).ir.event_fields
    assert (fields.category.path, fields.timestamp.path, fields.timestamp_unit, fields.tiebreaker.path) == (
        "event_type",
        "ts",
        "filetime",
        "serial",
    )


def test_options_validate_timestamp_unit():
    with pytest.raises(ValueError):
        CompileOptions(timestamp_unit="fortnights")


def test_optimize_off_keeps_the_naive_lowering():
    predicate = compile('any where x in ("a", "b")', options=CompileOptions(optimize=False)).ir.rule.steps[0].predicate
    assert isinstance(predicate, ir.Logical) and all(isinstance(o, ir.Compare) for o in predicate.operands)
