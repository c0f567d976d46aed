"""Compiled rules' string.find remembers answers per text, and gives exactly C's.

``find_memo.lua`` answers a repeated ``string.find(text, pattern)`` from a
table. Every call here is compared with the C function twice, so that the
second answer comes from memory: they must agree on the values returned,
their number, and on raising.
"""

import random

import pytest
from lua_compare import COMPARE

import kestrel
from kestrel.packages import FieldTable
from kestrel.runtime.lua import LuaRule
from kestrel.runtime.lua.rule import _lua_source
from kestrel.runtime.lua.vm import new_runtime


@pytest.fixture(scope="module")
def lua():
    runtime = new_runtime(None)
    memoized, forget = runtime.execute(_lua_source("find_memo.lua"))(runtime.eval("string.find"))
    compare = runtime.eval(COMPARE)
    module = runtime.table_from({"find": memoized})

    def twice(*args):
        """Compare a call, then compare it again (answered from memory)."""
        for _ in range(2):
            agree, c, ours = compare(module, "find", *args)
            if not agree:
                return agree, c, ours
        return agree, c, ours

    return memoized, forget, twice


CASES = [
    ("powershell.exe", "suspicious"),
    ("suspicious.exe", "suspicious"),
    ("suspicious.exe", "exe", 1, True),
    ("a.b", ".", 1, True),
    ("a.b", "."),
    ("a.b", "%."),
    ("hello world", "o w", 1),
    ("hello", "l", 4),
    ("hello", "l", -2),
    ("hello", "", 10),
    ("abc", "(b)(c)"),
    ("abc", "()b()"),
    ("abc", "(b", 1, True),
    ("a(b", "(", 1, True),
    ("abc", "[a"),
    ("abc", "%"),
    ("cmd.exe /c whoami", "^cmd"),
    ("cmd.exe /c whoami", "%s/c%s"),
    ("starts", "ends"),
    ("ends", "s"),
    ("x", "x", None, False),
    ("x", "x", 1, "yes"),
    (12345, "34"),
    ("12345", 34),
    (None, "x"),
    ("x", None),
    ({}, "x"),
]


@pytest.mark.parametrize("case", CASES, ids=[repr(c) for c in CASES])
def test_each_call_agrees_with_c_first_and_from_memory(lua, case):
    _, _, compare = lua
    agree, c, ours = compare(*case)
    assert agree, (case, c, ours)


def test_random_calls_agree_and_forgetting_changes_nothing(lua):
    _, forget, compare = lua
    rng = random.Random(5)
    texts = ["".join(rng.choice("ab.(%-") for _ in range(rng.randint(0, 6))) for _ in range(60)]
    patterns = ["a", "ab", ".", "%.", "a-b", "b*", "(a)", "%(", "[ab]+", "^a", "b$", ""]
    for i in range(2_000):
        if i % 500 == 0:
            forget()
        text, pattern = rng.choice(texts), rng.choice(patterns)
        args = [text, pattern] + rng.choice([[], [1], [2], [1, True], [None, True]])
        agree, c, ours = compare(*args)
        assert agree, (args, c, ours)


def test_more_texts_than_remembered_still_find_right(lua):
    memoized, forget, _ = lua
    forget()
    hits = [memoized(f"name-{i}-{'x' * (i % 7)}", "xxxxx") for i in range(10_000)]
    assert [i for i, h in enumerate(hits) if h is not None] == [i for i in range(10_000) if i % 7 >= 5]
    forget()


def test_a_compiled_rule_finds_per_event_across_batches(vm):
    source = """
function pred_eval(event)
    local name = kestrel.event_get_str(event, 2)
    local s, e = string.find(name, "exe", 1, true)
    return s ~= nil and e == s + 2 and name:find("^%a+%.exe$") ~= nil
end
"""
    rule = LuaRule("find", source, fields=FieldTable({2: "process.name"}), trusted=True, vm=vm)
    names = ["cmd.exe", "bash", "whoami.exe", "x.exe.bak", "cmd.exe", "a1.exe"]
    for shift in range(3):
        batch_names = names[shift:] + names[:shift]
        events = [{"process": {"pid": 1, "name": n}} for n in batch_names]
        result = rule.evaluate(kestrel.EventBatch.from_dicts(events))
        assert result.failure is None
        assert result.events() == [i for i, n in enumerate(batch_names) if n in ("cmd.exe", "whoami.exe")]
