"""Text -> AST.  One LALR parser, built once at import from `eql.lark`.

:func:`parse` is the single place where lark's exceptions become
:class:`EqlSyntaxError`; it also recognises the common traps (`=`, single
quotes, `?"..."`) and gives them their own codes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple, cast

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from kestrel.compiler import ast
from kestrel.compiler.diagnostics import EqlError, EqlSemanticError, EqlSyntaxError
from kestrel.compiler.syntax_tree import AstBuilder, _SyntaxProblem

GRAMMAR_PATH = Path(__file__).with_name("eql.lark")

_PARSER = Lark(
    GRAMMAR_PATH.read_text(encoding="utf-8"),
    parser="lalr",
    lexer="contextual",
    propagate_positions=True,
    maybe_placeholders=False,
    # Building the AST inside the parser (no intermediate tree) halves the
    # parse time of the corpus; AstBuilder derives spans from the tokens.
    transformer=AstBuilder(),
)

#: Words the grammar reserves; a field with one of these names needs backticks.
KEYWORDS = frozenset(
    {
        "and",
        "or",
        "not",
        "in",
        "like",
        "regex",
        "where",
        "sequence",
        "sample",
        "by",
        "with",
        "until",
        "true",
        "false",
        "null",
        "any",
    }
)

# Friendlier names for lark's terminal names in messages.
_TOKEN_NAMES = {
    "NAME": "a name",
    "STRING": "a string",
    "RAW_STRING": "a string",
    "INT": "a number",
    "DECIMAL": "a number",
    "COMPARE_OP": "a comparison",
    "$END": "the end of the query",
}


def parse(text: str) -> ast.Query:
    """Parse EQL `text` into an :class:`ast.Query`.

    Raises:
        EqlSyntaxError: with a stable code, position and caret excerpt.
    """
    try:
        return cast(ast.Query, _PARSER.parse(text))
    except _SyntaxProblem as problem:
        raise EqlSyntaxError(problem.code, problem.message, source=text, line=problem.line, column=problem.column) from None
    except VisitError as exc:  # a callback failed; unwrap our own problems
        inner = exc.orig_exc
        if isinstance(inner, _SyntaxProblem):
            raise EqlSyntaxError(inner.code, inner.message, source=text, line=inner.line, column=inner.column) from None
        raise
    except UnexpectedInput as exc:
        raise _convert(exc, text) from None


def _convert(exc: UnexpectedInput, text: str) -> EqlError:
    line = getattr(exc, "line", 0) or 0
    column = getattr(exc, "column", 0) or 0
    if isinstance(exc, UnexpectedCharacters):
        offset = exc.pos_in_stream or 0
        char = text[offset] if offset < len(text) else ""
        return _unexpected_character(char, text, line, column)
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        line, column = _end_position(text)
        return EqlSyntaxError("E003", "the query ends too early", source=text, line=line, column=column)
    if isinstance(exc, UnexpectedToken):
        return _unexpected_token(exc, text)
    return EqlSyntaxError("E002", str(exc).splitlines()[0], source=text, line=line, column=column)


def _single_equals(text: str, line: int, column: int) -> EqlSyntaxError:
    return EqlSyntaxError(
        "E004",
        "`=` is not an operator; use `==` (case-sensitive) or `:` (case-insensitive)",
        source=text,
        line=line,
        column=column,
    )


def _unexpected_character(char: str, text: str, line: int, column: int) -> EqlSyntaxError:
    if char == "=":
        return _single_equals(text, line, column)
    if char == "'":
        return EqlSyntaxError(
            "E005", "single-quoted strings are not supported; use double quotes", source=text, line=line, column=column
        )
    if char == '"':
        return EqlSyntaxError("E007", "unterminated string", source=text, line=line, column=column)
    if char == "`":
        return EqlSyntaxError("E010", "unterminated or empty backtick-quoted field name", source=text, line=line, column=column)
    shown = repr(char) if char else "end of input"
    return EqlSyntaxError("E001", f"unexpected character {shown}", source=text, line=line, column=column)


def _unexpected_token(exc: UnexpectedToken, text: str) -> EqlError:
    token: Token = exc.token
    line, column = token.line or 1, token.column or 1
    if token.type == "EQUAL" or str(token) == "=":
        return _single_equals(text, line, column)
    if token.type in ("STRING", "RAW_STRING") and _previous_char(text, token.start_pos) == "?":
        return EqlSyntaxError(
            "E009",
            '`?"..."` is not a raw string in Elasticsearch EQL; use """...""" instead',
            source=text,
            line=line,
            column=column,
        )
    expected_set = set(exc.expected)
    if token.type in ("NAME", "QMARK", "LPAR") and "STRING" in expected_set and "NAME" not in expected_set:
        return EqlSemanticError(
            "E037",
            "list values must be constants (Elasticsearch compares fields only with literals)",
            source=text,
            line=line,
            column=column,
        )
    if token.type in ("INT", "DECIMAL", "STRING", "RAW_STRING", "TRUE", "FALSE", "NULL") and expected_set <= {"NAME", "QMARK"}:
        return EqlSemanticError("E049", "join keys must be field names", source=text, line=line, column=column)
    expected = sorted({_TOKEN_NAMES.get(name, _describe_terminal(name)) for name in exc.expected})
    hint = f"; expected {', '.join(expected[:6])}" if expected else ""
    return EqlSyntaxError("E002", f"unexpected {_describe_token(token)}{hint}", source=text, line=line, column=column)


def _previous_char(text: str, offset: Optional[int]) -> str:
    index = (offset or 0) - 1
    while index >= 0 and text[index] in " \t":
        index -= 1
    return text[index] if index >= 0 else ""


def _describe_token(token: Token) -> str:
    if token.type == "$END":
        return "end of query"
    return f"`{token}`"


def _describe_terminal(name: str) -> str:
    literal = {
        "LSQB": "`[`",
        "RSQB": "`]`",
        "LPAR": "`(`",
        "RPAR": "`)`",
        "COMMA": "`,`",
        "VBAR": "`|`",
        "BANG": "`!`",
        "QMARK": "`?`",
        "WHERE": "`where`",
        "BY": "`by`",
        "WITH": "`with`",
        "AND": "`and`",
        "OR": "`or`",
        "NOT": "`not`",
        "IN": "`in`",
        "PATTERN_OP": "`like`/`regex`",
        "TILDE": "`~`",
        "PLUS": "`+`",
        "MINUS": "`-`",
        "MUL_OP": "an operator",
        "UNTIL": "`until`",
    }
    return literal.get(name, name.lower())


def _end_position(text: str) -> Tuple[int, int]:
    lines = text.splitlines() or [""]
    if text.endswith("\n"):
        return len(lines) + 1, 1
    return len(lines), len(lines[-1]) + 1
