"""Test helper: evaluate one EQL expression over an event with the IR interpreter."""

from __future__ import annotations

import kestrel
from kestrel.compiler import CompileOptions, parse
from kestrel.compiler.lower import Lowering
from kestrel.compiler.optimize import fold_constants
from kestrel.reference.interpreter import evaluate


def lower_expression(text: str, schema=None):
    """The unoptimised IR of the expression `text` (no type restriction on the result).

    The default schema is empty, so field types come from the event at run
    time (the reference's `process.pid = "1337"` is a string, not ECS's long).
    """
    condition = parse(f"any where {text}").body.condition
    lowering = Lowering(text, schema or kestrel.Schema.empty(), CompileOptions())
    return lowering.expr(condition).node


def value_of(text: str, event=None):
    """Evaluate `text`; check that constant folding agrees with evaluation."""
    node = lower_expression(text)
    value = evaluate(node, event or {})
    if not event:
        folded = fold_constants(node)
        assert evaluate(folded, {}) == value or (value != value)  # NaN != NaN
    return value
