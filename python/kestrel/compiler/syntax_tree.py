"""Build the AST from lark's parse callbacks.

The transformer runs inside the LALR parser (no intermediate tree), so it must
be cheap.  Purely syntactic checks that need a token's position (chained
comparisons, `with` parameters, pipes, escapes) happen here; they raise
`_SyntaxProblem`, which `parser.parse` turns into an EqlSyntaxError.
"""

from __future__ import annotations

import re
from typing import Any, List, Optional, Sequence, Tuple, Union, cast

from lark import Token, Transformer

from kestrel.compiler import ast
from kestrel.compiler.functions import canonical_function_name
from kestrel.compiler.strings import BadEscape, decode_field, decode_string

MAX_INT = 2**64 - 1


class _SyntaxProblem(Exception):
    """Raised inside callbacks; the parser turns it into an EqlSyntaxError."""

    def __init__(self, code: str, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.code, self.message, self.line, self.column = code, message, line, column


def _cover(children: Sequence[object]) -> ast.Span:
    """The span from the first to the last positioned child.

    lark drops anonymous tokens (`not`, `(`), so a span may start at the first
    meaningful child; that is precise enough for diagnostics and much cheaper
    than asking lark to propagate metadata through every reduction.
    """
    first = _first_span(children, reverse=False)
    if first is None:
        return ast.NO_SPAN
    last = _first_span(children, reverse=True) or first
    return ast.Span(first.start, last.end, first.line, first.column)


def _first_span(items: Sequence[object], *, reverse: bool) -> Optional[ast.Span]:
    for item in reversed(items) if reverse else items:
        if isinstance(item, Token):
            if item.start_pos is not None:
                return _token_span(item)
        elif isinstance(item, (list, tuple)):
            found = _first_span(item, reverse=reverse)
            if found is not None:
                return found
        else:
            span: Optional[ast.Span] = getattr(item, "span", None)
            if span is not None and span is not ast.NO_SPAN:
                return span
    return None


def _token_span(token: Token) -> ast.Span:
    return ast.Span(token.start_pos or 0, token.end_pos or 0, token.line or 1, token.column or 1)


def _problem(code: str, message: str, token_or_span: Union[Token, ast.Span]) -> _SyntaxProblem:
    return _SyntaxProblem(code, message, token_or_span.line or 1, token_or_span.column or 1)


def _int_value(token: Token) -> int:
    value = int(token)
    if value > MAX_INT:
        raise _problem("E015", f"integer {token} does not fit in 64 bits", token)
    return value


# A `with` parameter: ("runs", count, span) or ("maxspan", duration, span).
_Param = Tuple[str, Union[int, ast.Duration], ast.Span]
# A sequence header: its join keys and maxspan.
_Header = Tuple[Tuple[ast.Field, ...], Optional[ast.Duration]]


class AstBuilder(Transformer[Token, ast.Query]):
    """Callbacks named after the grammar's rules and aliases."""

    # ---- literals ----------------------------------------------------------
    def string_literal(self, children: List[Any]) -> ast.Literal:
        token = children[0]
        try:
            value = decode_string(str(token))
        except BadEscape as exc:
            raise _SyntaxProblem("E006", str(exc), token.line, token.column + exc.offset) from None
        return ast.Literal(value, _cover(children))

    def int_literal(self, children: List[Any]) -> ast.Literal:
        return ast.Literal(_int_value(children[0]), _cover(children))

    def decimal_literal(self, children: List[Any]) -> ast.Literal:
        return ast.Literal(float(children[0]), _cover(children))

    def true_literal(self, children: List[Any]) -> ast.Literal:
        return ast.Literal(True, _cover(children))

    def false_literal(self, children: List[Any]) -> ast.Literal:
        return ast.Literal(False, _cover(children))

    def null_literal(self, children: List[Any]) -> ast.Literal:
        return ast.Literal(None, _cover(children))

    # ---- fields and calls ----------------------------------------------------
    def field(self, children: List[Any]) -> ast.Field:
        return ast.Field(decode_field(str(children[0])), False, _cover(children))

    def optional_field(self, children: List[Any]) -> ast.Field:
        return ast.Field(decode_field(str(children[1])), True, _cover(children))

    def function_call(self, children: List[Any]) -> ast.FunctionCall:
        name_token: Token = children[0]
        rest = children[1:]
        case_insensitive = False
        if rest and isinstance(rest[0], Token) and rest[0].type == "TILDE":
            tilde = rest[0]
            if tilde.start_pos != name_token.end_pos:
                raise _problem("E014", "`~` must follow the function name with no space", tilde)
            case_insensitive = True
            rest = rest[1:]
        if "." in name_token or "`" in name_token:
            raise _problem("E010", f"`{name_token}` is not a function name", name_token)
        args = tuple(arg for arg in rest if arg is not None)
        name = canonical_function_name(str(name_token))
        return ast.FunctionCall(name, args, case_insensitive, _cover(children))

    # ---- operators -------------------------------------------------------------
    def negate(self, children: List[Any]) -> Union[ast.Literal, ast.Negate]:
        operand = children[1]
        if isinstance(operand, ast.Literal) and type(operand.value) in (int, float):
            # The type() test above leaves an int or a float, which mypy cannot infer from it.
            return ast.Literal(-cast(Union[int, float], operand.value), _cover(children))
        return ast.Negate(operand, _cover(children))

    def unary_plus(self, children: List[Any]) -> ast.Expr:
        return cast(ast.Expr, children[1])  # lark hands callbacks their children untyped

    def arithmetic(self, children: List[Any]) -> ast.Arithmetic:
        left, op, right = children
        return ast.Arithmetic(str(op), left, right, _cover(children))

    def comparison(self, children: List[Any]) -> ast.Comparison:
        if len(children) > 3:
            raise _problem("E008", "comparisons cannot be chained; join them with `and`", children[3])
        left, op, right = children
        return ast.Comparison(str(op), left, right, _cover(children))

    def membership(self, children: List[Any]) -> ast.Membership:
        operand, keyword, values = children
        return ast.Membership(operand, tuple(values), False, keyword.endswith("~"), _cover(children))

    def negated_membership(self, children: List[Any]) -> ast.Membership:
        operand, _not, keyword, values = children
        return ast.Membership(operand, tuple(values), True, keyword.endswith("~"), _cover(children))

    def pattern_match(self, children: List[Any]) -> ast.PatternMatch:
        operand, keyword, patterns = children
        patterns = tuple(patterns)
        if keyword == ":":
            return ast.PatternMatch("seq", operand, patterns, True, _cover(children))
        kind = "like" if keyword.startswith("like") else "regex"
        return ast.PatternMatch(kind, operand, patterns, keyword.endswith("~"), _cover(children))

    def single_pattern(self, children: List[Any]) -> Tuple[ast.Expr, ...]:
        return _as_patterns(children[0])

    def pattern_list(self, children: List[Any]) -> Tuple[ast.Expr, ...]:
        return (children[0],) + tuple(children[1])

    def expr_list(self, children: List[Any]) -> List[ast.Expr]:
        return list(children)

    def string_list(self, children: List[Any]) -> List[ast.Literal]:
        """Split a STRING_LIST token into literals with their own spans."""
        token: Token = children[0]
        text = str(token)
        # lark types a token's position as optional; the lexer's tokens always have one.
        line, line_start = cast(int, token.line), (token.start_pos or 0) - (cast(int, token.column) - 1)
        scanned = 0
        literals = []
        for match in _LIST_ITEM.finditer(text):
            if match.group()[0] != '"':
                continue  # a comment
            offset = match.start()
            newlines = text.count("\n", scanned, offset)
            if newlines:
                line += newlines
                line_start = (token.start_pos or 0) + text.rindex("\n", scanned, offset) + 1
            scanned = offset
            start = (token.start_pos or 0) + offset
            piece = Token(
                "STRING",
                match.group(),
                start_pos=start,
                line=line,
                column=start - line_start + 1,
                end_pos=start + len(match.group()),
            )
            literals.append(self.string_literal([piece]))
        return literals

    def logical_or(self, children: List[Any]) -> ast.Logical:
        return ast.Logical("or", children[0], children[1], _cover(children))

    def logical_and(self, children: List[Any]) -> ast.Logical:
        return ast.Logical("and", children[0], children[1], _cover(children))

    def logical_not(self, children: List[Any]) -> ast.Not:
        return ast.Not(children[1], _cover(children))

    # ---- queries -----------------------------------------------------------------
    # Categories come back as (name, token) so event_query can start its span.
    def category_name(self, children: List[Any]) -> Tuple[Optional[str], Token]:
        return (decode_field(str(children[0])), children[0])

    def category_any(self, children: List[Any]) -> Tuple[Optional[str], Token]:
        return (None, children[0])

    def category_string(self, children: List[Any]) -> Tuple[Union[str, int, float, bool, None], Token]:
        return (self.string_literal(children).value, children[0])

    def event_query(self, children: List[Any]) -> ast.EventQuery:
        (category, token), condition = children
        return ast.EventQuery(category, condition, _cover([token, condition]))

    def join_keys(self, children: List[Any]) -> Tuple[ast.Field, ...]:
        return tuple(children)

    def with_param(self, children: List[Any]) -> _Param:
        key, number = children[0], children[1]
        unit: Optional[Token] = children[2] if len(children) > 2 else None
        if key == "runs":
            if unit is not None:
                raise _problem("E011", f"unexpected `{unit}` after runs={number}", unit)
            return ("runs", _int_value(number), _token_span(key))
        if key == "maxspan":
            if unit is None or str(unit) not in ast.TIME_UNITS:
                where = unit if unit is not None else number
                raise _problem("E012", f"maxspan needs a time unit (ms, s, m, h or d), got `{unit or ''}`", where)
            span = ast.Span(key.start_pos, cast(int, unit.end_pos), key.line, key.column)  # a lexer token has a position
            return ("maxspan", ast.Duration(_int_value(number), str(unit), span), span)
        raise _problem("E011", f"unknown parameter `{key}` (expected maxspan or runs)", key)

    def positive_step(self, children: List[Any]) -> ast.Step:
        return _step(children, missing=False)

    def missing_step(self, children: List[Any]) -> ast.Step:
        return _step(children, missing=True)

    def until_clause(self, children: List[Any]) -> _Until:
        return _Until(children[0])

    def header_empty(self, children: List[Any]) -> _Header:
        return ((), None)

    def header_by(self, children: List[Any]) -> _Header:
        return (children[0], None)

    def header_by_with(self, children: List[Any]) -> _Header:
        return (children[0], _maxspan(children[1]))

    def header_with(self, children: List[Any]) -> _Header:
        return ((), _maxspan(children[0]))

    def header_with_by(self, children: List[Any]) -> _Header:
        return (children[1], _maxspan(children[0]))

    def sequence(self, children: List[Any]) -> ast.Sequence:
        (by, maxspan), rest = children[1], children[2:]
        until = None
        if rest and isinstance(rest[-1], _Until):
            until = rest.pop().step
        steps = tuple(rest)
        return ast.Sequence(by, maxspan, steps, until, _cover(children))

    def sample(self, children: List[Any]) -> ast.Sample:
        span = _cover(children)
        by: Tuple[ast.Field, ...] = ()
        steps = children[1:]
        if steps and isinstance(steps[0], tuple):
            by, steps = steps[0], steps[1:]
        return ast.Sample(by, tuple(steps), span)

    def pipe(self, children: List[Any]) -> ast.Pipe:
        name, args = children[0], children[1:]
        if str(name) not in ("head", "tail"):
            raise _problem("E013", f"unsupported pipe `{name}` (Kestrel supports head and tail)", name)
        if not args:
            raise _problem("E046", f"`{name}` needs a count, as in `| {name} 10`", name)
        count = args[0]
        if len(args) > 1 or not isinstance(count, ast.Literal) or type(count.value) is not int or count.value < 1:
            where = count.span if isinstance(count, ast.Literal) and len(args) == 1 else _cover(args)
            raise _SyntaxProblem("E046", f"`{name}` takes one positive integer", where.line, where.column)
        return ast.Pipe(str(name), count.value, _cover(children))

    def start(self, children: List[Any]) -> ast.Query:
        return ast.Query(children[0], tuple(children[1:]), _cover(children))


# Items of a STRING_LIST token: strings, and the comments between them.
_LIST_ITEM = re.compile(r'"""(?:.|\n)*?"""|"(?:[^"\\\r\n]|\\.)*"|//[^\n]*|/\*(?:.|\n)*?\*/')


class _Until:
    """Marks the `until` step so `sequence` can tell it from ordinary steps."""

    __slots__ = ("step",)

    def __init__(self, step: ast.Step) -> None:
        self.step = step


def _as_patterns(value: Union[ast.Expr, Tuple[ast.Expr, ...]]) -> Tuple[ast.Expr, ...]:
    return value if isinstance(value, tuple) else (value,)


def _maxspan(param: _Param) -> ast.Duration:
    key, value, span = param
    if key != "maxspan":
        raise _SyntaxProblem("E011", "a sequence takes `with maxspan=...`, not runs", span.line, span.column)
    return cast(ast.Duration, value)  # a maxspan parameter's value is a Duration


def _step(children: List[Any], *, missing: bool) -> ast.Step:
    span = _cover(children)
    children = [child for child in children if not isinstance(child, Token)]  # `!`, `[`
    query, rest = children[0], children[1:]
    by: Tuple[ast.Field, ...] = ()
    runs = None
    runs_span = ast.NO_SPAN
    for item in rest:
        if isinstance(item, tuple) and item and isinstance(item[0], str):
            key, value, runs_span = item
            if key != "runs":
                raise _SyntaxProblem("E011", "a step takes `with runs=N`, not maxspan", runs_span.line, runs_span.column)
            runs = value
        elif isinstance(item, tuple):
            by = item
    return ast.Step(query, by, runs, missing, span, runs_span)
