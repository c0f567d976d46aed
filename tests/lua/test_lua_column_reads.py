"""Trusted Lua reads plain int64 columns in place and tests categories with
per-batch masks (host_ffi.lua, `column_i64` and `category_mask` in the C
table). The answers must be the calls' answers for every event, and an index
rule code makes up (outside the batch, fractional, not a number) must fall
back to the checked calls, never read outside the column.
"""

from __future__ import annotations

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
