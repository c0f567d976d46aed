"""Hot reload: changed rules swap in between batches, a bad reload keeps the old set."""

import shutil

import pytest
from engine_support import RULES, event

import kestrel


@pytest.fixture
def rules_dir(tmp_path):
    directory = tmp_path / "rules"
    directory.mkdir()
    shutil.copy(RULES / "eql" / "certutil_download.eql", directory)
    shutil.copy(RULES / "eql" / "whoami_discovery.eql", directory)
    return directory


def test_reload_adds_changes_and_removes_rules_and_keeps_unchanged_objects(rules_dir, certutil, bad_dns):
    engine = kestrel.Engine()
    engine.load(rules_dir)
    before = {r.id: r for r in engine._rules}
    assert engine.process([bad_dns]) == []
    (rules_dir / "whoami_discovery.eql").unlink()
    (rules_dir / "certutil_download.eql").write_text('process where process.name == "certutil.exe"')
    shutil.copy(RULES / "eql" / "dns_known_bad_domain.eql", rules_dir)
    result = engine.reload()
    assert result.ok
    assert (result.added, result.removed, result.changed, result.unchanged) == (
        ["dns_known_bad_domain"],
        ["whoami_discovery"],
        ["certutil_download"],
        [],
    )
    assert sorted(a["rule"]["id"] for a in engine.process([bad_dns, certutil])) == ["certutil_download", "dns_known_bad_domain"]
    again = engine.reload()
    assert again.unchanged == ["certutil_download", "dns_known_bad_domain"]
    assert all(r is not before.get(r.id) for r in engine._rules)
    assert engine.stats()["reloads"] == 2


def test_a_failing_reload_keeps_the_running_set_and_reports(rules_dir, certutil):
    engine = kestrel.Engine()
    engine.load(rules_dir)
    running = list(engine._rules)
    (rules_dir / "broken.eql").write_text("process where\n  process.name ==")
    result = engine.reload()
    assert not result.ok
    [failure] = result.failures
    assert failure.location.endswith("broken.eql") and failure.line == 2
    assert engine._rules == running
    [alert] = engine.process([certutil])
    assert alert["rule"]["id"] == "certutil_download"
    assert engine.stats()["reloads"] == 0


def test_unchanged_rules_keep_their_counters_across_a_reload(rules_dir, certutil):
    engine = kestrel.Engine()
    engine.load(rules_dir)
    engine.process([certutil])
    shutil.copy(RULES / "eql" / "dns_known_bad_domain.eql", rules_dir)
    assert engine.reload().unchanged == ["certutil_download", "whoami_discovery"]
    assert engine.stats()["rules"]["certutil_download"]["matches"] == 1


def test_sequence_state_survives_a_reload_of_other_rules(rules_dir):
    pytest.importorskip("kestrel.runtime.sequence")
    shutil.copy(RULES / "eql" / "execution_then_outbound.eql", rules_dir)
    engine = kestrel.Engine()
    engine.load(rules_dir)
    start = event("process", process={"entity_id": "p1", "name": "x"})
    start["event"]["type"] = "start"
    engine.process([start])
    sequence = next(r for r in engine._rules if r.kind == "sequence")
    shutil.copy(RULES / "eql" / "dns_known_bad_domain.eql", rules_dir)
    assert "execution_then_outbound" in engine.reload().unchanged
    assert next(r for r in engine._rules if r.kind == "sequence") is sequence
    connect = event(
        "network", **{"@timestamp": "2026-01-05T08:01:00.000Z"}, process={"entity_id": "p1"}, destination={"port": 4444}
    )
    [alert] = engine.process([connect])
    assert alert["kind"] == "sequence" and alert["rule"]["id"] == "execution_then_outbound"
    assert [e["event"]["category"] for e in alert["events"]] == [["process"], ["network"]]
    assert alert["join_keys"] == ["p1"]
