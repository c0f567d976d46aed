"""Workers: a batch split by entity over N threads in the core gives the
same alerts as one thread, for every N, including sequences joined on
fields other than the entity."""

import gc
import json
import threading
import weakref
import zlib

import pytest
from engine_support import EVENTS, RULES, ndjson

import kestrel

from support.shared import CORPUS


def _alert_lines(tmp_path, rules, workers, events=EVENTS, **options):
    out = tmp_path / f"alerts-{workers}-{len(list(tmp_path.iterdir()))}.ndjson"  # a file sink appends: a new file per run
    with kestrel.Engine(workers=workers, batch_size=512, sinks=[out], **options) as engine:
        for target in rules:
            engine.load(target)
        engine.process_file(events)
        engine.flush()
        stats = engine.stats()
    return sorted(out.read_bytes().splitlines()), stats


@pytest.mark.parametrize("workers", [2, 3])
def test_bundled_rules_alert_the_same_on_any_number_of_workers(tmp_path, workers):
    rules = [RULES / "eql", RULES / "detection-rules", RULES / "wasm_example_rule", RULES / "lua_example_rule"]
    one, stats_one = _alert_lines(tmp_path, rules, 0)
    many, stats_many = _alert_lines(tmp_path, rules, workers)
    assert one, "the bundled stream raises alerts"
    assert any(json.loads(line)["kind"] == "sequence" for line in one)
    assert many == one
    assert stats_many["workers"] == workers and stats_many["alerts"] == stats_one["alerts"] == len(one)


def test_the_corpus_alerts_the_same_on_two_workers(tmp_path):
    if not CORPUS.exists():
        pytest.skip(f"no rule corpus at {CORPUS}")
    one, _ = _alert_lines(tmp_path, [CORPUS], 0)
    many, _ = _alert_lines(tmp_path, [CORPUS], 2)
    assert len(one) > 100
    assert many == one


def _hosts_in_different_partitions():
    """Two host ids that Kestrel's partition function (CRC-32 modulo the
    count) sends to different partitions of two."""
    hosts = [f"host-{n}" for n in range(10)]
    first = hosts[0]
    other = next(h for h in hosts if zlib.crc32(h.encode()) % 2 != zlib.crc32(first.encode()) % 2)
    return first, other


def test_a_sequence_joined_by_user_finds_its_match_across_hosts_on_two_workers(tmp_path):
    a, b = _hosts_in_different_partitions()
    events = [
        {
            "@timestamp": "2026-01-05T08:00:00.000Z",
            "event": {"category": ["authentication"], "outcome": "failure"},
            "host": {"id": a},
            "user": {"name": "bob"},
        },
        {
            "@timestamp": "2026-01-05T08:00:10.000Z",
            "event": {"category": ["process"], "type": ["start"]},
            "host": {"id": b},
            "user": {"name": "bob"},
            "process": {"name": "whoami.exe"},
        },
    ]
    path = tmp_path / "events.ndjson"
    path.write_text(ndjson(events))
    query = (
        'sequence by user.name with maxspan=1m [authentication where event.outcome == "failure"] '
        '[process where process.name == "whoami.exe"]'
    )
    found = {}
    for workers in (0, 2):
        with kestrel.Engine(workers=workers, batch_size=1) as engine:
            engine.load(query, rule_id="fail_then_whoami")
            alerts = engine.process(path.read_bytes()) + engine.flush()
        found[workers] = alerts
    assert len(found[0]) == 1 and found[0][0]["join_keys"] == ["bob"]
    assert [e["host"]["id"] for e in found[2][0]["events"]] == [a, b]
    assert found[2] == found[0]


@pytest.mark.parametrize("source", ["bundled", "corpus"])
def test_decoding_only_the_fields_rules_read_changes_no_alert(tmp_path, source):
    if source == "corpus" and not CORPUS.exists():
        pytest.skip(f"no rule corpus at {CORPUS}")
    rules = [CORPUS] if source == "corpus" else [RULES / "eql", RULES / "detection-rules", RULES / "wasm_example_rule"]
    projected, _ = _alert_lines(tmp_path, rules, 0)
    with kestrel.Engine() as engine:
        for target in rules:
            engine.load(target)
        fields = engine._pipeline.fields()
    assert fields is not None and len(fields) < len(engine.schema.fields()) / 4
    everything, _ = _alert_lines(tmp_path, rules, 0, project_fields=False)
    assert projected and projected == everything


def test_a_lua_rule_turns_the_projection_off():
    with kestrel.Engine() as engine:
        engine.load(RULES / "lua_example_rule")
        assert engine._pipeline.fields() is None


def test_an_engine_nobody_closed_is_collected_and_stops_its_worker():
    engine = kestrel.Engine(workers=2)
    engine.load(RULES / "eql")
    engine.process_file(EVENTS)
    gone = weakref.ref(engine)
    del engine
    gc.collect()
    assert gone() is None
    for thread in threading.enumerate():
        if thread.name == "kestrel-worker":
            thread.join(timeout=5)
    assert not any(t.name == "kestrel-worker" and t.is_alive() for t in threading.enumerate())


def test_many_engines_over_the_corpus_can_live_at_once():
    """Each engine holds a Wasm instance per rule per worker thread; no
    process-wide instance pool may run out."""
    if not CORPUS.exists():
        pytest.skip(f"no rule corpus at {CORPUS}")
    engines = []
    try:
        for _ in range(3):
            engine = kestrel.Engine(workers=2)
            engine.load(CORPUS)
            engine.process_file(EVENTS)
            assert engine.load_report.ok, engine.load_report.failures[:2]
            engines.append(engine)
    finally:
        for engine in engines:
            engine.close()


def _alerts_in_child(events, out, queue):
    with kestrel.Engine(workers=2, batch_size=512, sinks=[out]) as engine:
        engine.load(RULES / "eql")
        queue.put(engine.process_file(events))


def test_a_forked_child_runs_workers_of_its_own(tmp_path):
    """The core's worker threads stay in the process that started them:
    a child forked after the parent evaluated on two workers must not wait
    for threads it does not have."""
    import multiprocessing

    parent, _ = _alert_lines(tmp_path, [RULES / "eql"], 2)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_alerts_in_child, args=(EVENTS, tmp_path / "child.ndjson", queue))
    child.start()
    child.join(timeout=300)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked child hung on its workers")
    assert child.exitcode == 0
    assert queue.get(timeout=10) == len(parent)
    assert sorted((tmp_path / "child.ndjson").read_bytes().splitlines()) == parent
