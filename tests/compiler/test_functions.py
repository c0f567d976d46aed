"""Function semantics: one test per example of the Elasticsearch EQL function reference.

Source: elastic/elasticsearch docs/reference/query-languages/eql/eql-function-ref.md.
The reference writes queries as they appear in JSON request bodies, so its
`"\\\\\\\\"` is the EQL string `"\\\\"` (one backslash); the cases below are
plain EQL.  Two of its examples contradict the text around them; they are kept
as strict xfails that assert the reference's (wrong) value.
"""

from __future__ import annotations

import math

import pytest
from eql_eval import value_of

ARGS = {"process": {"args_count": 4, "parent": {"args_count": 2}}}
ARGS_10_6 = {"process": {"args_count": 10, "parent": {"args_count": 6}}}
ARGS_2_3 = {"process": {"args_count": 2, "parent": {"args_count": 3}}}
PATH = {"file": {"path": "C:\\Windows\\System32\\cmd.exe"}}
IP = {"source": {"address": "192.168.152.12"}}
REGSVR = {"process": {"name": "regsvr32.exe", "arg_count": 4}}
FILE = {"file": {"name": "regsvr32.exe", "extension": ".exe"}}
DOMAIN = {"url": {"domain": "subdomain.example.com"}}
CMD = {"process": {"command_line": "start regsvr32.exe", "name": "regsvr32.exe"}, "command_line": "start regsvr32.exe"}
PID = {"process": {"pid": "1337"}}
NAME_REGSVR32 = {"process": {"name": "regsvr32"}}

