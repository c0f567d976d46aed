"""The Lua pattern matcher that untrusted rules fall back to agrees with LuaJIT's C one.

``patterns.lua`` reimplements string.find/match/gmatch/gsub so that a costly
call runs under the rule's budgets. It must give the same results and
raise where C raises; these tests run both on the same calls in one Lua
state and compare.
"""

import random

import pytest
from lua_compare import COMPARE

from kestrel.runtime.lua.rule import _lua_source
from kestrel.runtime.lua.vm import new_runtime


@pytest.fixture(scope="module")
def lua():
    runtime = new_runtime(None)
    module = runtime.execute(_lua_source("patterns.lua"))
    return runtime, module, runtime.eval(COMPARE)


CASES = [
    ("find", "hello world", "o w"),
    ("find", "hello", "l*", 3),
    ("find", "hello", "", 10),
    ("find", "hello", "", -2),
    ("find", "a.b", ".", 1, True),
    ("find", "abc", "(b)(c)"),
    ("find", "abc", "()b()"),
    ("find", 12345, 34),
    ("find", "abc", "[a"),
    ("find", "abc", "%"),
    ("find", "a]b", "[]]"),
    ("find", "a-b", "[a-]"),
    ("find", "x", "[^%a]"),
    ("find", "THE (quick) fox", "%f[%a]%a+", 5),
    ("find", "a\0b", "%z"),
    ("find", "abc", "b", -1),
    ("match", "key = value", "^(%w+)%s*=%s*(%w+)$"),
    ("match", "f(a(b)c)d", "%b()"),
    ("match", "abcabc", "(abc)%1"),
    ("match", "abab", "(ab)%2"),
    ("match", "  x  ", "^%s*(.-)%s*$"),
    ("match", "hello", "()ll()"),
    ("match", "2024-01-01", "(%d+)-(%d+)-(%d+)"),
    ("match", "axxa", "()%1"),
    ("match", "x$y", "$y"),
    ("gsub", "hello world", "(o)", "[%1]"),
    ("gsub", "hello", "", "-"),
    ("gsub", "abc", "^a", "x"),
    ("gsub", "hello world", "%w+", "%%"),
    ("gsub", "abc", "b", "%2"),
    ("gsub", "x", "x", "%"),
    ("gsub", "abc", "(", "x"),
    ("gsub", "a b c", "%s", "", 1),
    ("gsub", "abc", "%w", 7),
    ("gmatch", "one two  three", "%a+"),
    ("gmatch", "k=v, a=b", "(%w+)=(%w+)"),
    ("gmatch", "abc", ""),
    ("gmatch", "^abc", "^a"),
]


@pytest.mark.parametrize("case", CASES, ids=[repr(c) for c in CASES])
def test_chosen_calls_agree_with_c(lua, case):
    _, module, compare = lua
    same, c, mine = compare(module, *case)
    assert same, f"C: {c}\nLua: {mine}"


def test_replacement_tables_and_functions_agree_with_c(lua):
    runtime, module, compare = lua
    for repl in (
        runtime.table_from({"hello": "HI"}),
        runtime.eval("function(x) return nil end"),
        runtime.eval("function(x) return x .. x end"),
        runtime.eval("function(x) return {} end"),
    ):
        same, c, mine = compare(module, "gsub", "hello world", "%w+", repl)
        assert same, f"C: {c}\nLua: {mine}"


ATOMS = [
    "a",
    "b",
    ".",
    "%a",
    "%d",
    "%s",
    "%S",
    "[ab]",
    "[^a]",
    "[a-c]",
    "%%",
    "%(",
    "(",
    ")",
    "()",
    "%b()",
    "%f[%a]",
    "%1",
    "^",
    "$",
    "-",
    "x",
    "[%]]",
]
QUANTIFIERS = ["", "", "", "*", "+", "-", "?"]


@pytest.mark.parametrize("seed", range(4))
def test_random_calls_agree_with_c(lua, seed):
    runtime, module, compare = lua
    rnd = random.Random(seed)
    differ = []
    for _ in range(5000):
        pattern = "".join(rnd.choice(ATOMS) + rnd.choice(QUANTIFIERS) for _ in range(rnd.randint(0, 5)))
        subject = "".join(rnd.choice("aabbc (1)x-%") for _ in range(rnd.randint(0, 12)))
        name = rnd.choice(["find", "match", "gmatch", "gsub"])
        args = [name, subject, pattern]
        if name == "gsub":
            args.append(rnd.choice(["<%0>", "%1", "z"]))
        elif name != "gmatch" and rnd.random() < 0.3:
            args.append(rnd.randint(-5, 14))
        same, c, mine = compare(module, *args)
        if not same:
            differ.append((args, c, mine))
    assert differ == []


@pytest.mark.parametrize(
    ("pattern", "n", "small"),
    [
        ("cmd.exe", 4096, True),  # literal text: linear
        ("^(%w+)=(.*)$", 256, True),  # anchored, two expansions on a short field
        ("a*a*a*a*a*a*b", 5000, False),  # nested expansions: n^6
        ("(.-)%s(.-)%s(.-)$", 2000, False),
        ("[", 10, False),  # malformed: the Lua matcher reports it
    ],
)
def test_the_cost_bound_sends_only_provably_small_calls_to_c(lua, pattern, n, small):
    _, module, _ = lua
    assert (module.cost(pattern, n, True) <= 1 << 24) == small


@pytest.mark.parametrize("pattern", ["cmd.exe", "^(%w+)=(.*)$", "a*a*a*b", "(.-)%s(.-)$", "%b()"])
def test_the_longest_subject_for_c_is_where_the_bound_crosses_the_limit(lua, pattern):
    _, module, _ = lua
    limit = 1 << 24
    for anchored in (True, False):
        most = module.max_subject(pattern, anchored, limit)
        assert module.cost(pattern, most, anchored) <= limit < module.cost(pattern, most + 1, anchored)


def test_more_patterns_than_the_rule_caches_still_match_right():
    from kestrel import EventBatch
    from kestrel.runtime.lua import LuaRule

    source = (
        "function pred_eval(e)\n"
        "  for i = 1, 600 do\n"
        "    if not ('abc' .. i):find('c' .. i) or ('abc' .. i):match('^(a)b') ~= 'a' then return false end\n"
        "  end\n"
        "  return true\n"
        "end\n"
    )
    rule = LuaRule("many_patterns", source)
    result = rule.evaluate(EventBatch.from_dicts([{}]))
    assert result.failure is None and result.events() == [0]
