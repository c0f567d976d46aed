"""Lucene regexp -> portable pattern translation."""

from __future__ import annotations

import re

import pytest

from kestrel.compiler.lucene_regex import RegexTranslationError, translate


def full(pattern, text, flags=0):
    return re.fullmatch(translate(pattern), text, re.DOTALL | flags) is not None


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("abc", "abc", True),
        ("abc", "abcd", False),  # anchored at the end
        ("b", "abc", False),  # and at the start
        ("a.c", "a\nc", True),  # `.` matches newlines
        ("a|b", "b", True),
        ("(ab)+", "abab", True),
        ("a{2,3}", "aaa", True),
        ("a{2}", "aaa", False),
        ("[a-c]+", "cab", True),
        ("[^a-c]", "d", True),
        ("[^a-c]", "a", False),
        ('"a.b"', "a.b", True),
        ('"a.b"', "axb", False),
        ("a@", "anything", True),
        ("#", "", False),
        ("<1-12>", "7", True),
        ("<1-12>", "13", False),
        ("<01-12>", "07", True),
        ("<01-12>", "7", False),
        ("\\d+", "123", True),
        ("\\w+\\s\\W", "ab !", True),
        ("^a$", "^a$", True),  # no anchors in Lucene
        ("a*?", "aaa", True),  # `*?` repeats the repetition; it is not lazy
        ("x\\.y", "x.y", True),
        ("x\\/y", "x/y", True),
        ("[\\d.]+", "1.2", True),
        ("[a\\-z]", "-", True),
        ("[[]", "[", True),
    ],
)
def test_translation_matches_like_lucene(pattern, text, expected):
    assert full(pattern, text) is expected


@pytest.mark.parametrize("pattern", ["a(b", "[abc", "*a", "a{3,1}", "<1-x>", '"abc'])
def test_invalid_patterns(pattern):
    with pytest.raises(RegexTranslationError) as info:
        translate(pattern)
    assert not info.value.unsupported


@pytest.mark.parametrize("pattern", ["~a", "a&b", "[\\D]", "<1-100000>"])
def test_unsupported_features(pattern):
    with pytest.raises(RegexTranslationError) as info:
        translate(pattern)
    assert info.value.unsupported


def test_output_avoids_engine_specific_syntax():
    # Patterns from the corpus; none may use lookaround, backreferences or \d.
    for pattern in [
        ".*\\.(top|buzz)",
        "[C-Z]:\\\\Windows\\\\(System32|SysWOW64)\\\\[a-zA-Z0-9\\-\\_\\.]+\\.exe",
        "/var/run/\\w+\\.(pid|lock)",
    ]:
        text = translate(pattern)
        assert "(?=" not in text and "(?!" not in text and "(?<" not in text
        # an escape (odd run of backslashes) followed by a class letter or digit
        assert not re.search(r"(?<!\\)(?:\\\\)*\\[dDwWsS1-9]", text)
