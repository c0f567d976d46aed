"""AST -> EQL text.

The output is canonical rather than pretty: every compound operand is
parenthesised, so parsing the rendered text gives back an equal AST (the
property tests check this).
"""

from __future__ import annotations

import re
from typing import Iterable, Optional, Tuple, Union

from kestrel.compiler import ast
from kestrel.compiler.parser import KEYWORDS
from kestrel.compiler.strings import encode_field, encode_string

_ATOMS = (ast.Literal, ast.Field, ast.FunctionCall)
_PLAIN_CATEGORY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def render(node: Union[ast.Query, ast.EventQuery, ast.Sequence, ast.Sample, ast.Expr]) -> str:
    """Render a Query, a query part, or an expression as EQL."""
    if isinstance(node, ast.Query):
        return render(node.body) + "".join(f" | {pipe.name} {pipe.count}" for pipe in node.pipes)
    if isinstance(node, ast.EventQuery):
        return f"{_category(node.category)} where {render_expr(node.condition)}"
    if isinstance(node, ast.Sequence):
        return _sequence(node)
    if isinstance(node, ast.Sample):
        return "sample" + _by(node.by) + "".join(" " + _step(step) for step in node.steps)
    return render_expr(node)


def render_expr(expr: ast.Expr) -> str:
    if isinstance(expr, ast.Literal):
        return _literal(expr.value)
    if isinstance(expr, ast.Field):
        return ("?" if expr.optional else "") + _field(expr.path)
    if isinstance(expr, ast.FunctionCall):
        tilde = "~" if expr.case_insensitive else ""
        return f"{expr.name}{tilde}({_join(expr.args)})"
    if isinstance(expr, ast.BinaryOp):
        return f"{_operand(expr.left)} {expr.op} {_operand(expr.right)}"
    if isinstance(expr, ast.PatternMatch):
        op = ":" if expr.kind == "seq" else expr.kind + ("~" if expr.case_insensitive else "")
        return f"{_operand(expr.operand)} {op} {_list(expr.patterns)}"
    if isinstance(expr, ast.Membership):
        op = ("not in" if expr.negated else "in") + ("~" if expr.case_insensitive else "")
        return f"{_operand(expr.operand)} {op} ({_join(expr.values)})"
    if isinstance(expr, ast.Not):
        return f"not {_operand(expr.operand)}"
    if isinstance(expr, ast.Negate):
        return f"-{_operand(expr.operand)}"
    raise TypeError(f"cannot render {type(expr).__name__}")


def _operand(expr: ast.Expr) -> str:
    text = render_expr(expr)
    if isinstance(expr, _ATOMS) and not _is_negative_literal(expr):
        return text
    return f"({text})"


def _is_negative_literal(expr: ast.Expr) -> bool:
    # `a - -1` would lex fine, but `(-1)` keeps `- -` out of the output.
    value = expr.value if isinstance(expr, ast.Literal) else None
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0


def _list(patterns: Tuple[ast.Expr, ...]) -> str:
    if len(patterns) == 1:
        return _operand(patterns[0])
    return f"({_join(patterns)})"


def _join(items: Iterable[ast.Expr]) -> str:
    return ", ".join(render_expr(item) for item in items)


def _literal(value: Union[str, int, float, bool, None]) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return encode_string(value)
    if isinstance(value, float):
        text = repr(value)
        return text if ("." in text or "e" in text) else text + ".0"
    return str(value)


def _field(path: str) -> str:
    return encode_field(path, lambda word: word in KEYWORDS)


def _category(category: Optional[str]) -> str:
    if category is None:
        return "any"
    if _PLAIN_CATEGORY.match(category) and category not in KEYWORDS:
        return category
    return encode_string(category)


def _by(fields: Tuple[ast.Field, ...]) -> str:
    if not fields:
        return ""
    return " by " + ", ".join(render_expr(field) for field in fields)


def _step(step: ast.Step) -> str:
    text = ("!" if step.missing else "") + f"[{render(step.query)}]" + _by(step.by)
    if step.runs is not None:
        text += f" with runs={step.runs}"
    return text


def _sequence(node: ast.Sequence) -> str:
    text = "sequence" + _by(node.by)
    if node.maxspan is not None:
        text += f" with maxspan={node.maxspan.value}{node.maxspan.unit}"
    text += "".join(" " + _step(step) for step in node.steps)
    if node.until is not None:
        text += " until " + _step(node.until)
    return text
