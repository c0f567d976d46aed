"""The sharded state store: expiry, quotas, LRU under a memory budget,
memory accounting, and snapshots that survive a restart."""

from __future__ import annotations

import pytest

import kestrel
from kestrel._core import StateBudget
from sequence.helpers import THREE_STEPS, batch, event, ids, rule, seqs, stream, synthetic

TWO_STEPS = "sequence by user.name with maxspan=1s [process where true] [file where true]"


def starts(n: int, first_ms: int = 0) -> list[dict]:
    """`n` keys, each with one pending partial match."""
    return [event(i, first_ms + i, "process", key=f"user-{i}") for i in range(n)]


def test_expired_partials_are_counted_and_freed() -> None:
    r = rule(TWO_STEPS)
    r.process(batch(starts(100)))
    assert r.stats()["partials"] == 100
    r.process(batch([event(1000, 5_000, "network")], first_seq=100))
    stats = r.stats()
    assert stats["evictions"]["expired"] == 100
    assert stats["partials"] == 0 and stats["keys"] == 0 and stats["state_bytes"] == 0


def test_idle_ttl_expires_sequences_without_maxspan() -> None:
    r = rule("sequence by user.name [process where true] [file where true]", idle_ttl_ms=1_000)
    r.process(batch(starts(10)))
    r.process(batch([event(99, 60_000, "network")], first_seq=10))
    assert r.stats()["evictions"]["expired"] == 10


def test_the_entity_quota_refuses_partials_beyond_it() -> None:
    r = rule("sequence by user.name [process where true] [file where true] [network where true]", quotas={"entity": 1})
    # The second process event would make a second partial for the key (state 0 while state 1 waits).
    stream(r, [event(1, 0, "process"), event(2, 1, "file"), event(3, 2, "process")], 10)
    assert r.stats()["evictions"]["quota_entity"] == 1


def test_the_rule_quota_evicts_the_least_recently_used_keys() -> None:
    r = rule(TWO_STEPS, quotas={"rule": 10})
    r.process(batch(starts(25)))
    stats = r.stats()
    assert stats["partials"] == 10
    assert stats["evictions"]["quota_rule"] == 15
    # The survivors are the newest keys.
    found = r.process(batch([event(100, 30, "file", key="user-24"), event(101, 30, "file", key="user-0")], first_seq=25))
    assert seqs(found) == [[24, 25]]


def test_a_shared_memory_budget_evicts_lru_state_across_rules() -> None:
    budget = StateBudget()
    first = rule(TWO_STEPS, memory_budget=20_000, budget=budget)
    second = rule(TWO_STEPS, memory_budget=20_000, budget=budget)
    first.process(batch(starts(200)))
    assert budget.used <= 20_000 and first.stats()["evictions"]["lru"] > 0
    second.process(batch(starts(200)))
    # Each rule evicts its own keys and never the one it is updating, so the
    # total may pass the budget by at most one key per rule.
    assert budget.used <= 20_000 + 2 * 300
    assert first.stats()["state_bytes"] + second.stats()["state_bytes"] == budget.used
    assert second.stats()["evictions"]["lru"] > 0


def test_state_size_is_reported_per_partial() -> None:
    r = rule(TWO_STEPS, keep_raw=False)
    r.process(batch(starts(1_000)))
    stats = r.stats()
    assert stats["partials"] == 1_000
    assert 50 < stats["bytes_per_partial"] <= 200
    assert stats["state_bytes"] == pytest.approx(stats["bytes_per_partial"] * 1_000)


def test_evidence_without_raw_json_keeps_sequence_numbers() -> None:
    r = rule(TWO_STEPS, keep_raw=False)
    (match,) = stream(r, [event(1, 0, "process"), event(2, 1, "file")], 10)
    assert match.events == [{"seq": 0, "timestamp": 0}, {"seq": 1, "timestamp": 1_000_000}]


@pytest.mark.parametrize("restore_shards", [1, 3])
def test_a_restored_engine_continues_its_pending_sequences(restore_shards) -> None:
    """Kill mid-stream, restore from the snapshot, and get the same alerts."""
    events = synthetic(4_000, entities=200)
    uninterrupted = seqs(stream(rule(THREE_STEPS, shards=2), events, 500))
    assert uninterrupted

    before = rule(THREE_STEPS, shards=2)
    found = []
    for start in range(0, 2_000, 500):
        found += before.process(batch_of(events[start : start + 500], start))
    assert before.stats()["partials"] > 0, "the snapshot should carry pending state"
    snapshot = before.snapshot()
    del before  # the process "dies" here

    after = rule(THREE_STEPS, shards=restore_shards)
    after.restore(snapshot)
    for start in range(2_000, 4_000, 500):
        found += after.process(batch_of(events[start : start + 500], start))
    found += after.flush()
    assert seqs(found) == uninterrupted


