"""Invalid queries: each gives its stable code at the right position (data-driven)."""

from __future__ import annotations

import pickle

import pytest
from eql_test_data import HERE, toml_cases

from kestrel import KestrelError
from kestrel.compiler import ERROR_CODES, EqlError, EqlSemanticError, EqlSyntaxError, compile

CASES = toml_cases(HERE / "invalid_queries.toml", "case")


def test_at_least_60_cases():
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", CASES, ids=[case["why"] for case in CASES])
def test_invalid_query(case):
    with pytest.raises(EqlError) as info:
        compile(case["query"])
    error = info.value
    assert (error.code, error.line, error.column) == (case["code"], case["line"], case["column"]), error.message
    assert error.code in ERROR_CODES
    assert error.message
    assert "^" in error.excerpt


def test_error_classes_root_at_kestrel_error():
    assert issubclass(EqlError, KestrelError)
    assert issubclass(EqlSyntaxError, EqlError)
    assert issubclass(EqlSemanticError, EqlError)


def test_syntax_and_semantic_errors_are_told_apart():
    with pytest.raises(EqlSyntaxError):
        compile("process where x = 1")
    with pytest.raises(EqlSemanticError):
        compile("process where x == y")


def test_caret_points_at_the_column():
    with pytest.raises(EqlError) as info:
        compile('process where process.name = "x"')
    text_line, caret_line = info.value.excerpt.splitlines()
    assert text_line == '1 | process where process.name = "x"'
    assert caret_line.index("^") == text_line.index("=")


def test_long_lines_are_windowed_around_the_error():
    query = "process where " + " or ".join(f'x == "{i}"' for i in range(2000)) + " or y = 1"
    with pytest.raises(EqlError) as info:
        compile(query)
    text_line, caret_line = info.value.excerpt.splitlines()
    assert len(text_line) < 120
    assert text_line[caret_line.index("^")] == "="


def test_errors_pickle():
    with pytest.raises(EqlError) as info:
        compile("process where x = 1")
    copy = pickle.loads(pickle.dumps(info.value))
    assert (type(copy), copy.code, copy.line, copy.column) == (EqlSyntaxError, "E004", 1, 17)


def test_codes_are_unique_and_well_formed():
    assert all(code.startswith("E0") and len(code) == 4 for code in ERROR_CODES)


def test_every_case_code_is_registered():
    assert {case["code"] for case in CASES} <= set(ERROR_CODES)


# -- size limits: a query too big to compile safely fails with a located error --

from kestrel.compiler.lower import MAX_EXPRESSION_DEPTH, MAX_SEQUENCE_FILTERS  # noqa: E402


def _nested_not(levels: int) -> str:
    # Depth counts every node from the root to a leaf: the nots, `==`, the field.
    return "process where " + "not " * (levels - 2) + "process.pid == 1"


def _nested_not_in(levels: int) -> str:
    # Each level tests the level below twice (once per list value).
    condition = "process.pid not in (1, 2)"
    for _ in range(levels - 1):
        condition = f"({condition}) not in (true, null)"
    return "process where " + condition


def _sequence(steps: int) -> str:
    return "sequence by host.id " + " ".join(f"[process where process.pid == {n}]" for n in range(steps))


@pytest.mark.parametrize(
    "query, code",
    [
        (_nested_not(MAX_EXPRESSION_DEPTH + 1), "E058"),
        ("process where process.pid == " + " + ".join(["1"] * (MAX_EXPRESSION_DEPTH + 1)), "E058"),
        (_nested_not_in(30), "E060"),
        (_sequence(MAX_SEQUENCE_FILTERS + 1), "E059"),
    ],
    ids=["nested not", "chained +", "nested shared operands", "sequence steps"],
)
def test_queries_over_a_size_limit_are_refused_where_they_cross_it(query, code):
    with pytest.raises(EqlSemanticError) as info:
        compile(query)
    assert info.value.code == code and info.value.line == 1 and info.value.column > 1


@pytest.mark.parametrize(
    "query",
    [
        _nested_not(MAX_EXPRESSION_DEPTH),
        "process where " + " or ".join(f"process.pid == {n}" for n in range(3000)),
        "process where " + " and ".join(f"process.pid != {n}" for n in range(3000)),
        _nested_not_in(12),
        _sequence(MAX_SEQUENCE_FILTERS),
    ],
    ids=["nested not at the limit", "3000-term or", "3000-term and", "shared operands", "sequence at the limit"],
)
def test_queries_within_the_limits_compile_to_wasm(query):
    assert compile(query).wasm
