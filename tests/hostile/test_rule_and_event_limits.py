"""Findings 3, 8, 9, 10, 14, 17 and 21, each through the public API in a limited child.

3: type conflicts cost O(N^2). 8: a Wasm module's out-of-range results
escaped per-rule handling and lost every rule's alerts. 9: emit floods grew
host memory without bound. 10: a 108-byte manifest made the loader build a
2^31-entry table. 14: alerts behind a failing sink were counted as written.
17: objects where a timestamp or category belongs, and repeated keys, went
unreported. 21: kestrel.field_id grew the shared schema without bound.
"""

import json

import pytest

from hostile_support import one_line_error, process_event, result, run_cli, run_scenario, write_package
from support.lying_modules import LYING_MODULES

WASM = {"version": "1", "runtime": "wasm", "entry": "rule.wat", "categories": ["process"], "fields": {"1": "process.pid"}}


def test_many_conflicting_values_decode_in_linear_time(tmp_path):
    # ~3 MB of strings where the first event made the field an integer.
    events = tmp_path / "events.ndjson"
    conflicting = json.dumps({"event": {"category": ["process"]}, "x": ["v%d" % i for i in range(400_000)]})
    events.write_text(json.dumps({"event": {"category": ["process"]}, "x": 1}) + "\n" + conflicting + "\n")
    process = run_scenario(
        """
        import time, kestrel
        engine = kestrel.Engine()
        engine.load("process where true", rule_id="any")
        started = time.monotonic()
        alerts = engine.process_file(sys.argv[1])
        report({"alerts": alerts, "seconds": time.monotonic() - started})
        """,
        str(events),
    )
    found = result(process)
    assert found["alerts"] == 2 and found["seconds"] < 10, found


@pytest.mark.parametrize("name", sorted(LYING_MODULES))
def test_a_module_s_bad_results_are_its_own_failure_and_other_rules_still_alert(tmp_path, name):
    rules = tmp_path / "rules"
    write_package(rules / "liar", dict(WASM, id="liar"), [("rule.wat", LYING_MODULES[name])])
    (rules / "big_pid.eql").write_text("process where process.pid > 1000\n")
    events = tmp_path / "events.ndjson"
    events.write_text("\n".join(process_event(pid) for pid in (4242, 7, 5555)) + "\n")
    process = run_scenario(
        """
        import kestrel
        engine = kestrel.Engine(quarantine_after=2)
        engine.load(sys.argv[1])
        lines = [json.loads(line) for line in open(sys.argv[2])]
        alerts = [a["rule"]["id"] for batch in (lines, lines) for a in engine.process(batch)]
        stats = engine.stats()["rules"]["liar"]
        report({"alerts": alerts, "errors": stats["errors"], "status": stats["status"], "last": stats["last_error"]})
        """,
        str(rules),
        str(events),
        memory=1 << 30,
    )
    found = result(process)
    assert found["alerts"] == ["big_pid"] * 4
    assert found["errors"] == 2 and found["status"] == "quarantined"
    assert "bad result" in found["last"]


def test_a_huge_local_field_id_fails_that_package_only(tmp_path):
    rules = tmp_path / "rules"
    write_package(
        rules / "huge",
        dict(WASM, id="huge", fields={"2147483647": "process.pid"}),
        [("rule.wat", '(module (func (export "pred_eval") (param i32) (result i32) (i32.const 1)))')],
    )
    (rules / "big_pid.eql").write_text("process where process.pid > 1000\n")
    process = run_scenario(
        """
        import kestrel
        engine = kestrel.Engine()
        loaded = engine.load(sys.argv[1])
        report({"rules": [r["id"] for r in engine.rules()], "failures": [str(f) for f in loaded.failures]})
        """,
        str(rules),
        memory=1 << 30,
    )
    found = result(process)
    assert found["rules"] == ["big_pid"]
    [failure] = found["failures"]
    assert "fields.2147483647" in failure and "65535" in failure


def test_alerts_behind_a_full_disk_are_counted_as_not_delivered(tmp_path):
    rule = tmp_path / "big_pid.eql"
    rule.write_text("process where process.pid > 1000\n")
    events = tmp_path / "events.ndjson"
    events.write_text("\n".join(process_event(pid) for pid in (4242, 7, 5555)) + "\n")
    process = run_cli("run", "--rules", str(rule), "--events", str(events), "--alerts", "/dev/full")
    stderr = one_line_error(process)
    assert process.returncode == 3
    assert "0 alerts delivered, 2 not delivered" in stderr


def test_wrong_shapes_and_repeated_keys_are_reported(tmp_path):
    events = tmp_path / "events.ndjson"
    events.write_text(
        "\n".join(
            [
                json.dumps({"@timestamp": {"when": 1}, "event": {"category": ["process"]}, "process": {"pid": 1}}),
                json.dumps({"@timestamp": "2026-01-01T00:00:00Z", "event": {"category": {"a": 1}}, "process": {"pid": 2}}),
                '{"@timestamp": "2026-01-01T00:00:00Z", "event": {"category": ["process"]}, "process": {"pid": 3, "pid": 4}}',
            ]
        )
        + "\n"
    )
    process = run_scenario(
        """
        import kestrel
        engine = kestrel.Engine()
        # Duplicates are found in the fields the rules read: the decoder
        # skips the rest of an event without parsing it.
        engine.load("any where true", rule_id="any")
        engine.load("process where process.pid == 3", rule_id="pid")
        alerts = engine.process_file(sys.argv[1])
        report({"alerts": alerts, "problems": engine.problems})
        """,
        str(events),
    )
    found = result(process)
    assert found["alerts"] == 3  # the events are kept (pid 3 was replaced by the repeated key's 4)
    kinds = [problem.split(": ")[1] for problem in found["problems"]]
    assert kinds == ["bad_timestamp", "wrong_type", "duplicate_key"], found["problems"]
    assert [problem.split(":")[1] for problem in found["problems"]] == ["1", "2", "3"]


def test_field_id_cannot_grow_the_shared_schema_without_bound(tmp_path):
    source = (
        "function pred_init()\n  for i = 1, 200000 do kestrel.field_id('made.up.f' .. i) end\n  return 0\nend\n"
        "function pred_eval(e) return false end\n"
    )
    rules = tmp_path / "rules"
    write_package(
        rules / "grower",
        {"id": "grower", "version": "1", "runtime": "lua", "entry": "predicate.lua", "categories": ["process"]},
        [("predicate.lua", source)],
    )
    process = run_scenario(
        """
        import kestrel
        engine = kestrel.Engine()
        before = len(engine.schema)
        loaded = engine.load(sys.argv[1])
        report({"failures": [str(f) for f in loaded.failures], "added": len(engine.schema) - before})
        """,
        str(rules),
    )
    found = result(process)
    [failure] = found["failures"]
    assert "no more are allowed" in failure
    assert found["added"] <= 1024
