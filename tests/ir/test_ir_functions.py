"""Differential tests of functions, arithmetic and mixed-type comparisons:
kestrel._core.IrProgram against the Python interpreter on expressions over
fields `a`, `b` and `c` holding values of any type (arrays included).

For a value expression `e`, the event also carries `r`, the interpreter's
own value of `e`, so that `e == r` is usually true and a wrong value in Rust
shows up as a disagreement.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import kestrel
from kestrel._core import IrProgram
from kestrel.compiler import CompileOptions, EqlError, ir, parse
from kestrel.compiler.ir_json import program_to_json
from kestrel.compiler.lower import Lowering, event_fields
from kestrel.compiler.metadata import collect
from kestrel.reference.interpreter import Many, evaluate, evaluate_predicate

EXAMPLES = int(os.environ.get("KESTREL_IR_EXAMPLES", "0"))

VALUES = [
    "add(a, b)",
    "subtract(a, b)",
    "multiply(a, b)",
    "divide(a, b)",
    "modulo(a, b)",
    "a + b",
    "a - b",
    "a * b",
    "a / b",
    "a % b",
    "-a",
    "between(a, b, c)",
    "between(a, b, c, true)",
    "between~(a, b, c)",
    "between~(a, b, c, true)",
    "concat(a, b)",
    "concat(a, b, c)",
    "indexOf(a, b)",
    "indexOf(a, b, c)",
    "indexOf~(a, b)",
    "length(a)",
    "number(a)",
    "number(a, 16)",
    "number(a, 2)",
    "string(a)",
    "substring(a, b)",
    "substring(a, b, c)",
    "substring(a, -2)",
    "length(concat(a, b)) + c",
]
PREDICATES = [
    'a : "AB*"',
    'a : ("?b*", "1*")',
    'a like "a*c"',
    'a like~ "A?*"',
    'a regex "[a-c]+.*"',
    'a regex~ "AB.*|1[0-9]*"',
    'a in (1, "1", true, "abc", 2.5)',
    'a in~ ("ABC", "\u0130stanbul", 10)',
    "a == null",
    "a != null",
    "startsWith(a, b)",
    "startsWith~(a, b)",
    "endsWith(a, b)",
    "endsWith~(a, b)",
    "stringContains(a, b)",
    "stringContains~(a, b)",
    'cidrMatch(a, "10.0.0.0/8", "fe80::/10")',
    'cidrMatch(a, "192.168.0.0/255.255.0.0", "1.2.3.4")',
    'not (a == "b" or c == 1)',
    'string(a == "b") == "true"',
    "number(string(a)) == 1",
    'concat(a, b) == "ab"',
]
#: Field-to-field comparisons, which EQL's syntax refuses but the IR (and
#: the engine's core) must still evaluate: (cmp, case_insensitive).
COMPARISONS = [(cmp, ci) for cmp in ("eq", "ne", "lt", "le", "gt", "ge") for ci in (False, True)]

STRINGS = st.sampled_from(
    [
        "",
        "a",
        "b",
        "c",
        "ab",
        "abc",
        "ABC",
        "aBc",
        "bc",
        "a.b.c",
        "[x]y[z]",
        "10.1.2.3",
        "10.0.0.0",
        "fe80::1",
        "192.168.7.1",
        "1.2.3.4",
        "0x1F",
        "-0X1f",
        "  42 ",
        "-7",
        "3.5e2",
        ".5",
        "1e",
        "101",
        "zz",
        "1.0E10",
        "true",
        "TRUE",
        "\u0130stanbul",
        "istanbul",
        "stra\u00dfe",
        "STRASSE",
        "\u0391\u03a3",
        "\u03b1\u03c3",
        "x\u00e9y",
        "\U0001f600x",
    ]
) | st.text(alphabet="abcAB01.-x \u00e9", max_size=6)
NUMBERS = st.sampled_from([0, 1, 2, -1, -2, 3, 10, 2**63 - 1, -(2**63), 2**53 + 1]) | st.integers(-20, 20)
FLOATS = (
    st.sampled_from([0.0, -0.0, 0.5, -1.5, 2.0, 1e10, 1.5e-5, 1234567.0, 12345678.9, 1e300, -1113178120592002.2])
    | st.floats(-1e3, 1e3)
    | st.floats(allow_nan=False, allow_infinity=False)
)
FAMILIES = {"str": STRINGS, "int": NUMBERS, "float": FLOATS, "bool": st.booleans()}


def lower(text: str, schema):
    """The IR of expression `text`, with no type restriction on the result."""
    condition = parse(f"any where {text}").body.condition
    return Lowering(text, schema, CompileOptions()).expr(condition).node


def load(path: str, schema) -> ir.LoadField:
    info = schema.resolve(path)
    return ir.LoadField(info.id, info.path, info.type)


def program_json(predicate: ir.Node, schema) -> str:
    rule = ir.Rule("event", (ir.Step(None, predicate),))
    return program_to_json(ir.Program(rule, event_fields(schema, CompileOptions())), collect(rule))


@lru_cache(maxsize=None)
def prepared(kind: str, text: str):
    """(value node, predicate, IR JSON, schema) for a test case; None if the compiler refuses it."""
    schema = kestrel.Schema.empty()
    if kind == "compare":
        cmp, ci = text.split("/")
        value, predicate = None, ir.Compare(cmp, load("a", schema), load("b", schema), ci == "ci")
    else:
        try:
            value = lower(text, schema)
        except EqlError:
            return None
        predicate = ir.Compare("eq", value, load("r", schema)) if kind == "value" else value
    return value, predicate, program_json(predicate, schema), schema


@st.composite
def events(draw):
    """Events over a, b, c: one type per field per batch; arrays, nulls and missing sometimes."""
    family = st.sampled_from(["str", "str", "str", "int", "int", "float", "bool"])
    if draw(st.booleans()):  # functions mostly want one type throughout
        families = dict.fromkeys("abc", draw(family))
    else:
        families = {name: draw(family) for name in "abc"}
    out = []
    for _ in range(draw(st.integers(1, 4))):
        event = {}
        for name, family in families.items():
            values = FAMILIES[family]
            shape = draw(st.sampled_from(["scalar"] * 10 + ["array", "array", "null", "missing"]))
            if shape == "scalar":
                event[name] = draw(values)
            elif shape == "array":
                event[name] = draw(st.lists(values, max_size=3))
            elif shape == "null":
                event[name] = None
        out.append(event)
    return out


def _json_value(value):
    """The interpreter's value as JSON event data (None when it has no JSON form)."""
    if isinstance(value, Many):
        items = [_json_value(v) for v in value]
        return items if all(type(v) is type(items[0]) for v in items) else None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        return None
    return value


