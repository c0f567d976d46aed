"""The grammar: literals, names, comments, precedence, query shapes."""

from __future__ import annotations

import pytest

from kestrel.compiler import EqlSyntaxError, ast, parse


def condition(text):
    return parse(f"any where {text}").body.condition


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (r'"a\nb"', "a\nb"),
        (r'"tab\there"', "tab\there"),
        (r'"back\\slash"', "back\\slash"),
        (r'"quote\"d"', 'quote"d'),
        (r'"\u{200f}"', "\u200f"),
        (r'"\u{0000200F}"', "\u200f"),
        (r'"it\'s"', "it's"),
        ('"""raw \\ and " quote"""', 'raw \\ and " quote'),
        ('""""""', ""),
        ("1", 1),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("-7", -7),
        ("true", True),
        ("false", False),
        ("null", None),
    ],
)
def test_literals(text, value):
    literal = condition(f"x == {text}").right
    assert isinstance(literal, ast.Literal)
    assert literal.value == value and type(literal.value) is type(value)


def test_backtick_fields():
    assert condition("`my-field` == 1").left == ast.Field("my-field")
    assert condition("`my``field` == 1").left == ast.Field("my`field")
    assert condition("a.`b c`.d == 1").left == ast.Field("a.b c.d")
    assert condition("?`x-y` == 1").left == ast.Field("x-y", optional=True)


def test_comments_are_ignored():
    text = "process where /* block\n comment */ x == 1 // line comment\n and y == 2"
    assert parse(text) == parse("process where x == 1 and y == 2")


def test_precedence():
    assert condition("a == 1 or b == 2 and c == 3") == condition("a == 1 or (b == 2 and c == 3)")
    assert condition("not a == 1 and b == 2") == condition("(not (a == 1)) and b == 2")
    assert condition("a + b * c == 1") == condition("(a + (b * c)) == 1")
    assert condition("not x in (1, 2)") == ast.Not(condition("x in (1, 2)"))


def test_operators():
    assert condition('x : ("a", "b")') == ast.PatternMatch("seq", ast.Field("x"), (ast.Literal("a"), ast.Literal("b")), True)
    assert condition('x like~ "a*"').case_insensitive
    assert condition('x regex "a"').kind == "regex"
    member = condition("x not in~ (1)")
    assert member.negated and member.case_insensitive


def test_function_names_are_canonicalised():
    call = condition('startswith~(x, "a")')
    assert (call.name, call.case_insensitive) == ("startsWith", True)


def test_names_that_contain_keywords():
    assert condition("index == 1").left == ast.Field("index")
    assert condition("likely == 1").left == ast.Field("likely")
    assert condition("process.regex_name == 1").left == ast.Field("process.regex_name")


def test_quoted_category():
    assert parse('"my-category" where true').body.category == "my-category"
    assert parse("any where true").body.category is None


def test_sequence_shape():
    query = parse(
        "sequence by host.id with maxspan=5m "
        "[process where true] by process.pid with runs=2 "
        "![file where true] by process.pid "
        "until [process where false] by process.pid | tail 2"
    )
    seq = query.body
    assert seq.by == (ast.Field("host.id"),)
    assert seq.maxspan.nanoseconds == 300 * 10**9
    assert [step.runs for step in seq.steps] == [2, None]
    assert [step.missing for step in seq.steps] == [False, True]
    assert seq.until.by == (ast.Field("process.pid"),)
    assert query.pipes == (ast.Pipe("tail", 2),)


def test_maxspan_before_by_and_spaces_around_equals():
    seq = parse("sequence with maxspan = 5s by a [x where true] [y where true]").body
    assert seq.by == (ast.Field("a"),) and seq.maxspan == ast.Duration(5, "s")


def test_sample_shape():
    sample = parse("sample by host.id [a where true] by x [b where true] by y").body
    assert isinstance(sample, ast.Sample) and len(sample.steps) == 2


def test_spans_point_at_source():
    cond = condition('\n  x == "a"')
    assert (cond.span.line, cond.span.column) == (2, 3)


def test_syntax_error_type():
    with pytest.raises(EqlSyntaxError):
        parse("process where")


def test_string_lists_with_comments_and_raw_strings():
    cond = condition('x : (\n  // first\n  "a", /* b */ """c\\d""",\n  "e"  // last\n)')
    assert [p.value for p in cond.patterns] == ["a", "c\\d", "e"]
    assert [(p.span.line, p.span.column) for p in cond.patterns] == [(3, 3), (3, 16), (4, 3)]
    assert condition('x in ("a", "b")') == condition('x in ("a", "b" )')


def test_error_inside_a_long_string_list_points_at_the_item():
    with pytest.raises(EqlSyntaxError) as info:
        parse('any where x in (\n  "ok",\n  "bad\\q"\n)')
    assert (info.value.code, info.value.line, info.value.column) == ("E006", 3, 7)


def test_mixed_lists_still_parse():
    assert [v.value for v in condition('x in ("a", 1, null)').values] == ["a", 1, None]
    assert condition('x : ("a")') == condition('x : "a"')
