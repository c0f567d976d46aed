"""Lua rule packages: the shipped example and the seed guide's snippets, unmodified."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import kestrel
from kestrel.packages import RulePackageError
from kestrel.runtime.lua import load_lua_package

from support.shared_paths import SEEDS, require

RULES = Path(__file__).resolve().parents[2] / "rules"
LUA_PACKAGES = sorted(
    p
    for p in RULES.iterdir()
    if (p / "manifest.json").exists() and json.loads((p / "manifest.json").read_text()).get("runtime") == "lua"
)


def test_the_example_package_is_shipped():
    assert RULES / "lua_example_rule" in LUA_PACKAGES


@pytest.mark.parametrize("package", LUA_PACKAGES, ids=[p.name for p in LUA_PACKAGES])
def test_package_raises_its_expected_alerts(package, vm):
    rule = load_lua_package(package, vm=vm)
    batch = kestrel.EventBatch.from_ndjson(package / "tests" / "events.ndjson")
    result = rule.evaluate(batch)
    assert result.failure is None
    expected = json.loads((package / "tests" / "expected.json").read_text())["alerts"]
    assert result.events() == [alert["event"] for alert in expected]
    for alert in expected:
        assert result.captures[alert["event"]] == alert["captures"]


def seed_blocks() -> list[str]:
    """The ```lua blocks of the seed's Lua rule package guide."""
    (guide,) = require(SEEDS).glob("000_*.txt")
    text = guide.read_text(encoding="utf-8")
    return [block.split("```", 1)[0] for block in text.split("```lua\n")[1:]]


def test_the_shipped_predicate_is_the_guide_example_verbatim():
    complete = next(block for block in seed_blocks() if "-- pred_init" in block)
    assert (RULES / "lua_example_rule" / "predicate.lua").read_text() == complete


SEED_EVENTS = [
    {"process": {"pid": 4242, "name": "suspicious.exe"}},
    {"process": {"pid": 10, "name": "sus"}},
    {"process": {"pid": 2000, "name": "bash"}},
    {},
]


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ("return pid > 1000", [0, 2]),  # the pred_eval snippet and the "Lua (Equivalent)" migration example
        ('string.find(name, "sus") ~= nil', [0, 1]),  # "Migration: Lua to Wasm"
        ('print("Debug: PID = " .. pid)', [0, 2]),  # "Debugging"
        ("-- pred_init", [0]),  # the complete example
    ],
)
def test_seed_snippets_run_unmodified(marker, expected, vm):
    from kestrel.packages import FieldTable
    from kestrel.runtime.lua import LuaRule

    blocks = [block for block in seed_blocks() if marker in block and "function pred_eval" in block]
    assert blocks, marker
    batch = kestrel.EventBatch.from_dicts(SEED_EVENTS)
    for block in blocks:
        rule = LuaRule("seed", block, fields=FieldTable({1: "process.pid", 2: "process.name"}), vm=vm)
        result = rule.evaluate(batch)
        assert result.failure is None
        assert result.events() == expected


def test_field_id_in_pred_init(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"id": "by_name", "version": "1", "runtime": "lua"}))
    (tmp_path / "predicate.lua").write_text(
        "local PID, NAME\n"
        "function pred_init() PID = kestrel.field_id('process.pid') NAME = kestrel.field_id('process.name') return 0 end\n"
        "function pred_eval(e) return kestrel.event_get_i64(e, PID) > 1000 and kestrel.event_get_str(e, NAME) == 'bash' end\n"
    )
    batch = kestrel.EventBatch.from_dicts(SEED_EVENTS)
    assert load_lua_package(tmp_path).evaluate(batch).events() == [2]


def test_an_undeclared_field_id_is_a_clear_error():
    from kestrel.runtime.lua import LuaRule

    rule = LuaRule("r", "function pred_eval(e) return kestrel.event_get_i64(e, 7) > 0 end")
    failure = rule.evaluate(kestrel.EventBatch.from_dicts(SEED_EVENTS)).failure
    assert "unknown field id 7" in str(failure)


def test_host_calls_from_lua(caplog, vm):
    from kestrel.packages import FieldTable
    from kestrel.packages.constants import HostConstants
    from kestrel.runtime.lua import LuaRule

    constants = HostConstants(
        literals=("SUSPICIOUS.EXE",), globs=((("*.exe",), True),), regexes=(("s.*s", False),), sets=((("bash", "sh"), False),)
    )
    source = """
    function pred_eval(e)
      local name = kestrel.event_get_str(e, 2)
      local r = {kestrel.str_eq(e, 2, 0, true), kestrel.glob_match_field(e, 2, 0), kestrel.set_contains(e, 2, 0),
                 kestrel.re_match(0, name) and 1 or 0, kestrel.glob_match(0, name) and 1 or 0,
                 kestrel.is_null(e, 2) and 1 or 0, kestrel.event_get_u64(e, 1), math.floor(kestrel.event_get_f64(e, 1))}
      print(table.concat(r, ","))
      return false
    end"""
    rule = LuaRule("calls", source, fields=FieldTable({1: "process.pid", 2: "process.name"}), constants=constants, vm=vm)
    with caplog.at_level("DEBUG", logger="kestrel.lua"):
        rule.evaluate(kestrel.EventBatch.from_dicts(SEED_EVENTS))
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "[calls] 1,1,0,0,1,0,4242,4242",  # regexes are anchored: "s.*s" is not all of "suspicious.exe",
        "[calls] 0,0,0,1,0,0,10,10",
        "[calls] 0,0,1,0,0,0,2000,2000",
        "[calls] -1,-1,-1,0,0,1,0,0",
    ]


def test_a_wasm_manifest_is_not_a_lua_package(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"id": "w", "version": "1", "entry": "rule.wasm"}))
    with pytest.raises(RulePackageError, match="not a Lua package"):
        load_lua_package(tmp_path)


def test_an_eql_package_can_choose_the_lua_runtime(tmp_path, vm):
    (tmp_path / "manifest.json").write_text(
        json.dumps({"id": "eql_on_lua", "version": "1", "runtime": "lua", "entry": "rule.eql"})
    )
    (tmp_path / "rule.eql").write_text('process where process.pid > 1000 and process.name : "SUSPICIOUS.EXE"')
    events = [dict(event, event={"category": ["process"]}) for event in SEED_EVENTS]
    assert load_lua_package(tmp_path, vm=vm).evaluate(kestrel.EventBatch.from_dicts(events)).events() == [0]


def test_write_package_round_trips(tmp_path):
    from kestrel.compiler import compile
    from kestrel.compiler.lua import generate_package, write_package

    compiled = compile('process where process.name : ("bash", "sus") and process.pid < 100')
    write_package(generate_package(compiled), tmp_path, "generated")
    events = [dict(event, event={"category": ["process"]}) for event in SEED_EVENTS]
    # The manifest asks to run trusted; only the caller can grant it.
    untrusted, trusted = load_lua_package(tmp_path), load_lua_package(tmp_path, trust=True)
    assert not untrusted.trusted and trusted.trusted
    for rule in (untrusted, trusted):
        assert rule.evaluate(kestrel.EventBatch.from_dicts(events)).events() == [1]


def test_field_id_resolves_new_paths_only_while_loading(vm):
    from kestrel.runtime.lua import LuaRule

    source = (
        "local PID = kestrel.field_id('process.pid')\n"
        "function pred_eval(e) return kestrel.field_id('process.pid') == PID and kestrel.field_id('x' .. e) > 0 end"
    )
    failure = LuaRule("late", source, vm=vm).evaluate(kestrel.EventBatch.from_dicts(SEED_EVENTS)).failure
    assert "kestrel.field_id('x0'): new paths are resolved in pred_init only" in str(failure)
