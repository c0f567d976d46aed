"""Translate Lucene regular expressions (what EQL `regex` uses) to a portable form.

Elasticsearch evaluates `regex` with Lucene's RegExp (all optional syntax
enabled), which always matches the *whole* string.  The translation targets the
subset of syntax that Python's `re` and Rust's `regex` crate read the same way:
no lookaround, no backreferences, no inline flags, no `\\d`-style classes
(their Unicode meaning differs between engines), and escapes only on the
metacharacters both engines know.

How to run a translated pattern (the contract documented in docs/ir.md):

* match the whole input: Python `fullmatch`; Rust `^(?:PATTERN)$`;
* `.` matches newlines too: Python `re.DOTALL`; Rust `dot_matches_new_line`;
* `regex~`: Python `re.IGNORECASE`; Rust `case_insensitive(true)`.

Lucene features and their translation:

=================  ==========================================================
Lucene             translation
=================  ==========================================================
``a|b``, ``ab``    the same
``? * + {n,m}``    the same; a quantifier after a quantifier (``a*?``) means
                   "repeat the repetition" in Lucene, so it is grouped
                   (``(?:a*)?``), never read as a lazy quantifier
``.``              ``.`` (run with DOTALL)
``[a-z]``/``[^..]`` a class with every non-alphanumeric member escaped
``"text"``         the literal text
``\\c``            the literal character ``c``; ``\\d \\D \\s \\S \\w \\W``
                   become explicit ASCII classes, as in Lucene
``@``              any string: ``.*``
``#``              the empty language: ``\\b\\B`` (never matches)
``<n-m>``          an alternation of the decimal numbers in the interval
``^ $``            literal characters (Lucene has no anchors)
``~x`` ``x&y``     rejected (E052): complement and intersection have no
                   equivalent in either engine
=================  ==========================================================
"""

from __future__ import annotations

import re
from typing import List, Tuple, Union

# Characters that must be escaped outside a class to be literal in both engines.
_META = frozenset("\\.+*?()|[]{}^$")
_SHORTHAND = {
    "d": "0-9",
    "s": " \\t\\n\\r",
    "w": "a-zA-Z0-9_",
}
MAX_INTERVAL_SIZE = 2000


class RegexTranslationError(ValueError):
    """`offset` is the position in the Lucene pattern; `unsupported` marks E052."""

    def __init__(self, message: str, offset: int, *, unsupported: bool = False) -> None:
        super().__init__(message)
        self.offset = offset
        self.unsupported = unsupported


def translate(pattern: str) -> str:
    """Translate a Lucene regexp to the portable syntax described above."""
    translator = _Translator(pattern)
    text, _ = translator.union()
    if translator.pos != len(pattern):
        raise RegexTranslationError(f"unexpected `{pattern[translator.pos]}`", translator.pos)
    try:
        re.compile(text, re.DOTALL)
    except re.error as exc:  # a bug in this module, or a limit such as {n,m} with m < n
        raise RegexTranslationError(f"invalid regular expression: {exc}", 0) from None
    return text


def _literal(char: str) -> str:
    return "\\" + char if char in _META else _printable(char)


# Members that must be escaped inside a class: the class syntax itself plus
# the doubled characters Python reserves for set operations (`--`, `&&`,
# `~~`, `||`).  All of them are in the regex crate's escapable set too.
_CLASS_META = frozenset("\\[]^-&~|")


def _class_member(char: str) -> str:
    return "\\" + char if char in _CLASS_META else _printable(char)


def _printable(char: str) -> str:
    """Control characters as escapes both engines read (`\\n`, `\\t`, `\\xHH`)."""
    if char == "\n":
        return "\\n"
    if char == "\t":
        return "\\t"
    if ord(char) < 0x20 or ord(char) == 0x7F:
        return "\\x%02x" % ord(char)
    return char


