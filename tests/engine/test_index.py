"""Rule indexing: a batch is offered only to rules whose categories occur in it, and an
anchored rule only the events whose anchor field has one of its values."""

import json

import pytest
from engine_support import EVENTS, RULES, event

import kestrel
from kestrel.synth import EventGenerator

from support.shared import CORPUS


def test_rules_are_offered_by_category_and_sequences_every_batch():
    engine = kestrel.Engine()
    engine.load(RULES / "eql")
    engine.load("any where process.pid == 1", rule_id="anything")
    sequences = [r.id for r in engine._rules if r.kind == "sequence"]
    assert len(sequences) == 1
    engine.process([event("registry", registry=RUN_KEY)])
    # Sequences are offered every batch: every event moves their clock.
    offered = {rule_id for rule_id, counters in engine.stats()["rules"].items() if counters["batches"]}
    assert offered == {"run_key_to_public_folder", *sequences, "anything"}


RUN_KEY = {
    "path": "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\updater",
    "data": {"strings": ["C:\\Users\\Public\\u.exe"]},
}


def test_a_batch_without_a_rules_category_never_reaches_it():
    engine = kestrel.Engine()
    engine.load(RULES / "eql")
    engine.process([event("registry", registry=RUN_KEY)])
    rules = engine.stats()["rules"]
    assert rules["run_key_to_public_folder"]["evaluations"] == 1
    assert rules["certutil_download"]["evaluations"] == 0
    off = kestrel.Engine(indexing=False)
    off.load(RULES / "eql")
    off.process([event("registry", registry=RUN_KEY)])
    assert off.stats()["rules"]["certutil_download"]["evaluations"] == 1


def test_a_glob_anchor_keeps_events_its_patterns_reject_from_the_rule():
    # run_key_to_public_folder needs registry.data.strings : "C:\\Users\\Public\\*".
    engine = kestrel.Engine()
    engine.load(RULES / "eql")
    anchors = {rule.id: engine._pipeline.anchor(p) for p, rule in enumerate(engine._rules)}
    assert anchors["run_key_to_public_folder"] == "registry.data.strings like 1 pattern (ci)"
    elsewhere = dict(RUN_KEY, data={"strings": ["C:\\Windows\\u.exe"]})
    engine.process([event("registry", registry=elsewhere)])
    assert engine.stats()["rules"]["run_key_to_public_folder"]["evaluations"] == 0


def test_indexing_off_raises_the_same_alerts():
    def run(indexing):
        engine = kestrel.Engine(indexing=indexing, batch_size=500)
        engine.load(RULES)
        seen = []
        engine.add_sink(seen.append)
        engine.process_file(EVENTS)
        return sorted((a["rule"]["id"], a["@timestamp"]) for a in seen)

    assert run(True) == run(False)


def test_a_trailing_missing_step_closes_on_events_the_sequence_cannot_match():
    # The window closes on event time. A later batch of another category,
    # none of whose events is a candidate, still moves the clock: the alert
    # comes with that batch, indexed or not, and not only at flush().
    rule = 'sequence by host.id with maxspan=1m [process where process.name == "a.exe"] ![file where file.name == "x"]'

    def second_batch_alerts(indexing):
        engine = kestrel.Engine(indexing=indexing)
        engine.load(rule, rule_id="no_file_after_a")
        assert engine.process([event("process", process={"name": "a.exe"})]) == []
        later = event("network", destination={"port": 443})
        later["@timestamp"] = "2026-01-05T08:05:00.000Z"
        return [a["rule"]["id"] for a in engine.process([later])]

    assert second_batch_alerts(True) == second_batch_alerts(False) == ["no_file_after_a"]


def _alerts(rules, events, indexing):
    """Every alert of one run, as comparable tuples, and the engine."""
    engine = kestrel.Engine(indexing=indexing, batch_size=700)
    for target in rules:
        engine.load(target)
    seen = []
    engine.add_sink(seen.append)
    engine.process(events)
    engine.flush()
    return sorted(
        json.dumps([a["rule"]["id"], a["events"], a.get("captures")], sort_keys=True, default=str) for a in seen
    ), engine


def _mixed_events():
    """The example events, plus generated ones with case and array variations the anchors must see through."""
    events = [json.loads(line) for line in EVENTS.read_text().splitlines() if line.strip()]
    generated = list(EventGenerator(7).events(3000))
    for i, ev in enumerate(generated):
        process = ev.get("process")
        if isinstance(process, dict) and isinstance(process.get("name"), str):
            if i % 3 == 0:
                process["name"] = process["name"].upper()
            elif i % 3 == 1:
                process["name"] = ["x", process["name"]]
            elif i % 7 == 2:
                process["name"] = None
    return events + generated


def test_anchors_restrict_rules_to_candidate_events():
    engine = kestrel.Engine()
    engine.load(RULES / "eql")
    index = engine._pipeline
    assert 0 < index.anchored <= len(engine._rules)
    anchors = [index.anchor(i) for i in range(len(engine._rules))]
    assert any(a and a.startswith("process.name in ") for a in anchors), anchors
    engine.process([event("process", process={"name": "explorer.exe", "pid": 4})])
    # An anchored process rule whose values exclude explorer.exe is not even offered the event.
    offered = {rule_id: counters["evaluations"] for rule_id, counters in engine.stats()["rules"].items()}
    skipped = [r.id for i, r in enumerate(engine._rules) if anchors[i] and "process" in r.categories and offered[r.id] == 0]
    assert skipped


def test_bundled_rules_alert_the_same_with_and_without_anchors():
    events = _mixed_events()
    on, engine = _alerts([RULES], events, True)
    off, _ = _alerts([RULES], events, False)
    assert engine._pipeline.anchored > 0
    assert on == off and on


@pytest.mark.skipif(not CORPUS.exists(), reason=f"no rule corpus at {CORPUS}")
def test_corpus_rules_alert_the_same_with_and_without_anchors(tmp_path):
    subset = tmp_path / "subset.jsonl"
    subset.write_text("".join(CORPUS.read_text().splitlines(keepends=True)[:400]))
    events = _mixed_events()
    on, engine = _alerts([subset], events, True)
    off, _ = _alerts([subset], events, False)
    assert engine._pipeline.anchored > 100
    assert on == off and on
