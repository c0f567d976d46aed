"""`| head N` / `| tail N` in the engine: over batches, in Elasticsearch order,
composed in order, shared by workers, shown by `stats()`, kept by reloads."""

import json

import pytest

import kestrel
from kestrel.engine.pipes import pipe_stages

BASE_MS = 1_767_600_000_000  # 2026-01-05T08:00:00Z


def ev(n, category="process", host="h1", ms=None, **fields):
    """Event `n` (its id), at BASE_MS + `ms` (default: n seconds)."""
    when = BASE_MS + (n * 1000 if ms is None else ms)
    return {"@timestamp": when, "event": {"category": [category]}, "host": {"id": host}, "n": n, **fields}


def ids(alerts):
    return [[event["n"] for event in alert["events"]] for alert in alerts]


def flat(alerts):
    return [n for alert in ids(alerts) for n in alert]


def pipe_stats(engine, rule_id):
    return engine.stats()["rules"][rule_id]["pipes"]


def test_head_counts_across_batches_then_the_rule_is_not_evaluated_any_more():
    engine = kestrel.Engine(batch_size=2)
    engine.load("process where true | head 3", rule_id="first3")
    assert flat(engine.process([ev(n) for n in range(10)])) == [0, 1, 2]
    stats = engine.stats()["rules"]["first3"]
    # Batch 2 held events 2 and 3: 3 was dropped, and batches 3 to 5 were skipped.
    assert stats["pipes"] == {
        "stages": [{"op": "head", "count": 3, "passed": 3, "dropped": 1}],
        "emitted": 3,
        "exhausted": True,
    }
    assert (stats["batches"], stats["evaluations"], stats["alerts"]) == (2, 4, 3)
    assert engine.process([ev(n) for n in range(10, 14)]) == [] and engine.flush() == []
    assert engine.stats()["rules"]["first3"]["batches"] == 2


def test_tail_holds_the_last_results_until_flush():
    engine = kestrel.Engine(batch_size=3)
    engine.load("process where n != 4 | tail 2", rule_id="last2")
    assert engine.process([ev(n) for n in range(6)]) == []
    assert pipe_stats(engine, "last2")["stages"] == [{"op": "tail", "count": 2, "held": 2, "dropped": 3}]
    assert flat(engine.flush()) == [3, 5]
    assert pipe_stats(engine, "last2")["stages"][0]["held"] == 0
    assert engine.stats()["rules"]["last2"]["alerts"] == 2
    assert engine.flush() == []


def test_tail_takes_the_last_in_event_time_whatever_the_arrival_order():
    engine = kestrel.Engine(batch_size=2)
    engine.load("process where true | tail 2", rule_id="last2")
    # Event 2 arrives last but happened first: the last two are 0 and 1.
    engine.process([ev(0, ms=10_000), ev(1, ms=20_000), ev(2, ms=5_000)])
    assert flat(engine.flush()) == [0, 1]


@pytest.mark.parametrize(
    "pipes, now, at_flush",
    [
        ("| tail 5 | head 2", [], [5, 6]),
        ("| head 3 | tail 1", [], [2]),
        ("| head 5 | head 2", [0, 1], []),
        ("| tail 4 | tail 2", [], [8, 9]),
        ("| head 6 | tail 3 | head 2", [], [3, 4]),
    ],
)
def test_pipes_compose_in_query_order(pipes, now, at_flush):
    engine = kestrel.Engine(batch_size=4)
    engine.load(f"process where true {pipes}", rule_id="piped")
    assert flat(engine.process([ev(n) for n in range(10)])) == now
    assert flat(engine.flush()) == at_flush


def test_a_batchs_results_come_in_timestamp_then_tiebreaker_order():
    out_of_order = [ev(3, ms=20), ev(2, ms=10), ev(1, ms=10), ev(0, ms=30)]
    engine = kestrel.Engine(tiebreaker_field="n")
    engine.load("process where true", rule_id="all")
    engine.load("process where true | head 2", rule_id="first2")
    alerts = engine.process(out_of_order)
    by_rule = {rule: flat([a for a in alerts if a["rule"]["id"] == rule]) for rule in ("all", "first2")}
    assert by_rule == {"all": [1, 2, 3, 0], "first2": [1, 2]}
    # Without a tiebreaker, events of one timestamp keep their arrival order.
    plain = kestrel.Engine()
    plain.load("process where true | head 2", rule_id="first2")
    assert flat(plain.process(out_of_order)) == [2, 1]


