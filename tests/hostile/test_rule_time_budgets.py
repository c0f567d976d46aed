"""Findings 6 and 7: rule code that runs long without ever tripping a per-event budget.

Lua's pattern functions backtrack in C, where the instruction hook never
fires (about 8 s per event, or a hang). A Lua rule just under the budget
on every event took ~84 s per batch, and a Wasm pred_capture that spins got
a full time limit per alert. Now every untrusted rule has one time budget
per batch, pathological pattern calls run where the budget can stop them,
and Wasm never runs with the GIL held.
"""

from hostile_support import process_event, result, run_scenario, write_package

LUA = {"version": "1", "runtime": "lua", "entry": "predicate.lua", "categories": ["process"], "fields": {"1": "process.name"}}

#: One call each that backtracks for hours in C on a name of 5,000 "a"s.
PATTERN_CALLS = {
    "find": 'string.find(name, "a*a*a*a*a*a*b")',
    "match": 'name:match("(a-)(a-)(a-)(a-)b")',
    "gmatch": 'name:gmatch("a*a*a*a*a*b")()',
    "gsub": 'string.gsub(name, "a*a*a*a*a*b", "x")',
}


def test_pathological_patterns_are_stopped_and_other_rules_still_alert(tmp_path):
    rules = tmp_path / "rules"
    for name, call in PATTERN_CALLS.items():
        source = f"function pred_eval(e)\n  local name = kestrel.event_get_str(e, 1) or ''\n  return {call} ~= nil\nend\n"
        write_package(rules / name, dict(LUA, id=name), [("predicate.lua", source)])
    (rules / "long_name.eql").write_text("process where length(process.name) > 4000\n")
    events = tmp_path / "events.ndjson"
    events.write_text(process_event(1, name="a" * 5000) + "\n")
    process = run_scenario(
        """
        import kestrel
        engine = kestrel.Engine()
        engine.load(sys.argv[1])
        alerts = engine.process([json.loads(line) for line in open(sys.argv[2])])
        stats = engine.stats()["rules"]
        report({"alerts": [a["rule"]["id"] for a in alerts],
                "errors": {k: (v["errors"], v["last_error"]) for k, v in stats.items() if k != "long_name"}})
        """,
        str(rules),
        str(events),
    )
    found = result(process)
    assert found["alerts"] == ["long_name"]
    for name, (errors, last_error) in found["errors"].items():
        assert errors == 1 and "budget" in last_error, (name, last_error)


def test_ordinary_patterns_still_run_and_match(tmp_path):
    source = (
        "function pred_eval(e)\n  local name = kestrel.event_get_str(e, 1) or ''\n"
        "  return name:match('^(%w+)%.exe$') == 'cmd' and select(2, name:gsub('%.', '')) == 1\nend\n"
    )
    package = write_package(tmp_path / "cmd", dict(LUA, id="cmd"), [("predicate.lua", source)])
    events = tmp_path / "events.ndjson"
    events.write_text(process_event(1, "cmd.exe") + "\n" + process_event(2, "sh") + "\n")
    process = run_scenario(
        """
        import kestrel
        engine = kestrel.Engine()
        engine.load(sys.argv[1])
        alerts = engine.process([json.loads(line) for line in open(sys.argv[2])])
        report([a["events"][0]["process"]["pid"] for a in alerts])
        """,
        str(package),
        str(events),
    )
    assert result(process) == [1]


def run_with_time_budget(package, *, events, batch_size, quarantine_after):
    """The one rule of `package` over `events` process events, with 200 ms of rule
    time per batch: the seconds it took, the alerts, and the rule's stats."""
    path = package.parent / "events.ndjson"
    path.write_text("\n".join(process_event(pid) for pid in range(events)) + "\n")
    process = run_scenario(
        """
        import time, kestrel
        engine = kestrel.Engine(rule_time_limit_ms=200, batch_size=int(sys.argv[3]), quarantine_after=int(sys.argv[4]))
        engine.load(sys.argv[1])
        started = time.monotonic()
        alerts = engine.process_file(sys.argv[2])
        [stats] = engine.stats()["rules"].values()
        report({"seconds": time.monotonic() - started, "alerts": alerts, "errors": stats["errors"],
                "status": stats["status"], "last_error": stats["last_error"]})
        """,
        str(package),
        str(path),
        str(batch_size),
        str(quarantine_after),
    )
    return result(process)


def test_a_lua_rule_under_the_event_budget_is_stopped_by_the_batch_budget(tmp_path):
    # About 3M instructions per event: well under the 10M per-event budget.
    source = "function pred_eval(e)\n  local x = 0\n  for i = 1, 1000000 do x = x + i end\n  return false\nend\n"
    package = write_package(tmp_path / "slow", dict(LUA, id="slow"), [("predicate.lua", source)])
    found = run_with_time_budget(package, events=2000, batch_size=500, quarantine_after=2)
    assert "time budget" in found["last_error"]
    assert found["errors"] == 2 and found["status"] == "quarantined"
    # Unbounded, the four batches would take minutes; two stopped batches take well under a second each.
    assert found["seconds"] < 8, found


#: A hand-written Wasm package whose module spins (rule.wat is written per test).
SPIN_PACKAGE = {
    "id": "spin",
    "version": "1",
    "runtime": "wasm",
    "entry": "rule.wat",
    "categories": ["process"],
    "fields": {"1": "process.pid"},
}

SPIN_CAPTURE = """
(module
  (func (export "pred_eval") (param $ev i32) (result i32) (i32.const 1))
  (func (export "pred_capture") (param $ev i32)
    (loop $forever (br $forever))))
"""


def test_a_spinning_wasm_capture_gets_one_time_limit_per_batch(tmp_path):
    package = write_package(tmp_path / "spin", SPIN_PACKAGE, [("rule.wat", SPIN_CAPTURE)])
    found = run_with_time_budget(package, events=200, batch_size=50, quarantine_after=3)
    assert found["alerts"] == 0 and found["errors"] == 3 and found["status"] == "quarantined"
    # A limit per alert would be 50 x 0.2 s per batch; one per batch is 0.2 s.
    assert found["seconds"] < 5, found


SPIN_EVAL = """
(module
  (func (export "pred_eval") (param $ev i32) (result i32)
    (loop $forever (br $forever))
    (i32.const 0)))
"""


def test_python_threads_run_while_a_wasm_rule_spins(tmp_path):
    package = write_package(tmp_path / "spin", SPIN_PACKAGE, [("rule.wat", SPIN_EVAL)])
    process = run_scenario(
        """
        import threading, time, kestrel
        engine = kestrel.Engine(rule_time_limit_ms=1000)
        engine.load(sys.argv[1])
        event = json.loads(sys.argv[2])
        ticks, done = [0], threading.Event()
        def count():
            while not done.is_set():
                ticks[0] += 1
                time.sleep(0.001)
        counter = threading.Thread(target=count)
        counter.start()
        time.sleep(0.05)
        before = ticks[0]
        started = time.monotonic()
        engine.process([event])
        spun = time.monotonic() - started
        during = ticks[0] - before
        done.set()
        counter.join()
        report({"spun": spun, "ticks": during, "errors": engine.stats()["rules"]["spin"]["errors"]})
        """,
        str(package),
        process_event(1),
    )
    found = result(process)
    assert found["errors"] == 1 and found["spun"] >= 0.9
    # Held, the GIL would leave the counter a handful of ticks in that second.
    assert found["ticks"] > 100, found
