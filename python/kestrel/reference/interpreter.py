"""A pure-Python IR interpreter: the executable specification of the IR.

The Wasm and Lua backends are diffed against it, so it favours clarity over
speed.  The semantics, as Elasticsearch evaluates EQL:

* Events are dicts, nested (`{"process": {"name": ...}}`) or flat
  (`{"process.name": ...}`), or a mix.  A missing field, JSON null and an
  empty array all load as null.
* Three-valued logic: null propagates through comparisons, arithmetic and
  functions; `and`/`or`/`not` follow Kleene logic; an event matches only if
  the predicate is exactly true.
* Arrays: an array field stands for all of its elements at once.  Values
  derived from it (arithmetic, function results) keep every alternative, and
  a boolean test (comparison, pattern, set membership, boolean function) is
  true if it holds for any alternative.  `x != v` is `not (x == v)`, so it
  holds when *no* element equals `v`, as Elasticsearch's `must_not` does.
* A comparison that cannot be evaluated (ordering a string against a number,
  for instance) is false rather than an error; a function Elasticsearch would
  reject at run time (`add("a", 1)`) returns null.
* Comparing a string with a number or boolean compares the string with the
  other value's text (`"4624" == 4624`), which is what a term query on a
  keyword field does.
* Fields a mapping types as `date`, `date_nanos`, `ip` or `version` compare
  with their type's meaning (see `typed_semantics.py`).
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache
from typing import Any, Callable, Dict, Mapping

from kestrel.compiler import ir
from kestrel.reference.function_semantics import (
    ARITHMETIC,
    BOOLEAN_FUNCTIONS,
    EvalError,
    call,
    is_number,
    negate,
    to_string,
)
from kestrel.reference.typed_semantics import compare_typed, field_kind
from kestrel.reference.wildcard import glob_regex

#: Give up on array cross products beyond this many combinations.
MAX_COMBINATIONS = 100_000

_MISSING = object()


class Many(tuple):
    """The alternatives of a multi-valued (array) field."""


# ---- loading fields --------------------------------------------------------------


def load_field(event: Mapping[str, Any], path: str):
    """The value of `path` in `event`: a scalar, a :class:`Many`, or None."""
    found = _lookup(event, path.split("."))
    return _normalise(found)


def _lookup(value, parts):
    if not parts:
        return value
    if isinstance(value, list):
        found = [_lookup(item, parts) for item in value]
        return [item for item in found if item is not _MISSING] or _MISSING
    if not isinstance(value, Mapping):
        return _MISSING
    # Longest key first, so `{"process.name": ..}` and nested forms both work.
    for split in range(len(parts), 0, -1):
        key = ".".join(parts[:split])
        if key in value:
            found = _lookup(value[key], parts[split:])
            if found is not _MISSING:
                return found
    return _MISSING


def _normalise(value):
    if value is _MISSING or value is None:
        return None
    if isinstance(value, list):
        flat = [item for item in _flatten(value) if item is not None]
        if not flat:
            return None
        return flat[0] if len(flat) == 1 else Many(flat)
    return value


def _flatten(values):
    for item in values:
        if isinstance(item, list):
            yield from _flatten(item)
        else:
            yield item


# ---- three-valued helpers ------------------------------------------------------


def any_true(results) -> Any:
    """Kleene `or` over alternatives: True if any is True, else None if any is None."""
    saw_null = False
    for result in results:
        if result is True:
            return True
        if result is None:
            saw_null = True
    return None if saw_null else False


def _alternatives(value):
    return value if isinstance(value, Many) else (value,)


def _combinations(values):
    if not any(isinstance(value, Many) for value in values):
        return (tuple(values),)
    count = 1
    for value in values:
        count *= len(_alternatives(value))
    if count > MAX_COMBINATIONS:
        raise EvalError("array cross product too large")
    return itertools.product(*(_alternatives(value) for value in values))


def _collect(results):
    results = list(results)
    return results[0] if len(results) == 1 else Many(results)


# ---- scalar comparison -----------------------------------------------------------


class _Incomparable(Exception):
    pass


def compare_scalars(cmp: str, left, right, case_insensitive: bool = False):
    """One comparison of two scalars under EQL rules (None if either is null)."""
    if left is None or right is None:
        return None
    try:
        return _compare(cmp, left, right, case_insensitive)
    except _Incomparable:
        return False


def _compare(cmp: str, left, right, case_insensitive: bool) -> bool:
    if is_number(left) and is_number(right):
        pass
    elif isinstance(left, str) and isinstance(right, str):
        if case_insensitive:
            left, right = left.lower(), right.lower()
    elif isinstance(left, bool) and isinstance(right, bool):
        if cmp != "eq":
            raise _Incomparable
    elif isinstance(left, str) or isinstance(right, str):
        if cmp != "eq":
            raise _Incomparable
        left, right = _text_of(left, case_insensitive), _text_of(right, case_insensitive)
    else:
        if cmp != "eq":
            raise _Incomparable
        return False
    if cmp == "eq":
        return left == right
    if cmp == "ne":
        return left != right
    if cmp == "lt":
        return left < right
    if cmp == "le":
        return left <= right
    if cmp == "gt":
        return left > right
    if cmp == "ge":
        return left >= right
    raise ValueError(f"unknown comparison {cmp}")


def _text_of(value, case_insensitive: bool) -> str:
    text = value if isinstance(value, str) else to_string(value)
    return text.lower() if case_insensitive else text


# ---- evaluation ------------------------------------------------------------------


def evaluate(node: ir.Node, event: Mapping[str, Any]):
    """Evaluate an IR node over `event`; booleans come back as True/False/None."""
    return _EVALUATORS[type(node)](node, event)


def _literal(node: ir.Literal, event):
    return node.value


def _load(node: ir.LoadField, event):
    return load_field(event, node.path)


def _compare_node(node: ir.Compare, event):
    left, right = evaluate(node.left, event), evaluate(node.right, event)
    try:
        pairs = _combinations((left, right))
    except EvalError:
        return False
    kind = field_kind(node.left) or field_kind(node.right)
    if kind is not None:
        return any_true(compare_typed(kind, node.cmp, a, b) for a, b in pairs)
    return any_true(compare_scalars(node.cmp, a, b, node.case_insensitive) for a, b in pairs)


def truth(value):
    """A value in a boolean context: True, False, or None for anything else."""
    return value if isinstance(value, bool) else None


def evaluate_predicate(node: ir.Node, event: Mapping[str, Any]):
    """Evaluate a predicate to True, False or None (null)."""
    return truth(evaluate(node, event))


def _logical(node: ir.Logical, event):
    saw_null = False
    absorbing = node.op == "or"  # `or` stops at True, `and` at False
    for operand in node.operands:
        value = truth(evaluate(operand, event))
        if value is None:
            saw_null = True
        elif value is absorbing:
            return absorbing
    return None if saw_null else (not absorbing)


def _not(node: ir.Not, event):
    value = truth(evaluate(node.operand, event))
    return None if value is None else not value


def _arithmetic(node: ir.Arithmetic, event):
    function = negate if node.op == "neg" else ARITHMETIC[node.op]
    results = _apply_over_arrays(function, [evaluate(operand, event) for operand in node.operands])
    return None if results is None else _collect(results)


def _function(node: ir.FunctionCall, event):
    values = [evaluate(arg, event) for arg in node.args]
    results = _apply_over_arrays(lambda *args: call(node.name, args, node.case_insensitive), values)
    if results is None:
        return None
    if node.name in BOOLEAN_FUNCTIONS:
        return any_true(results)
    return _collect(results)


def _apply_over_arrays(function, values):
    """`function` on every combination of array alternatives; errors give null."""
    try:
        combos = list(_combinations(values))
    except EvalError:
        return None
    results = []
    for combo in combos:
        try:
            results.append(function(*combo))
        except EvalError:
            results.append(None)
    return results


def _in_set(node: ir.InSet, event):
    value = evaluate(node.operand, event)
    kind = field_kind(node.operand)
    if kind is not None:
        return any_true(
            None if item is None else any(compare_typed(kind, "eq", item, member) for member in node.values)
            for item in _alternatives(value)
        )
    return any_true(
        None if item is None else any(compare_scalars("eq", item, member, node.case_insensitive) for member in node.values)
        for item in _alternatives(value)
    )


def _wildcard(node: ir.WildcardMatch, event):
    matchers = [glob_regex(pattern, node.case_insensitive) for pattern in node.patterns]
    return _matches_any(matchers, evaluate(node.operand, event))


def _regex(node: ir.RegexMatch, event):
    matchers = [compiled_regex(pattern, node.case_insensitive) for pattern in node.translated]
    return _matches_any(matchers, evaluate(node.operand, event))


def _matches_any(matchers, value):
    return any_true(_match_any(matchers, item) for item in _alternatives(value))


@lru_cache(maxsize=4096)
def compiled_regex(translated: str, case_insensitive: bool):
    """Compile a translated pattern the way the IR contract prescribes."""
    return re.compile(translated, re.DOTALL | (re.IGNORECASE if case_insensitive else 0))


def _match_any(matchers, value):
    if value is None:
        return None
    text = value if isinstance(value, str) else to_string(value)
    return any(matcher.fullmatch(text) is not None for matcher in matchers)


def _is_null(node: ir.IsNull, event):
    return evaluate(node.operand, event) is None


_EVALUATORS: Dict[type, Callable[[Any, Mapping[str, Any]], Any]] = {
    ir.Literal: _literal,
    ir.LoadField: _load,
    ir.Compare: _compare_node,
    ir.Logical: _logical,
    ir.Not: _not,
    ir.Arithmetic: _arithmetic,
    ir.FunctionCall: _function,
    ir.InSet: _in_set,
    ir.WildcardMatch: _wildcard,
    ir.RegexMatch: _regex,
    ir.IsNull: _is_null,
}


# ---- steps and rules ---------------------------------------------------------------


def step_matches(step: ir.Step, event: Mapping[str, Any], category_field: str) -> bool:
    """Does `event` pass this filter: right category and a predicate that is true?"""
    if step.category is not None:
        categories = _alternatives(load_field(event, category_field))
        if step.category not in categories:
            return False
    return evaluate_predicate(step.predicate, event) is True


def matches(rule, event: Mapping[str, Any], step: int = 0) -> bool:
    """Does `event` pass filter `step` of a CompiledRule (an event query has one)?"""
    program = rule.ir
    return step_matches(program.rule.steps[step], event, program.event_fields.category.path)
