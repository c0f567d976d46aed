"""The IR interpreter's semantics: null logic, arrays, event shapes, operators."""

from __future__ import annotations

import pytest

import kestrel
from kestrel.compiler import CompileOptions, compile
from kestrel.reference.interpreter import load_field, matches


def match(query, event, **options):
    return matches(compile(f"any where {query}", schema=kestrel.Schema.empty(), options=CompileOptions(**options)), event)


@pytest.mark.parametrize(
    "event",
    [
        {"process": {"name": "cmd.exe"}},
        {"process.name": "cmd.exe"},
        {"process": {"name": ["cmd.exe"]}},
        {"process": [{"name": "x"}, {"name": "cmd.exe"}]},
    ],
    ids=["nested", "flat", "one-element array", "array of objects"],
)
def test_event_shapes(event):
    assert load_field(event, "process.name") in ("cmd.exe", ("x", "cmd.exe"))
    assert match('process.name == "cmd.exe"', event)


def test_missing_null_and_empty_array_are_null():
    for event in ({}, {"x": None}, {"x": []}):
        assert load_field(event, "x") is None
        assert match("x == null", event)
        assert not match("x != null", event)


def test_missing_field_makes_comparisons_null_not_true():
    assert not match('x == "a"', {})
    assert not match('x != "a"', {})
    assert not match('not x == "a"', {})


def test_kleene_logic():
    assert match('x == "a" or true', {})
    assert not match('x == "a" and true', {})
    assert not match('x == "a" and false', {})
    assert match('not (x == "a" and false)', {})


def test_case_sensitivity_per_operator():
    event = {"x": "CMD.exe"}
    assert not match('x == "cmd.exe"', event)
    assert match('x : "cmd.exe"', event)
    assert match('x in~ ("cmd.exe")', event)
    assert not match('x in ("cmd.exe")', event)
    assert match('x like~ "cmd.*"', event)
    assert not match('x like "cmd.*"', event)
    assert match('x regex~ "cmd\\\\.exe"', event)
    assert not match('x regex "cmd\\\\.exe"', event)


def test_wildcards():
    event = {"path": "C:\\Windows\\System32\\cmd.exe"}
    assert match('path : "?:\\\\Windows\\\\*"', event)
    assert match('path : "*\\\\cmd.exe"', event)
    assert not match('path : "?\\\\Windows\\\\*"', event)  # `?` is exactly one character
    assert match('path like "C:*"', event)


def test_regex_is_anchored_at_both_ends():
    assert match('x regex "b.*"', {"x": "bcd"})
    assert not match('x regex "c"', {"x": "bcd"})
    assert not match('x regex "b"', {"x": "bcd"})


def test_regex_dot_matches_newline():
    assert match('x regex "a.b"', {"x": "a\nb"})


def test_arrays_match_if_any_element_matches():
    event = {"args": ["-enc", "payload"]}
    assert match('args == "-enc"', event)
    assert match('args : "pay*"', event)
    assert match('args in ("x", "payload")', event)
    assert not match('args != "-enc"', event)  # not (any element equals)
    assert match('args != "other"', event)


def test_string_number_comparison_uses_text():
    assert match("code == 4624", {"code": "4624"})
    assert match('code == "4624"', {"code": 4624})
    assert not match("code < 5000", {"code": "4624"})  # ordering a string and a number is false


def test_string_ordering_is_case_sensitive_lexicographic():
    assert match('name >= "System" and name <= "System Idle Process"', {"name": "System"})
    assert not match('name >= "system"', {"name": "System"})


def test_null_equals_comparison_result():
    assert match("null == (exit_code > -1)", {})
    assert not match("null == (exit_code > -1)", {"exit_code": 0})


def test_integer_division_truncates():
    assert match("n / 2 == 41", {"n": 83})
    assert not match("n / 2.0 == 41", {"n": 83})


def test_category_filter():
    compiled = compile("process where x == 1", schema=kestrel.Schema.empty(), options=CompileOptions(category_field="event_type"))
    assert matches(compiled, {"event_type": "process", "x": 1})
    assert not matches(compiled, {"event_type": "file", "x": 1})
    ecs = compile("process where true")
    assert matches(ecs, {"event": {"category": ["network", "process"]}})


def test_optional_field_is_null_when_missing():
    assert match("?user.id == null", {})
    assert not match("?user.id != null", {})


def test_like_specials_and_backslashes_are_literal_in_wildcards():
    # Elasticsearch escapes SQL LIKE's `%` and `_`; only `*` and `?` are wildcards.
    assert match('x : "a%b_c"', {"x": "a%b_c"})
    assert not match('x : "a%b_c"', {"x": "aXbYc"})
    assert match('x : "C:\\\\*"', {"x": "C:\\dir"})
    assert not match('x : "C:\\\\*"', {"x": "C:dir"})