EXAMPLES = [
    # add
    ("add(4, 5)", None, 9),
    ("add(4, 0.5)", None, 4.5),
    ("add(0.5, 0.25)", None, 0.75),
    ("add(4, -2)", None, 2),
    ("add(-2, -2)", None, -4),
    ("add(process.args_count, 5)", ARGS, 9),
    ("add(process.args_count, 0.5)", ARGS, 4.5),
    ("add(process.args_count, process.parent.args_count)", ARGS, 6),
    ("add(null, 4)", None, None),
    ("add(4, null)", None, None),  # the reference writes `add(4. null)`
    ("add(null, process.args_count)", ARGS, None),
    ("add(process.args_count, null)", ARGS, None),  # the reference omits the comma
    # between
    ('between(file.path, "System32\\\\", ".exe")', PATH, "cmd"),
    ('between(file.path, "system32\\\\", ".exe")', PATH, ""),
    ('between(file.path, "workspace\\\\", ".exe")', PATH, ""),
    ('between~(file.path, "system32\\\\", ".exe")', PATH, "cmd"),
    ('between(file.path, "\\\\", "\\\\", false)', PATH, "Windows"),
    ('between(file.path, "\\\\", "\\\\", true)', PATH, "Windows\\System32"),
    ('between("", "System32\\\\", ".exe")', None, ""),
    ('between("", "", "")', None, ""),
    ('between(null, "System32\\\\", ".exe")', None, None),
    # cidrMatch
    ('cidrMatch(source.address, "192.168.0.0/16")', IP, True),
    ('cidrMatch(source.address, "192.168.0.0/16", "10.0.0.0/8")', IP, True),
    ('cidrMatch(source.address, "10.0.0.0/8")', IP, False),
    ('cidrMatch(source.address, "10.0.0.0/8", "10.128.0.0/9")', IP, False),
    ('cidrMatch(null, "10.0.0.0/8")', None, None),
    ("cidrMatch(source.address, null)", IP, None),
    # concat
    ('concat("process is ", "regsvr32.exe")', None, "process is regsvr32.exe"),
    ('concat("regsvr32.exe", " ", 42)', None, "regsvr32.exe 42"),
    ('concat("regsvr32.exe", " ", 42.5)', None, "regsvr32.exe 42.5"),
    ('concat("regsvr32.exe", " ", true)', None, "regsvr32.exe true"),
    ('concat("regsvr32.exe")', None, "regsvr32.exe"),
    ('concat(process.name, " ", 42)', REGSVR, "regsvr32.exe 42"),
    ('concat(process.name, " ", 42.5)', REGSVR, "regsvr32.exe 42.5"),
    ('concat("process is ", process.name)', REGSVR, "process is regsvr32.exe"),
    ('concat(process.name, " ", true)', REGSVR, "regsvr32.exe true"),
    ("concat(process.name)", REGSVR, "regsvr32.exe"),
    ('concat(process.name, " ", process.arg_count)', REGSVR, "regsvr32.exe 4"),
    ('concat(null, "regsvr32.exe")', None, None),
    ("concat(process.name, null)", REGSVR, None),
    ("concat(null)", None, None),
    # divide
    ("divide(4, 2)", None, 2),
    ("divide(4, 3)", None, 1),
    ("divide(4, 3.0)", None, 4 / 3),
    ("divide(4, 0.5)", None, 8),
    ("divide(0.5, 4)", None, 0.125),
    ("divide(0.5, 0.25)", None, 2.0),
    ("divide(4, -2)", None, -2),
    ("divide(-4, -2)", None, 2),
    ("divide(process.args_count, 2)", ARGS, 2),
    ("divide(process.args_count, 3)", ARGS, 1),
    ("divide(process.args_count, 3.0)", ARGS, 4 / 3),
    ("divide(12, process.args_count)", ARGS, 3),
    ("divide(process.args_count, 0.5)", ARGS, 8),
    ("divide(0.5, process.args_count)", ARGS, 0.125),
    ("divide(process.args_count, process.parent.args_count)", ARGS, 2),
    ("divide(null, 4)", None, None),
    ("divide(4, null)", None, None),
    ("divide(null, process.args_count)", ARGS, None),
    ("divide(process.args_count, null)", ARGS, None),
    # endsWith
    ('endsWith("regsvr32.exe", ".exe")', None, True),
    ('endsWith("regsvr32.exe", ".EXE")', None, False),
    ('endsWith("regsvr32.exe", ".dll")', None, False),
    ('endsWith("", "")', None, True),
    ('endsWith~("regsvr32.exe", ".EXE")', None, True),
    ('endsWith(file.name, ".exe")', FILE, True),
    ('endsWith(file.name, ".dll")', FILE, False),
    ('endsWith("regsvr32.exe", file.extension)', FILE, True),
    ('endsWith("ntdll.dll", file.name)', FILE, False),
    ('endsWith("regsvr32.exe", null)', None, None),
    ('endsWith("", null)', None, None),
    ('endsWith(null, ".exe")', None, None),
    ("endsWith(null, null)", None, None),
    # indexOf
    ('indexOf(url.domain, "d")', DOMAIN, 3),
    ('indexOf(url.domain, "D")', DOMAIN, None),
    ('indexOf(url.domain, ".")', DOMAIN, 9),
    ('indexOf(url.domain, ".", 9)', DOMAIN, 9),
    ('indexOf(url.domain, ".", 10)', DOMAIN, 17),
    ('indexOf(url.domain, ".", -6)', DOMAIN, 9),
    ('indexOf("", "")', None, 0),
    ('indexOf(url.domain, "")', DOMAIN, 0),
    ('indexOf(url.domain, "", 9)', DOMAIN, 9),
    ('indexOf(url.domain, "", 10)', DOMAIN, 10),
    ('indexOf(url.domain, "", -6)', DOMAIN, 0),
    ('indexOf(url.domain, "z")', DOMAIN, None),
    ('indexOf(url.domain, "z", 9)', DOMAIN, None),
    ('indexOf(url.domain, ".", 30)', DOMAIN, None),
    ('indexOf(null, ".", 9)', None, None),
    ("indexOf(url.domain, null, 9)", DOMAIN, None),
    ('indexOf(url.domain, ".", null)', DOMAIN, None),
    # length
    ('length("explorer.exe")', None, 12),
    ('length("start explorer.exe")', None, 18),
    ('length("")', None, 0),
    ("length(null)", None, None),
    ("length(process.name)", REGSVR, 12),
    # modulo
    ("modulo(10, 6)", None, 4),
    ("modulo(10, 5)", None, 0),
    ("modulo(10, 0.5)", None, 0),
    ("modulo(10, -6)", None, 4),
    ("modulo(-10, -6)", None, -4),
    ("modulo(process.args_count, 6)", ARGS_10_6, 4),
    ("modulo(process.args_count, 5)", ARGS_10_6, 0),
    ("modulo(106, process.args_count)", ARGS_10_6, 6),
    ("modulo(process.args_count, -6)", ARGS_10_6, 4),
    ("modulo(process.args_count, 0.5)", ARGS_10_6, 0),
    ("modulo(process.args_count, process.parent.args_count)", ARGS_10_6, 4),
    ("modulo(null, 5)", None, None),
    ("modulo(7, null)", None, None),
    ("modulo(null, process.args_count)", ARGS_10_6, None),
    ("modulo(process.args_count, null)", ARGS_10_6, None),
    # multiply
    ("multiply(2, 2)", None, 4),
    ("multiply(0.5, 2)", None, 1),
    ("multiply(0.25, 2)", None, 0.5),
    ("multiply(-2, 2)", None, -4),
    ("multiply(-2, -2)", None, 4),
    ("multiply(process.args_count, 2)", ARGS_2_3, 4),
    ("multiply(0.5, process.args_count)", ARGS_2_3, 1),
    ("multiply(0.25, process.args_count)", ARGS_2_3, 0.5),
    ("multiply(process.args_count, process.parent.args_count)", ARGS_2_3, 6),
    ("multiply(null, 2)", None, None),
    ("multiply(2, null)", None, None),
    # number
    ('number("1337")', None, 1337),
    ('number("42.5")', None, 42.5),
    ('number("deadbeef", 16)', None, 3735928559),
    ('number("0xdeadbeef")', None, 3735928559),
    ('number("0xdeadbeef", 16)', None, 3735928559),
    ('number("+1337")', None, 1337),
    ('number("-1337")', None, -1337),
    ('number("  1337  ")', None, 1337),
    ("number(process.pid)", PID, 1337),
    ("number(null)", None, None),
    ("number(null, 16)", None, None),
    ('number("0xdeadbeef", null)', None, 3735928559),
    ('number("1337", null)', None, 1337),
    # startsWith
    ('startsWith("regsvr32.exe", "regsvr32")', None, True),
    ('startsWith("regsvr32.exe", "Regsvr32")', None, False),
    ('startsWith("regsvr32.exe", "explorer")', None, False),
    ('startsWith("", "")', None, True),
    ('startsWith~("regsvr32.exe", "Regsvr32")', None, True),
    ('startsWith(process.name, "regsvr32")', REGSVR, True),
    ('startsWith(process.name, "explorer")', REGSVR, False),
    ('startsWith("regsvr32.exe", process.name)', NAME_REGSVR32, True),
    ('startsWith("explorer.exe", process.name)', NAME_REGSVR32, False),
    ('startsWith("regsvr32.exe", null)', None, None),
    ('startsWith("", null)', None, None),
    ('startsWith(null, "regsvr32")', None, None),
    ("startsWith(null, null)", None, None),
    # string
    ("string(42)", None, "42"),
    ("string(42.5)", None, "42.5"),
    ('string("regsvr32.exe")', None, "regsvr32.exe"),
    ("string(true)", None, "true"),
    ("string(null)", None, None),
    # stringContains
    ('stringContains(process.command_line, "regsvr32")', CMD, True),
    ('stringContains(process.command_line, "Regsvr32")', CMD, False),
    ('stringContains(process.command_line, "start ")', CMD, True),
    ('stringContains(process.command_line, "explorer")', CMD, False),
    ("stringContains(command_line, process.name)", CMD, True),
    ('stringContains("", "")', None, False),
    ('stringContains(process.command_line, "")', CMD, False),
    ('stringContains(null, "regsvr32")', None, None),
    ("stringContains(process.command_line, null)", CMD, None),
    # substring
    ('substring("start regsvr32.exe", 6)', None, "regsvr32.exe"),
    ('substring("start regsvr32.exe", 0, 5)', None, "start"),
    ('substring("start regsvr32.exe", 6, 14)', None, "regsvr32"),
    ('substring("start regsvr32.exe", -4)', None, ".exe"),
    ('substring("start regsvr32.exe", -4, -1)', None, ".ex"),
    # subtract
    ("subtract(10, 2)", None, 8),
    ("subtract(10.5, 0.5)", None, 10),
    ("subtract(1, 0.2)", None, 0.8),
    ("subtract(process.args_count, 6)", ARGS_10_6, 4),
    ("subtract(process.args_count, 5)", ARGS_10_6, 5),
    ("subtract(15, process.args_count)", ARGS_10_6, 5),
    ("subtract(process.args_count, 0.5)", ARGS_10_6, 9.5),
    ("subtract(process.args_count, process.parent.args_count)", ARGS_10_6, 4),
    ("subtract(null, 2)", None, None),
    ("subtract(2, null)", None, None),
]


