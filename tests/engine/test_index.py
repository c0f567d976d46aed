"""Rule indexing: a batch is offered only to rules whose categories occur in it."""

from engine_support import EVENTS, RULES, event

import kestrel
from kestrel.engine.index import RuleIndex


def test_rules_are_bucketed_by_category():
    engine = kestrel.Engine()
    engine.load(RULES / "eql")
    engine.load('any where process.pid == 1', rule_id="anything")
    index = RuleIndex(engine._rules)
    sequences = 1 if any(r.kind == "sequence" for r in engine._rules) else 0  # with the sequence engine in the build
    assert index.buckets() == {"file": 1, "network": 2 + sequences, "process": 5 + sequences, "registry": 1, "*": 1}
    assert [r.id for r in index.select({"registry"})] == ["run_key_to_public_folder", "anything"]


def test_a_batch_without_a_rules_category_never_reaches_it():
    engine = kestrel.Engine()
    engine.load(RULES / "eql")
    engine.process([event("registry", registry={"path": "HKLM\\x"})])
    rules = engine.stats()["rules"]
    assert rules["run_key_to_public_folder"]["evaluations"] == 1
    assert rules["certutil_download"]["evaluations"] == 0
    off = kestrel.Engine(indexing=False)
    off.load(RULES / "eql")
    off.process([event("registry", registry={"path": "HKLM\\x"})])
    assert off.stats()["rules"]["certutil_download"]["evaluations"] == 1


def test_indexing_off_raises_the_same_alerts():
    def run(indexing):
        engine = kestrel.Engine(indexing=indexing, batch_size=500)
        engine.load(RULES)
        seen = []
        engine.add_sink(seen.append)
        engine.process_file(EVENTS)
        return sorted((a["rule"]["id"], a["@timestamp"]) for a in seen)

    assert run(True) == run(False)
