"""A rule that crashes at runtime is quarantined; the engine and the other rules go on."""

import json

from engine_support import RULES

import kestrel
from kestrel.cli import main

LOOP = '(module (func (export "pred_eval") (param i32) (result i32) (loop $l (br $l)) (i32.const 0)))'


def _hostile(tmp_path):
    package = tmp_path / "spinner"
    package.mkdir()
    (package / "rule.wat").write_text(LOOP)
    (package / "manifest.json").write_text(
        json.dumps({"id": "spinner", "version": "1", "entry": "rule.wat", "categories": ["network"]})
    )
    return package


def test_an_infinite_loop_hits_the_deadline_and_the_rule_is_quarantined(tmp_path, bad_dns):
    engine = kestrel.Engine(rule_time_limit_ms=50, quarantine_after=2)
    engine.load(_hostile(tmp_path))
    engine.load(RULES / "eql" / "dns_known_bad_domain.eql")
    raised = [engine.process([bad_dns]) for _ in range(4)]
    assert [len(alerts) for alerts in raised] == [1, 1, 1, 1]
    spinner = engine.stats()["rules"]["spinner"]
    assert (spinner["status"], spinner["errors"], spinner["batches"]) == ("quarantined", 2, 2)
    assert "time limit of 50 ms" in spinner["last_error"]
    assert [r["status"] for r in engine.rules()] == ["quarantined", "active"]


def test_cli_run_reports_the_quarantined_rule_and_exits_0(tmp_path, capsys, bad_dns):
    config = tmp_path / "engine.toml"
    config.write_text("rule_time_limit_ms = 50\nquarantine_after = 1\nbatch_size = 1\n")
    events = tmp_path / "events.ndjson"
    events.write_text((json.dumps(bad_dns) + "\n") * 3)
    args = ["run", "--config", str(config), "--rules", str(_hostile(tmp_path)), str(RULES / "eql" / "dns_known_bad_domain.eql")]
    assert main(args + ["--events", str(events), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["alerts"] == 3 and stats["rules"]["spinner"]["status"] == "quarantined"


# Claims a match for an event the batch does not have.
LIAR = """(module (memory (export "memory") 1)
  (func (export "pred_eval") (param i32) (result i32) (i32.const 0))
  (func (export "pred_eval_list") (param i32 i32 i32 i32) (result i32)
    (i32.store (local.get 3) (i32.const 77777)) (i32.const 1)))"""


def test_a_module_reporting_events_outside_the_batch_loses_no_other_rule_s_alerts(tmp_path, bad_dns):
    package = tmp_path / "liar"
    package.mkdir()
    (package / "rule.wat").write_text(LIAR)
    (package / "manifest.json").write_text(
        json.dumps({"id": "liar", "version": "1", "entry": "rule.wat", "categories": ["network"]})
    )
    engine = kestrel.Engine(quarantine_after=2)
    engine.load(package)
    engine.load(RULES / "eql" / "dns_known_bad_domain.eql")
    raised = [engine.process([bad_dns]) for _ in range(3)]
    assert [len(alerts) for alerts in raised] == [1, 1, 1]
    liar = engine.stats()["rules"]["liar"]
    assert (liar["status"], liar["errors"]) == ("quarantined", 2)
    assert "not offered" in liar["last_error"]