class _Shorthand:
    """`\\d`, `\\s` or `\\w` met inside a class: its members, ready to emit."""

    __slots__ = ("members",)

    def __init__(self, members: str) -> None:
        self.members = members


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.pos = 0

    # -- helpers -------------------------------------------------------------
    def _peek(self) -> str:
        return self.pattern[self.pos] if self.pos < len(self.pattern) else ""

    def _take(self) -> str:
        char = self._peek()
        if not char:
            raise RegexTranslationError("the pattern ends too early", self.pos)
        self.pos += 1
        return char

    def _fail(self, message: str, *, unsupported: bool = False) -> RegexTranslationError:
        return RegexTranslationError(message, self.pos, unsupported=unsupported)

    # -- grammar: union > intersection > concatenation > repeat > atom ----------
    def union(self) -> Tuple[str, bool]:
        branches = [self.concatenation()]
        while self._peek() == "|":
            self.pos += 1
            branches.append(self.concatenation())
        if len(branches) == 1:
            return branches[0]
        return "|".join(text for text, _ in branches), False

    def concatenation(self) -> Tuple[str, bool]:
        parts = []
        while self._peek() and self._peek() not in "|)":
            if self._peek() == "&":
                raise self._fail("intersection (`&`) is not supported", unsupported=True)
            parts.append(self.repeat())
        if len(parts) == 1:
            return parts[0]
        # An alternation inside a concatenation was already grouped by atom().
        return "".join(text for text, _ in parts), False

    def repeat(self) -> Tuple[str, bool]:
        text, atomic = self.atom()
        while self._peek() in ("?", "*", "+", "{") and self._peek():
            operator = self._quantifier()
            if not atomic:
                text = f"(?:{text})"
            text, atomic = text + operator, False
        return text, atomic

    def _quantifier(self) -> str:
        char = self._take()
        if char != "{":
            return char
        match = re.compile(r"(\d+)(?:(,)(\d*))?\}").match(self.pattern, self.pos)
        if not match:
            raise self._fail("malformed repetition `{...}`")
        self.pos = match.end()
        low, comma, high = match.group(1), match.group(2), match.group(3)
        if comma and high and int(high) < int(low):
            raise self._fail(f"repetition {{{low},{high}}} has max below min")
        return "{" + low + ("," + high if comma else "") + "}"

    def atom(self) -> Tuple[str, bool]:
        start = self.pos
        char = self._take()
        if char == "~":
            self.pos = start
            raise self._fail("complement (`~`) is not supported", unsupported=True)
        if char == "(":
            if self._peek() == ")":
                self.pos += 1
                return "(?:)", True
            text, _ = self.union()
            if self._peek() != ")":
                raise self._fail("missing `)`")
            self.pos += 1
            return f"({text})", True
        if char == "[":
            return self._char_class(), True
        if char == ".":
            return ".", True
        if char == "@":
            return ".*", False
        if char == "#":
            return "(?:\\b\\B)", True
        if char == '"':
            end = self.pattern.find('"', self.pos)
            if end < 0:
                raise self._fail('unterminated `"` literal')
            literal = self.pattern[self.pos : end]
            self.pos = end + 1
            text = "".join(_literal(c) for c in literal)
            return (f"(?:{text})", True) if len(literal) != 1 else (text, True)
        if char == "<":
            return self._interval(start), True
        if char == "\\":
            return self._escape(), True
        if char in "?*+{":
            self.pos = start
            raise self._fail(f"`{char}` has nothing to repeat")
        return _literal(char), True

    def _escape(self) -> str:
        char = self._take()
        if char.lower() in _SHORTHAND:
            members = _SHORTHAND[char.lower()]
            return f"[^{members}]" if char.isupper() else f"[{members}]"
        return _literal(char)

    def _char_class(self) -> str:
        negated = self._peek() == "^"
        if negated:
            self.pos += 1
        members: List[str] = []
        while True:
            if not self._peek():
                raise self._fail("missing `]`")
            if self._peek() == "]" and members:
                self.pos += 1
                break
            low = self._class_char()
            if isinstance(low, _Shorthand):
                members.append(low.members)
                continue
            if self._peek() == "-" and self.pattern[self.pos + 1 : self.pos + 2] not in ("]", ""):
                self.pos += 1
                high = self._class_char()
                if isinstance(high, _Shorthand) or ord(high) < ord(low):
                    raise self._fail(f"bad range in a class after `{low}-`")
                members.append(f"{_class_member(low)}-{_class_member(high)}")
            else:
                members.append(_class_member(low))
        return ("[^" if negated else "[") + "".join(members) + "]"

    def _class_char(self) -> Union[str, _Shorthand]:
        char = self._take()
        if char != "\\":
            return char
        escaped = self._take()
        if escaped.lower() in _SHORTHAND:
            if escaped.isupper():
                raise self._fail(f"`\\{escaped}` is not supported inside a class", unsupported=True)
            return _Shorthand(_SHORTHAND[escaped])
        return escaped

    def _interval(self, start: int) -> str:
        match = re.compile(r"(\d+)-(\d+)>").match(self.pattern, self.pos)
        if not match:
            self.pos = start
            raise self._fail("malformed numeric interval `<n-m>`")
        self.pos = match.end()
        low_text, high_text = match.group(1), match.group(2)
        low, high = sorted((int(low_text), int(high_text)))
        if high - low > MAX_INTERVAL_SIZE:
            self.pos = start
            raise self._fail(f"numeric interval wider than {MAX_INTERVAL_SIZE} values", unsupported=True)
        if len(low_text) == len(high_text):
            width = len(low_text)
            numbers = (str(n).zfill(width) for n in range(low, high + 1))
            return "(?:" + "|".join(numbers) + ")"
        # Without a fixed width Lucene accepts any number of leading zeros.
        return "0*(?:" + "|".join(str(n) for n in range(low, high + 1)) + ")"