def _same(actual, expected) -> bool:
    if isinstance(expected, float) or isinstance(actual, float):
        return actual is not None and expected is not None and math.isclose(actual, expected, rel_tol=1e-12)
    return type(actual) is type(expected) and actual == expected


@pytest.mark.parametrize(("expression", "event", "expected"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_reference_example(expression, event, expected):
    assert _same(value_of(expression, event), expected)


# Examples whose documented value is wrong: (expression, event, documented, correct, why).
ERRATA = [
    ('indexOf~(url.domain, "D")', DOMAIN, 4, 3, "`d` is at index 3, as the reference's own indexOf example says"),
    ('stringContains~(process.command_line, "Regsvr32")', CMD, False, True, "`~` makes the match case-insensitive"),
    ("subtract(-2, 4)", None, -8, -6, "-2 - 4 is -6"),
    ("subtract(-2, -4)", None, 8, 2, "-2 - -4 is 2"),
]


@pytest.mark.parametrize(
    ("expression", "event", "documented"),
    [
        pytest.param(e, ev, doc, marks=pytest.mark.xfail(strict=True, reason=f"reference erratum: {why}"))
        for e, ev, doc, _, why in ERRATA
    ],
    ids=[e[0] for e in ERRATA],
)
def test_reference_example_as_documented(expression, event, documented):
    assert _same(value_of(expression, event), documented)


@pytest.mark.parametrize(
    ("expression", "event", "correct"), [(e, ev, ok) for e, ev, _, ok, _ in ERRATA], ids=[e[0] for e in ERRATA]
)
def test_reference_erratum_correct_value(expression, event, correct):
    assert _same(value_of(expression, event), correct)


# ---- edge cases beyond the reference ---------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("divide(-7, 2)", -3),  # Java truncates toward zero
        ("modulo(-7, 2)", -1),  # Java's % takes the dividend's sign
        ("9223372036854775807 + 1", -9223372036854775808),  # 64-bit wrap
        ("divide(1, 0)", None),  # integer division by zero is an error -> null
        ('number("abc")', None),
        ('number("1_000")', None),
        ('number("ff", 16)', 255),
        ('substring("abc", 5)', ""),
        ('substring("abc", 2, 1)', ""),
        ('substring("abc", -10, 2)', "ab"),
        ("string(1.0E10)", "1.0E10"),
        ("string(0.0001)", "1.0E-4"),
        ('between("abc", "x", "c")', ""),
        ('between("a-b-c", "-", "-", true)', "b"),
        ('cidrMatch("not an ip", "10.0.0.0/8")', False),
        ('cidrMatch("::1", "::/0")', True),
        ('cidrMatch("10.1.2.3", "::/0")', False),
    ],
)
def test_edge_case(expression, expected):
    assert _same(value_of(expression), expected)


def test_modulo_of_an_infinite_dividend_is_nan_as_in_java():
    assert math.isnan(value_of("modulo(divide(1.0, 0), 2.5)"))
    assert math.isnan(value_of("modulo(divide(-1.0, 0), 2.5)"))


def test_runtime_type_errors_give_null():
    assert value_of("add(x, 1)", {"x": "a"}) is None
    assert value_of("length(x)", {"x": 5}) is None


def test_function_names_are_case_insensitive():
    assert value_of('STARTSWITH~("Abc", "a")') is True
    assert value_of('cidrmatch("10.0.0.1", "10.0.0.0/8")') is True


def test_functions_map_over_array_fields():
    event = {"process": {"args": ["a", "bbb"]}}
    assert value_of("length(process.args) > 2", event) is True
    assert value_of("length(process.args) > 5", event) is False
    assert value_of('startsWith(process.args, "bb")', event) is True
