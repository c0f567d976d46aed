"""The event bus: partitioned workers, bounded queues, blocking backpressure, counted drops.

A callback sink that waits on a gate holds the alert writer inside a block,
so the tests can fill the queues deterministically (waits are bounded, no
timings asserted). Behind a held writer, at most four batches are in flight:
the block being written, one waiting for the writer, one evaluated by the
worker (which waits to hand its block on) and one in the bus's queue.
"""

import threading

from engine_support import EVENTS, RULES, event, ndjson

import kestrel

WAIT = 30  # seconds: a bound on waiting for threads, never an expectation


def _held_engine(tmp_path, overflow):
    """An engine with one worker, a 1-batch queue, and a sink that blocks until `gate` opens."""
    gate, entered = threading.Event(), threading.Event()

    def hold(alert):
        entered.set()
        assert gate.wait(WAIT)

    engine = kestrel.Engine(workers=1, queue_size=1, batch_size=1, overflow=overflow, sinks=[hold])
    engine.load(RULES / "eql" / "dns_known_bad_domain.eql")
    bad = event("network", dns={"question": {"name": "evil.example"}})
    events = tmp_path / "events.ndjson"
    events.write_text(ndjson([bad] * 8))
    return engine, events, gate, entered


def test_a_full_queue_blocks_the_producer_until_the_workers_catch_up(tmp_path):
    engine, events, gate, entered = _held_engine(tmp_path, "block")
    producer = threading.Thread(target=engine.process_file, args=(events,))
    producer.start()
    assert entered.wait(WAIT)  # the writer holds batch 1's alerts
    # Batches 2-4 are in flight (see the module docs) and the producer blocks on batch 5.
    for _ in range(WAIT * 100):
        if engine.stats()["received"] == 5 and engine._bus.pending() == 1:
            break
        producer.join(0.01)
    assert producer.is_alive()
    assert engine.stats()["received"] == 5 and engine._bus.pending() == 1
    gate.set()
    producer.join(WAIT)
    assert not producer.is_alive()
    stats = engine.stats()
    assert (stats["received"], stats["processed"], stats["dropped"], stats["alerts"]) == (8, 8, 0, 8)
    engine.close()


def test_the_drop_policy_never_blocks_and_counts_every_dropped_event(tmp_path):
    engine, events, gate, entered = _held_engine(tmp_path, "drop")
    producer = threading.Thread(target=engine.process_file, args=(events,))
    producer.start()
    assert entered.wait(WAIT)
    for _ in range(WAIT * 100):  # the producer runs to the end of the file while the worker is held
        if engine.stats()["received"] == 8:
            break
        producer.join(0.01)
    gate.set()
    producer.join(WAIT)
    stats = engine.stats()
    assert stats["received"] == 8 and stats["dropped"] >= 4
    assert stats["processed"] + stats["dropped"] == 8 == stats["alerts"] + stats["dropped"]
    engine.close()


def test_partitioned_workers_raise_the_same_alerts_as_one_thread():
    def alerts(**options):
        # Partition by the sequence rule's join key, so each sequence stays within one worker.
        engine = kestrel.Engine(batch_size=1000, entity_field="process.entity_id", **options)
        engine.load(RULES / "eql")
        seen = []
        engine.add_sink(seen.append)
        engine.process_file(EVENTS)
        engine.close()
        return sorted((a["rule"]["id"], a["@timestamp"], a["events"][0]["host"]["id"]) for a in seen), engine.stats()

    single, _ = alerts()
    parallel, stats = alerts(workers=3)
    assert parallel == single and len(single) > 1000
    assert stats["processed"] == 5000 and stats["dropped"] == 0
