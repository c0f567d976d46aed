"""Trusted Lua reads plain int64 columns in place and tests categories with
per-batch masks (host_ffi.lua, `column_i64` and `category_mask` in the C
table). The answers must be the calls' answers for every event, and an index
rule code makes up (outside the batch, fractional, not a number) must fall
back to the checked calls, never read outside the column.
"""

from __future__ import annotations

import math

import pytest

import kestrel

EVENTS = [
    {"event": {"category": "process"}, "process": {"pid": 4242, "name": "a"}},
    {"event": {"category": ["network", "process"]}, "process": {"pid": 10}},
    {"event": {"category": "file"}, "process": {"pid": None}},
    {"process": {"name": "b"}},
] + [{"event": {"category": "process"}, "process": {"pid": i}} for i in range(70)]

#: pid, or 0 when null or missing, for every event, as rule code reads it.
READ_ALL = """
function pred_eval(e)
  if e == 0 then
    local seen = {}
    for i = 0, N - 1 do seen[#seen + 1] = tostring(kestrel.event_get_i64(i, 1)) end
    print(table.concat(seen, ","))
  end
  return false
end
"""


@pytest.fixture
def batch():
    return kestrel.EventBatch.from_dicts(EVENTS)


def _printed(rule, batch, capsys) -> str:
    rule.evaluate(batch)
    return capsys.readouterr().out.strip().split("] ", 1)[-1]


@pytest.mark.parametrize("trusted", [True, False], ids=["jit", "sandboxed"])
def test_in_place_reads_give_the_calls_answers(make_rule, batch, capsys, trusted):
    source = READ_ALL.replace("N - 1", str(len(EVENTS) - 1))
    rule = make_rule(source, trusted=trusted, debug=True)
    expected = []
    for e in EVENTS:
        pid = (e.get("process") or {}).get("pid")
        expected.append(str(pid if isinstance(pid, int) else 0))
    assert _printed(rule, batch, capsys) == ",".join(expected)


@pytest.mark.parametrize("index", ["-1", "1e9", "0.5", "2^53", "0/0", "'0'", "nil"])
def test_an_index_outside_the_batch_reads_nothing(make_rule, batch, capsys, index):
    source = f"""
function pred_eval(e)
  if e == 0 then
    local ok, v = pcall(kestrel.event_get_i64, {index}, 1)
    local ok2, c = pcall(kestrel.category_is, {index}, "process")
    print(tostring(ok and v) .. " " .. tostring(ok2 and c))
  end
  return false
end
"""
    # In place or not, an index reads what the checked call reads for it.
    in_place = _printed(make_rule(source, trusted=True, debug=True), batch, capsys)
    called = _printed(make_rule(source, trusted=False, debug=True), batch, capsys)
    assert in_place == called
    assert in_place.split(" ")[1] == "false"


def test_category_is_matches_any_of_an_events_categories(make_rule, batch):
    rule = make_rule('function pred_eval(e) return kestrel.category_is(e, "process") end', trusted=True)
    expected = [i for i, e in enumerate(EVENTS) if "process" in str((e.get("event") or {}).get("category", ""))]
    assert rule.evaluate(batch).events() == expected
    other = make_rule('function pred_eval(e) return kestrel.category_is(e, "nothing\\0here") end', trusted=True)
    assert other.evaluate(batch).events() == []


@pytest.mark.parametrize("trusted", [True, False], ids=["jit", "sandboxed"])
def test_pred_category_offers_only_that_categorys_events(make_rule, batch, capsys, trusted):
    # Every event offered is printed: the category's events, each once, in order.
    source = """
pred_category = "process"
function pred_eval(e)
  print(e)
  return kestrel.event_get_i64(e, 1) > 20
end
"""
    rule = make_rule(source, trusted=trusted, debug=True)
    result = rule.evaluate(batch)
    in_category = [i for i, e in enumerate(EVENTS) if "process" in str((e.get("event") or {}).get("category", ""))]
    offered = [int(line.split("] ", 1)[-1]) for line in capsys.readouterr().out.strip().splitlines()]
    assert offered == in_category
    assert result.events() == [i for i in in_category if (EVENTS[i]["process"].get("pid") or 0) > 20]


def test_a_filters_own_category_and_an_unknown_one(make_rule, batch):
    source = """
pred_category_1 = "network"
function pred_eval(e) return true end
function pred_eval_1(e) return true end
"""
    rule = make_rule(source, trusted=True)
    result = rule.evaluate(batch, filters=(0, 1))
    assert result.matches[0] == list(range(len(EVENTS)))
    assert result.matches[1] == [1]
    nothing = make_rule('pred_category = "no such category"\nfunction pred_eval(e) return true end', trusted=True)
    assert nothing.evaluate(batch).events() == []


