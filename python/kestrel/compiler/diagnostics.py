"""Compiler diagnostics: the error classes and the table of stable error codes.

Every error the compiler raises is an :class:`EqlError` carrying a stable code
from :data:`ERROR_CODES`.  Codes are never reused: when a check is retired its
code stays in the table, marked as retired, so old reports stay meaningful.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple, Type

from kestrel.errors import KestrelError

#: code -> one-line description.  E00x-E02x are syntax, E03x+ semantic.
ERROR_CODES: Dict[str, str] = {
    # -- syntax (raised while parsing) --
    "E001": "unexpected character",
    "E002": "unexpected token",
    "E003": "unexpected end of query",
    "E004": "`=` is not an operator; use `==` or `:`",
    "E005": "single-quoted strings are not supported; use double quotes",
    "E006": "invalid escape sequence in a string",
    "E007": "unterminated string",
    "E008": "chained comparisons are not supported; join them with `and`",
    "E009": '`?"..."` is not a raw string; use triple quotes',
    "E010": "invalid field name",
    "E011": "unknown sequence or step parameter (expected maxspan or runs)",
    "E012": "invalid time unit for maxspan (expected ms, s, m, h or d)",
    "E013": "unsupported pipe (expected head or tail)",
    "E014": "`~` must follow a function name directly",
    "E015": "number literal out of range",
    # -- semantic (raised by analysis, with positions in the query) --
    "E030": "unknown field (strict mode)",
    "E031": "unknown function",
    "E032": "wrong number of function arguments",
    "E033": "function argument has the wrong type",
    "E034": "a field cannot be compared to another field",
    "E035": "operands have incompatible types",
    "E036": "pattern operands must be string literals",
    "E037": "list values must be constants",
    "E038": "invalid regular expression",
    "E039": "missing-event steps require `with maxspan`",
    "E040": "`runs` must be between 1 and 100",
    "E041": "a sample takes at most five filters",
    "E042": "this construct is not allowed in a sample",
    "E043": "a sequence needs at least two steps (or one with runs)",
    "E044": "a sequence needs at least one positive step",
    "E045": "unknown event category (strict mode)",
    "E046": "`head`/`tail` take one positive integer count",
    "E047": "arithmetic on a non-numeric operand",
    "E048": "condition is not boolean",
    "E049": "join keys must be fields",
    "E050": "steps must have the same number of join keys",
    "E051": "maxspan must be positive",
    "E052": "unsupported Lucene regular expression feature",
    "E053": "a function argument must be a constant",
    "E055": "this function does not take the `~` (case-insensitive) suffix",
    "E056": "an `until` step cannot be a missing event or have runs",
    "E057": "a text field without a keyword multi-field cannot be compared",
    "E058": "the expression nests too deeply",
    "E059": "a sequence has too many filters",
    "E060": "the expression is too large",
    "E061": "maxspan is too long",
}


class EqlError(KestrelError):
    """An EQL query could not be compiled.

    Attributes:
        code: stable identifier, e.g. ``"E004"`` (see :data:`ERROR_CODES`).
        message: human-readable explanation.
        line, column: 1-based position of the offending text (0 if unknown).
        excerpt: the offending source line with a caret under the column.
    """

    def __init__(self, code: str, message: str, *, source: str = "", line: int = 0, column: int = 0) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unregistered error code {code}")
        self.code = code
        self.message = message
        self.line = line
        self.column = column
        self.excerpt = caret_excerpt(source, line, column)
        super().__init__(self._format())

    def _format(self) -> str:
        where = f" at line {self.line}, column {self.column}" if self.line else ""
        text = f"{self.code}: {self.message}{where}"
        return f"{text}\n{self.excerpt}" if self.excerpt else text

    # Keep exceptions picklable despite keyword-only args.
    def __reduce__(self) -> Tuple[Callable[..., EqlError], Tuple[Any, ...]]:
        return (_rebuild, (type(self), self.code, self.message, self.line, self.column, self.excerpt))


def _rebuild(cls: Type[EqlError], code: str, message: str, line: int, column: int, excerpt: str) -> EqlError:
    error = cls.__new__(cls)
    error.code, error.message, error.line, error.column, error.excerpt = code, message, line, column, excerpt
    KestrelError.__init__(error, error._format())
    return error


class EqlSyntaxError(EqlError):
    """The query text is not valid EQL."""


class EqlSemanticError(EqlError):
    """The query parses but is rejected: unknown names, bad types, bad limits."""


def caret_excerpt(source: str, line: int, column: int, *, width: int = 100) -> str:
    """Return the source line at `line` with a caret under `column`.

    Long lines (the corpus has 46 KB one-liners) are windowed around the column.
    """
    if not source or line < 1:
        return ""
    lines = source.splitlines() or [""]
    if line > len(lines):
        text, column = "", 1
    else:
        text = lines[line - 1]
    column = max(1, column)
    start = 0
    if len(text) > width:
        start = max(0, min(column - 1 - width // 2, len(text) - width))
        text = text[start : start + width]
    text = text.expandtabs(1)
    gutter = f"{line} | "
    return f"{gutter}{text}\n{' ' * (len(gutter) + column - 1 - start)}^"


def error_at(cls: Type[EqlError], code: str, message: str, source: str, span: Optional[object]) -> EqlError:
    """Build an error of class `cls` located at an AST span (or nowhere)."""
    line = getattr(span, "line", 0)
    column = getattr(span, "column", 0)
    return cls(code, message, source=source, line=line, column=column)
