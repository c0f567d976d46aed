"""A distributed runner's view of the engine: events keyed to shards by
entity, each shard's batches evaluated with `process_partition` on state
restored from the shard's last snapshot (as a stream processor's keyed
operator would, in any process), the cross-entity sequences evaluated apart
over every event. The alerts are those of one engine over the whole stream."""

import json
import zlib

import pytest
from engine_support import EVENTS, RULES, event, ndjson

import kestrel

RULE_DIRS = [RULES / "eql", RULES / "detection-rules", RULES / "wasm_example_rule", RULES / "lua_example_rule"]
SHARDS = 3
BATCH = 97  # lines per shard batch: small, so state crosses many snapshots


def _engine(workers):
    engine = kestrel.Engine(workers=workers, batch_size=4096)
    for target in RULE_DIRS:
        engine.load(target)
    return engine


def _host(line):
    doc = json.loads(line)
    return str(doc.get("host", {}).get("id", ""))


def _reference(lines):
    with _engine(0) as engine:
        alerts = engine.process(b"".join(lines)) + engine.flush()
    return sorted(json.dumps(a, sort_keys=True) for a in alerts)


def _keyed(lines):
    """Shards hold their state only as snapshot bytes between batches, and a
    fresh engine takes over every other batch."""
    shards = [[line for line in lines if zlib.crc32(_host(line).encode()) % SHARDS == p] for p in range(SHARDS)]
    state = {}
    alerts = []
    engines = [_engine(SHARDS), _engine(SHARDS)]
    for p, shard in enumerate(shards):
        for n, start in enumerate(range(0, len(shard), BATCH)):
            engine = engines[n % 2]
            if p in state:
                engine.restore_partition(p, state[p])
            alerts += list(engine.process_partition(p, b"".join(shard[start : start + BATCH]), block=n % 2 == 0))
            state[p] = engine.snapshot_partition(p)
        engine = engines[0]
        engine.restore_partition(p, state[p])
        alerts += engine.flush_partition(p)
    with _engine(0) as cross:
        alerts += cross.process_cross_entity(b"".join(lines))
        alerts += cross.flush_partition(0)
    for engine in engines:
        engine.close()
    return sorted(json.dumps(a, sort_keys=True) for a in alerts)


def test_keyed_shards_raise_the_alerts_of_one_engine():
    lines = EVENTS.read_bytes().splitlines(keepends=True)
    expected = _reference(lines)
    assert any('"kind": "sequence"' in a for a in expected)
    assert _keyed(lines) == expected


def test_cross_entity_sequences_are_named_and_run_only_apart():
    rule = 'sequence by user.name [process where process.name == "a"] [process where process.name == "b"]'
    events = [
        event("process", process={"name": "a"}, user={"name": "u"}, host={"id": "h1"}),
        event(
            "process", process={"name": "b"}, user={"name": "u"}, host={"id": "h2"}, **{"@timestamp": "2026-01-05T08:00:01.000Z"}
        ),
    ]
    with kestrel.Engine(workers=2) as engine:
        engine.load(rule)
        (rule_id,) = engine.cross_entity_rules()
        # Keyed by host, the two events are in different shards: neither sees the pair.
        assert engine.process_partition(0, ndjson(events[:1])) == []
        assert engine.process_partition(1, ndjson(events[1:])) == []
        found = engine.process_cross_entity(ndjson(events))
        assert [a["rule"]["id"] for a in found] == [rule_id]


def test_a_partition_out_of_range_is_refused():
    with kestrel.Engine(workers=2) as engine:
        engine.load(RULES / "eql")
        with pytest.raises(IndexError, match="partition 2 out of range"):
            engine.process_partition(2, ndjson([event("process")]))


def test_alert_ids_are_stable_across_runs_and_distinct_per_alert():
    lines = EVENTS.read_bytes().splitlines(keepends=True)
    with _engine(0) as first, _engine(2) as second:
        a = first.process(b"".join(lines)) + first.flush()
        b = second.process(b"".join(lines)) + second.flush()
    assert sorted(x["id"] for x in a) == sorted(x["id"] for x in b)
    assert len({x["id"] for x in a}) == len(a)
