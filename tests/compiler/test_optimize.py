"""Every optimisation preserves meaning: same truth value on random predicates and events."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kestrel.compiler import compile, ir
from kestrel.compiler.lucene_regex import translate
from kestrel.compiler.optimize import (
    equalities_to_set,
    fold_constants,
    merge_wildcards,
    optimize,
    plain_patterns_to_equality,
    remove_dead_branches,
    simplify_booleans,
)
from kestrel.reference.interpreter import evaluate_predicate

PASSES = [
    fold_constants,
    plain_patterns_to_equality,
    merge_wildcards,
    equalities_to_set,
    simplify_booleans,
    remove_dead_branches,
    optimize,
]

SCALARS = [None, True, False, 0, 1, -1, 2.5, 1.0, "", "a", "A", "ab", "Ab", "1", "b*"]
event_values = st.one_of(st.sampled_from(SCALARS), st.lists(st.sampled_from(SCALARS), max_size=3))
events = st.fixed_dictionaries({"x": event_values, "y": event_values})

loads = st.sampled_from([ir.LoadField(1, "x"), ir.LoadField(2, "y", optional=True)])
literals = st.sampled_from(SCALARS).map(ir.Literal)
leaves = st.one_of(loads, literals)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(ir.Arithmetic, st.sampled_from(["add", "sub", "mul", "div", "mod"]), st.tuples(inner, inner)),
        st.builds(ir.Arithmetic, st.just("neg"), st.tuples(inner)),
        st.builds(ir.FunctionCall, st.just("length"), st.tuples(inner)),
        st.builds(ir.FunctionCall, st.just("concat"), st.tuples(inner, inner)),
    ),
    max_leaves=3,
)
patterns = st.lists(st.sampled_from(["a*", "*b", "a", "A", "?", "", "1", "a?"]), min_size=1, max_size=3).map(tuple)
regexes = st.lists(st.sampled_from(["a.*", "[ab]+", "1", "(A|b)?"]), min_size=1, max_size=2).map(tuple)


def _regex(operand, sources, case_insensitive):
    return ir.RegexMatch(operand, sources, tuple(translate(s) for s in sources), case_insensitive)


tests = st.one_of(
    st.builds(ir.Compare, st.sampled_from(["eq", "lt", "le", "gt", "ge"]), values, values, st.booleans()),
    st.builds(ir.WildcardMatch, values, patterns, st.booleans()),
    st.builds(ir.InSet, values, st.lists(st.sampled_from(SCALARS[1:]), min_size=1, max_size=3).map(tuple), st.booleans()),
    st.builds(ir.IsNull, values),
    st.builds(_regex, values, regexes, st.booleans()),
    st.builds(ir.FunctionCall, st.sampled_from(["startsWith", "stringContains"]), st.tuples(values, values), st.booleans()),
    literals,
)
predicates = st.recursive(
    tests,
    lambda inner: st.one_of(
        st.builds(ir.Logical, st.sampled_from(["and", "or"]), st.lists(inner, min_size=2, max_size=4).map(tuple)),
        st.builds(ir.Not, inner),
    ),
    max_leaves=10,
)


@pytest.mark.parametrize("optimisation", PASSES, ids=lambda p: p.__name__)
@settings(max_examples=300, deadline=None)
@given(predicate=predicates, event=events)
def test_pass_preserves_meaning(optimisation, predicate, event):
    assert evaluate_predicate(optimisation(predicate), event) == evaluate_predicate(predicate, event)


@settings(max_examples=200, deadline=None)
@given(event=events)
def test_optimising_a_compiled_rule_preserves_meaning(event):
    text = 'any where (x : ("a*", "b", "A") or x in ("ab", "1") or x like~ "?") and not (y == null or 1 + 1 == 3)'
    plain = compile(text, options=_options(optimize=False))
    optimised = compile(text)
    assert evaluate_predicate(optimised.ir.rule.steps[0].predicate, event) == evaluate_predicate(
        plain.ir.rule.steps[0].predicate, event
    )


def _options(**changes):
    from kestrel.compiler import CompileOptions

    return CompileOptions(**changes)


# ---- each pass does its job ---------------------------------------------------------


def _predicate(text):
    return compile(text).ir.rule.steps[0].predicate


def test_seq_without_wildcard_becomes_case_insensitive_equality():
    node = _predicate('any where process.name : "cmd.exe"')
    assert isinstance(node, ir.Compare) and node.cmp == "eq" and node.case_insensitive


def test_wildcard_list_becomes_one_multi_pattern_node():
    node = _predicate('any where process.name : ("a*", "*b", "c?d")')
    assert node == ir.WildcardMatch(node.operand, ("a*", "*b", "c?d"), True)


def test_in_list_becomes_hash_set():
    node = _predicate('any where process.name in ("a", "b", "c")')
    assert isinstance(node, ir.InSet) and node.values == ("a", "b", "c") and not node.case_insensitive


def test_mixed_seq_list_splits_into_set_and_globs():
    node = _predicate('any where process.name : ("a*", "b", "c", "*d")')
    assert isinstance(node, ir.Logical) and node.op == "or"
    kinds = sorted(type(operand).__name__ for operand in node.operands)
    assert kinds == ["InSet", "WildcardMatch"]


def test_constants_fold():
    assert _predicate("any where 1 + 2 == 3") == ir.TRUE
    assert _predicate('any where length("abc") > 5') == ir.FALSE
    assert _predicate("any where null == null") == ir.TRUE


def test_dead_branches_are_removed():
    assert _predicate("any where x == 1 and 1 == 2") == ir.FALSE
    assert _predicate("any where x == 1 or true") == ir.TRUE
    node = _predicate("any where x == 1 or (x == 1 and y == 2)")
    assert isinstance(node, ir.Compare)


def test_three_valued_logic_is_respected():
    # `x and not x` is null (not false) when x is null, so it must stay.
    node = _predicate("any where x == 1 and not x == 1")
    assert isinstance(node, ir.Logical)
    # `null and false` is false; `null or true` is true.
    assert _predicate("any where null == 1 and false") == ir.FALSE
    assert _predicate("any where (null < 1) or true") == ir.TRUE


def test_double_negation_is_removed():
    node = _predicate("any where not not x == 1")
    assert isinstance(node, ir.Compare)