def test_a_sequences_results_come_in_order_of_their_first_event():
    # Host b's sequence completes first, but host a's started first.
    events = [ev(0, host="a"), ev(1, host="b"), ev(2, "network", host="b"), ev(3, "network", host="a")]
    query = "sequence by host.id [process where true] [network where true]"
    engine = kestrel.Engine()
    engine.load(query, rule_id="all")
    engine.load(query + " | head 1", rule_id="first")
    engine.load(query + " | tail 1", rule_id="last")
    alerts = engine.process(events)
    assert [(a["rule"]["id"], n) for a, n in zip(alerts, ids(alerts))] == [("all", [0, 3]), ("all", [1, 2]), ("first", [0, 3])]
    assert ids(engine.flush()) == [[1, 2]]


def test_a_sequence_past_its_head_stops_matching():
    engine = kestrel.Engine(batch_size=2)
    engine.load("sequence by host.id [process where true] [network where true] | head 1", rule_id="once")
    events = [ev(0, host="a"), ev(1, "network", host="a"), ev(2, host="b"), ev(3, "network", host="b")]
    assert ids(engine.process(events)) == [[0, 1]]
    stats = engine.stats()["rules"]["once"]
    assert stats["pipes"]["exhausted"] and stats["batches"] == 1
    assert engine.flush() == []


def test_workers_share_one_head_and_one_tail():
    hosts = [f"h{i}" for i in range(8)]
    events = [ev(n, host=hosts[n % 8]) for n in range(200)]
    engine = kestrel.Engine(workers=2, batch_size=10)
    engine.load("process where true | head 5", rule_id="first5")
    engine.load("process where true | tail 3", rule_id="last3")
    engine.load("sequence by host.id [process where true] [process where true] | head 4", rule_id="pairs")
    engine.load("sequence by host.id [process where true] [process where true]", rule_id="every_pair")
    try:
        alerts = engine.process(events)
        first5 = [a for a in alerts if a["rule"]["id"] == "first5"]
        assert len(first5) == 5 and len(set(flat(first5))) == 5
        assert len([a for a in alerts if a["rule"]["id"] == "pairs"]) == 4
        assert not any(a["rule"]["id"] == "last3" for a in alerts)
        assert flat(engine.flush()) == [197, 198, 199]
        stats = engine.stats()["rules"]
        assert stats["first5"]["pipes"]["stages"][0]["passed"] == 5
        assert stats["pairs"]["pipes"]["stages"][0]["passed"] == 4
        assert stats["every_pair"]["state"]["partitions"] == 2  # both workers had events
    finally:
        engine.close()


def test_a_reload_keeps_an_unchanged_rules_pipe_state(tmp_path):
    rule = tmp_path / "first.eql"
    rule.write_text("process where true | head 1\n")
    engine = kestrel.Engine()
    engine.load(rule)
    assert flat(engine.process([ev(0), ev(1)])) == [0]
    assert engine.reload().unchanged == ["first"]
    assert engine.process([ev(2)]) == []
    rule.write_text("process where true | head 2\n")
    assert engine.reload().changed == ["first"]
    assert flat(engine.process([ev(3), ev(4), ev(5)])) == [3, 4]


def test_a_compiled_package_keeps_its_pipes(tmp_path):
    from kestrel.cli import main

    source = tmp_path / "last.eql"
    source.write_text("process where true | tail 1\n")
    events = tmp_path / "events.ndjson"
    events.write_text("".join(json.dumps(ev(n)) + "\n" for n in range(5)))
    for backend in ("wasm", "lua"):
        package = tmp_path / backend
        assert main(["compile", str(source), "--backend", backend, "-o", str(package)]) == 0
        engine = kestrel.Engine()
        engine.load(package, strict=True)
        engine.process_file(events)
        assert flat(engine.flush()) == [4], backend


def test_pipe_stages_refuse_an_unknown_pipe():
    with pytest.raises(ValueError, match="unknown pipe 'sort'"):
        pipe_stages([("sort", 3)])
    assert pipe_stages([]) == ()
    assert pipe_stages([], size=2) == (("head", 2),)
