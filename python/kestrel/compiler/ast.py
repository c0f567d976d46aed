"""The EQL abstract syntax tree: frozen dataclasses with source spans.

Spans are excluded from equality and hashing, so two trees compare equal when
they mean the same query, whatever their layout; the render/parse round trip
relies on this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple, Union


@dataclass(frozen=True)
class Span:
    """Where a node came from: character offsets plus 1-based line/column."""

    start: int = 0
    end: int = 0
    line: int = 1
    column: int = 1


NO_SPAN = Span()


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False)  # type: ignore[return-value]


# ---- expressions -------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    """A constant: str, int, float, bool or None (EQL `null`)."""

    value: Union[str, int, float, bool, None]
    span: Span = _span()


@dataclass(frozen=True)
class Field:
    """A field reference; `optional` is the `?field` form."""

    path: str
    optional: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class FunctionCall:
    """`name(args)`; `name` is the canonical spelling (`startsWith`)."""

    name: str
    args: Tuple["Expr", ...]
    case_insensitive: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class BinaryOp:
    """`left op right`: Comparison, Logical and Arithmetic, which render and walk alike."""

    op: str
    left: "Expr"
    right: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class Comparison(BinaryOp):
    """`left op right` with op one of == != < <= > >= (`:` is a PatternMatch)."""


@dataclass(frozen=True)
class PatternMatch:
    """`operand : patterns`, `like`, `regex` and their `~` forms.

    `kind` is "seq" (the `:` operator), "like" or "regex".  `:` is always
    case-insensitive, so `case_insensitive` is True for it.
    """

    kind: str
    operand: "Expr"
    patterns: Tuple["Expr", ...]
    case_insensitive: bool
    span: Span = _span()


@dataclass(frozen=True)
class Membership:
    """`operand in (values)`, `in~`, `not in`, `not in~`."""

    operand: "Expr"
    values: Tuple["Expr", ...]
    negated: bool = False
    case_insensitive: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class Logical(BinaryOp):
    """`left and right` / `left or right`."""


@dataclass(frozen=True)
class Not:
    operand: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class Arithmetic(BinaryOp):
    """`left op right` with op one of + - * / %."""


@dataclass(frozen=True)
class Negate:
    """Unary minus on a non-literal (a literal is folded into a negative one)."""

    operand: "Expr"
    span: Span = _span()


Expr = Union[Literal, Field, FunctionCall, Comparison, PatternMatch, Membership, Logical, Not, Arithmetic, Negate]


# ---- queries -------------------------------------------------------------------


@dataclass(frozen=True)
class EventQuery:
    """`category where condition`; `category` is None for `any`."""

    category: Optional[str]
    condition: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Duration:
    """A `maxspan` value as written: `30s` is Duration(30, "s")."""

    value: int
    unit: str
    span: Span = _span()

    @property
    def nanoseconds(self) -> int:
        return self.value * _NANOS_PER_UNIT[self.unit]


_NANOS_PER_UNIT = {
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
    "d": 86400 * 1_000_000_000,
}
TIME_UNITS = tuple(_NANOS_PER_UNIT)


@dataclass(frozen=True)
class Step:
    """One bracketed term of a sequence or sample."""

    query: EventQuery
    by: Tuple[Field, ...] = ()
    runs: Optional[int] = None
    missing: bool = False
    span: Span = _span()
    runs_span: Span = _span()


@dataclass(frozen=True)
class Sequence:
    by: Tuple[Field, ...]
    maxspan: Optional[Duration]
    steps: Tuple[Step, ...]
    until: Optional[Step] = None
    span: Span = _span()


@dataclass(frozen=True)
class Sample:
    by: Tuple[Field, ...]
    steps: Tuple[Step, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Pipe:
    """`| head N` or `| tail N`."""

    name: str
    count: int
    span: Span = _span()


@dataclass(frozen=True)
class Query:
    """A whole rule: an event query, a sequence or a sample, then pipes."""

    body: Union[EventQuery, Sequence, Sample]
    pipes: Tuple[Pipe, ...] = ()
    span: Span = _span()

    @property
    def kind(self) -> str:
        """ "event", "sequence" or "sample"."""
        if isinstance(self.body, Sequence):
            return "sequence"
        if isinstance(self.body, Sample):
            return "sample"
        return "event"
