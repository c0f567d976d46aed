"""Decoding and encoding of EQL string literals and quoted field names."""

from __future__ import annotations

import re
from typing import Callable

# Elasticsearch's lexer also takes \b, \f and \' (production rules use \').
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "'": "'", "b": "\b", "f": "\f"}
_ESCAPE = re.compile(r"\\(u\{([0-9A-Fa-f]{2,8})\}|.)", re.DOTALL)


class BadEscape(ValueError):
    """Raised with the offset (within the literal) of an invalid escape."""

    def __init__(self, offset: int, text: str) -> None:
        super().__init__(text)
        self.offset = offset


def decode_string(token: str) -> str:
    """Turn a `"..."` or `\"\"\"...\"\"\"` token into its value.

    Raw strings keep every character.  Ordinary strings accept the escapes
    ``\\n \\r \\t \\b \\f \\\\ \\" \\'`` and ``\\u{XXXX}`` (2 to 8 hex digits); anything else
    raises :class:`BadEscape`, as in Elasticsearch.
    """
    if token.startswith('"""'):
        return token[3:-3]
    body = token[1:-1]

    def replace(match: "re.Match[str]") -> str:
        if match.group(2) is not None:
            code = int(match.group(2), 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise BadEscape(match.start() + 1, f"\\u{{{match.group(2)}}} is not a Unicode scalar value")
            return chr(code)
        char = match.group(1)
        if char not in _ESCAPES:
            raise BadEscape(match.start() + 1, f"invalid escape sequence \\{char}")
        return _ESCAPES[char]

    return _ESCAPE.sub(replace, body)


_NEEDS_ESCAPE = re.compile(r'[\\"\n\r\t]|[^\x20-\x7e\u00a0-\uffff]')


def encode_string(value: str) -> str:
    """Render `value` as an ordinary EQL string literal that decodes back to it."""

    def replace(match: "re.Match[str]") -> str:
        char = match.group()
        for letter, decoded in _ESCAPES.items():
            if decoded == char:
                return "\\" + letter
        return "\\u{%x}" % ord(char) if ord(char) > 0xF else "\\u{0%x}" % ord(char)

    return '"' + _NEEDS_ESCAPE.sub(replace, value) + '"'


_PLAIN_PART = re.compile(r"[A-Za-z_@][A-Za-z0-9_@]*\Z")
_PART = re.compile(r"`(?:[^`]|``)+`|[^.`]+")


def decode_field(token: str) -> str:
    """Turn a NAME token (dotted, with optional backtick parts) into a path."""
    if "`" not in token:
        return token
    return ".".join(_unquote_part(part) for part in _split_parts(token))


def _split_parts(token: str) -> list[str]:
    return _PART.findall(token)


def _unquote_part(part: str) -> str:
    if part.startswith("`"):
        return part[1:-1].replace("``", "`")
    return part


def encode_field(path: str, is_keyword: Callable[[str], bool]) -> str:
    """Render a field path, backtick-quoting parts that are not plain names."""
    parts = path.split(".")
    if all(_PLAIN_PART.match(part) for part in parts) and not (len(parts) == 1 and is_keyword(path)):
        return path
    return "`" + path.replace("`", "``") + "`"