def batch_of(events: list[dict], first_seq: int) -> kestrel.EventBatch:
    return kestrel.EventBatch.from_dicts(events, schema=kestrel.Schema.default(), first_seq=first_seq)


def test_snapshots_refuse_garbage_and_other_rules() -> None:
    r = rule(TWO_STEPS)
    r.process(batch(starts(5)))
    good = r.snapshot()
    with pytest.raises(kestrel.KestrelError, match="not a Kestrel sequence snapshot"):
        r.restore(b"garbage!" * 4)
    with pytest.raises(kestrel.KestrelError, match="checksum mismatch"):
        r.restore(good[: len(good) // 2])
    with pytest.raises(kestrel.KestrelError, match="truncated"):
        r.restore(good[:6])
    # One edited byte (a timestamp, a key) would change what matches.
    edited = bytearray(good)
    edited[len(good) // 2] ^= 0x01
    with pytest.raises(kestrel.KestrelError, match="checksum mismatch"):
        r.restore(bytes(edited))
    with pytest.raises(kestrel.KestrelError, match="different rule"):
        rule("sequence by user.name [process where true] [file where true] [network where true]").restore(good)
    # A failed restore leaves the state as it was.
    assert r.stats()["partials"] == 5


def test_a_restore_into_a_smaller_budget_evicts_at_once() -> None:
    roomy = rule(TWO_STEPS)
    roomy.process(batch(starts(200)))
    snapshot = roomy.snapshot()
    tight = rule(TWO_STEPS, memory_budget=5_000, budget=StateBudget())
    tight.restore(snapshot)
    stats = tight.stats()
    assert stats["state_bytes"] <= 5_000 + 300
    assert stats["evictions"]["lru"] > 0


def test_inconsistent_match_lists_are_errors_not_crashes() -> None:
    r = rule(TWO_STEPS)
    b = batch(starts(3))
    with pytest.raises(kestrel.KestrelError, match="filter"):
        r.matcher.process(b, [[0]])
    with pytest.raises(kestrel.KestrelError, match="names event 7"):
        r.matcher.process(b, [[7], []])


def test_event_queries_are_not_sequence_rules() -> None:
    with pytest.raises(ValueError, match="not a sequence"):
        rule("process where true")


def test_an_idle_rule_leaves_later_steps_unevaluated_until_a_first_step_hits() -> None:
    r = rule("sequence by user.name [process where true] [network where true] until [file where true]")
    assert r.matcher.starting_filters == [0]
    # Nothing held, no first step in the batch: the network event cannot
    # complete anything, and is not even evaluated (no hit counted).
    assert r.matcher.is_idle()
    assert r.process(batch([event(1, 1000, "network")])) == []
    assert r.stats()["hits"] == 0
    # A first step and a later step in one batch: evaluated, matched.
    assert ids(r.process(batch([event(2, 2000, "process"), event(3, 3000, "network")], first_seq=1))) == [[2, 3]]
    # A partial held across batches keeps the rule busy: the next batch's
    # later step is evaluated although it has no first step.
    r.process(batch([event(4, 4000, "process")], first_seq=3))
    assert not r.matcher.is_idle()
    assert ids(r.process(batch([event(5, 5000, "network")], first_seq=4))) == [[4, 5]]


def test_a_rule_that_reorders_events_is_never_idle() -> None:
    r = rule("sequence by user.name [process where true] [network where true]", max_out_of_order_ms=2000)
    assert not r.matcher.is_idle()
    # The network event comes first but is later in time than the process
    # event of the next batch: reordered, they match.
    assert r.process(batch([event(2, 3000, "network")])) == []
    found = r.process(batch([event(1, 2000, "process"), event(9, 9000, "file")], first_seq=1)) + r.flush()
    assert ids(found) == [[1, 2]]


def test_leading_missing_steps_and_samples_start_state_from_every_filter_that_can() -> None:
    assert rule("sequence by user.name with maxspan=1s ![process where true] [network where true]").matcher.starting_filters == [
        0,
        1,
    ]
    assert rule("sample by user.name [process where true] [network where true]").matcher.starting_filters == [0, 1]