def check(kind, text, batch_events):
    found = prepared(kind, text)
    assert found is not None, f"the compiler refuses {text!r}"
    value, predicate, ir_json, base = found
    if value is not None and kind == "value":
        for event in batch_events:
            result = _json_value(evaluate(value, event))
            if result is not None:
                event["r"] = result
    schema = base.copy()
    batch = kestrel.EventBatch.from_dicts(batch_events, schema=schema)
    assert batch.errors == [], batch.errors
    expected = [evaluate_predicate(predicate, event) for event in batch_events]
    assert IrProgram(ir_json, schema).evaluate(batch) == expected, (text, batch_events)


def over_drawn_batches(test):
    """Run `test(text, batch_events)` on Hypothesis-drawn batches: 40 from a
    fixed seed, or KESTREL_IR_EXAMPLES from a random one."""
    test = given(batch_events=events())(test)
    if not EXAMPLES:
        test = seed(0)(test)
    return settings(max_examples=EXAMPLES or 40, deadline=None, suppress_health_check=list(HealthCheck))(test)


@pytest.mark.parametrize("text", VALUES)
@over_drawn_batches
def test_values(text, batch_events):
    check("value", text, batch_events)


@pytest.mark.parametrize("text", PREDICATES)
@over_drawn_batches
def test_predicates(text, batch_events):
    check("predicate", text, batch_events)


@pytest.mark.parametrize("text", [f"{cmp}/{'ci' if ci else 'cs'}" for cmp, ci in COMPARISONS])
@over_drawn_batches
def test_field_comparisons(text, batch_events):
    check("compare", text, batch_events)


@pytest.mark.parametrize(
    "value",
    # Exactly halfway between two shortest digit strings: the even one wins
    # (Python's repr, Java's Double.toString); Rust's own formatter rounds up.
    [-1113178120592002.2, 233891771783429.62, 2152548015248394.2, 5e-324, 1.7976931348623157e308, 9999999.999999998, 0.001, 1e7],
)
def test_string_of_doubles(value):
    check("value", "string(a)", [{"a": value}])