def test_a_pred_category_that_is_not_a_string_fails_the_batch(make_rule, batch):
    rule = make_rule("pred_category = 7\nfunction pred_eval(e) return true end", trusted=True)
    result = rule.evaluate(batch)
    assert result.failure is not None and "pred_category must be a string" in result.failure.message
    assert result.events() == []


@pytest.mark.parametrize("trusted", [True, False], ids=["jit", "sandboxed"])
def test_matches_of_a_failed_batch_are_not_reported(make_rule, batch, trusted):
    # The loop collects matches and reports them after it ends: a batch that
    # fails part-way reports none, and the next batch starts from nothing.
    # The Lua entry is called directly: `evaluate` would discard the core's
    # matches after a failure whatever the loop had reported.
    source = """
local batches = 0
function pred_eval(e)
  if e == 0 then batches = batches + 1 end
  if e == 5 and batches == 1 then error("boom") end
  return e < 8
end
"""
    rule = make_rule(source, trusted=trusted)
    outcome = rule._entry.run(batch._address(), len(batch), 0, math.inf)
    assert outcome[0] is False and "boom" in outcome[1]
    assert rule.context.take_matches() == []
    outcome = rule._entry.run(batch._address(), len(batch), 0, math.inf)
    assert outcome[0] is True
    assert rule.context.take_matches() == [(0, ev) for ev in range(8)]


def test_texts_read_twice_or_across_batches_are_the_events_own(make_rule, capsys):
    # Trusted code remembers the Lua string made for a text's address within a
    # batch: a repeated read, a later batch and more unique texts than it
    # remembers must all read each event's own text.
    source = """
function pred_eval(e)
  if e == 0 then
    local seen = {}
    for round = 1, 2 do
      for i = 0, 4999 do
        local s = kestrel.event_get_str(i, 2)
        if s ~= "" then seen[#seen + 1] = s end
      end
    end
    print(table.concat(seen, ","))
  end
  return false
end
"""
    batches = [
        [{"process": {"name": f"n{i % 7}"}} for i in range(50)],
        [{"process": {"name": f"other{i}"}} for i in range(5000)],
        [{"process": {"name": f"n{i % 3}x"}} for i in range(50)],
    ]
    rules = {trusted: make_rule(source, trusted=trusted, debug=True) for trusted in (True, False)}
    for events in batches:
        for rule in rules.values():
            read = _printed(rule, kestrel.EventBatch.from_dicts(events), capsys).split(",")
            assert read == [e["process"]["name"] for e in events] * 2


def test_untrusted_luajit_rules_read_through_the_core_functions_including_late_fields():
    from kestrel.packages import FieldTable
    from kestrel.runtime.lua import LuaRule

    source = """
function pred_init() PID = kestrel.field_id('process.pid') return 0 end
function pred_eval(e)
  return kestrel.event_get_i64(e, PID) >= 60 and kestrel.event_get_str(e, 2) == '' and not kestrel.is_null(e, PID)
end
"""
    batch = kestrel.EventBatch.from_dicts(EVENTS)
    # process.pid is not in the manifest's table: pred_init adds it.
    rule = LuaRule("r", source, fields=FieldTable({2: "process.name"}), vm="lupa.luajit21")
    assert rule._native is not None and rule._native.attached
    assert rule.evaluate(batch).events() == [i + 4 for i in range(60, 70)]
    trusted = LuaRule("r", source, fields=FieldTable({2: "process.name"}), vm="lupa.luajit21", trusted=True)
    assert trusted._native is None
    assert trusted.evaluate(batch).events() == rule.evaluate(batch).events()


def test_in_place_texts_read_what_the_calls_read(make_rule, capsys):
    # Non-ASCII (the span's flag bit), empty, null, missing and non-string
    # values, and a column that turns into a list part-way.
    names = ["caf\u00e9.exe", "", None, "\u4e2d\u6587", "a" * 300, "x", 5, ["p", "q"], "caf\u00e9.exe"]
    events = [{"process": {"name": n}} if n is not None else {"process": {}} for n in names]
    events.insert(3, {"process": {"name": None}})
    source = """
function pred_eval(e)
  if e == 0 then
    local seen = {}
    for i = 0, N - 1 do seen[#seen + 1] = string.format("%q", kestrel.event_get_str(i, 2)) end
    print(table.concat(seen, ","))
  end
  return false
end
""".replace("N - 1", str(len(events) - 1))
    batch = kestrel.EventBatch.from_dicts(events)
    in_place = _printed(make_rule(source, trusted=True, debug=True), batch, capsys)
    called = _printed(make_rule(source, trusted=False, debug=True), batch, capsys)
    assert in_place == called
    assert '"caf\u00e9.exe"' in in_place
