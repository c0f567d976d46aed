"""The sequence engine's streaming behaviour: windows, keys, until, runs,
missing steps, samples, ordering, and determinism across shards."""

from __future__ import annotations

import pytest

from sequence.helpers import THREE_STEPS, batch, event, ids, rule, seqs, stream, synthetic


def test_a_trailing_missing_step_waits_for_its_window() -> None:
    r = rule("sequence by user.name with maxspan=10s [process where true] ![file where true]")
    assert r.process(batch([event(1, 1_000, "process")])) == []
    # Still inside the window: no alert yet, however long we wait in wall time.
    assert r.process(batch([event(2, 5_000, "network")], first_seq=1)) == []
    # An event past the window (11 s > 1 s + 10 s) closes it.
    assert ids(r.process(batch([event(3, 11_001, "network")], first_seq=2))) == [[1, None]]


def test_a_trailing_missing_event_within_the_window_suppresses_the_alert() -> None:
    r = rule("sequence by user.name with maxspan=10s [process where true] ![file where true]")
    found = stream(r, [event(1, 1_000, "process"), event(2, 9_000, "file"), event(3, 30_000, "network")], 1)
    assert found == []
    assert r.stats()["rejected_missing"] == 1


def test_flush_closes_trailing_windows_at_end_of_stream() -> None:
    r = rule("sequence by user.name with maxspan=10s [process where true] ![file where true]")
    assert r.process(batch([event(1, 1_000, "process")])) == []
    assert ids(r.flush()) == [[1, None]]


def test_maxspan_is_inclusive_and_measured_from_the_first_event() -> None:
    query = "sequence by user.name with maxspan=2s [process where true] [file where true] [network where true]"
    inside = [event(1, 0, "process"), event(2, 1_500, "file"), event(3, 2_000, "network")]
    outside = [event(1, 0, "process"), event(2, 1_500, "file"), event(3, 2_001, "network")]
    assert ids(stream(rule(query), inside, 10)) == [[1, 2, 3]]
    r = rule(query)
    assert ids(stream(r, outside, 10)) == []
    assert r.stats()["rejected_maxspan"] == 1


def test_keys_are_positional_and_null_keys_do_not_join_unless_optional() -> None:
    query = "sequence [process where true] by user.name [file where true] by user.name"
    events = [event(1, 0, "process", key=None), event(2, 1, "file", key=None)]
    r = rule(query)
    assert ids(stream(r, events, 10)) == []
    assert r.stats()["null_keys"] == 2
    optional = "sequence [process where true] by ?user.name [file where true] by ?user.name"
    assert ids(stream(rule(optional), events, 10)) == [[1, 2]]


def test_join_keys_are_reported() -> None:
    r = rule("sequence by user.name [process where true] [file where true]")
    (match,) = stream(r, [event(1, 0, "process", key="alice"), event(2, 1, "file", key="alice")], 10)
    assert match.join_keys == ["alice"]
    assert match.first_timestamp == 0 and match.last_timestamp == 1_000_000
    assert match.kind == "sequence"


def test_until_discards_the_keys_pending_partials_and_is_counted() -> None:
    query = "sequence by user.name [process where true] [file where true] until [network where true]"
    events = [
        event(1, 0, "process"),
        event(2, 1, "network"),
        event(3, 2, "file"),
        event(4, 3, "process", key="k2"),
        event(5, 4, "network"),
        event(6, 5, "file", key="k2"),
    ]
    r = rule(query)
    assert ids(stream(r, events, 2)) == [[4, 6]]
    assert r.stats()["evictions"]["until"] == 1


def test_runs_repeat_a_step() -> None:
    r = rule("sequence by user.name [process where true] with runs=3 [file where true]")
    events = [event(i, i, "process") for i in range(1, 4)] + [event(4, 4, "file")]
    assert ids(stream(r, events, 10)) == [[1, 2, 3, 4]]


def test_a_newer_partial_overwrites_an_older_one_in_the_same_state() -> None:
    r = rule("sequence by user.name [process where true] [file where true]")
    assert ids(stream(r, [event(1, 0, "process"), event(2, 1, "process"), event(3, 2, "file")], 10)) == [[2, 3]]
    assert r.stats()["replaced"] == 1


def test_sample_takes_one_distinct_event_per_filter_once_per_key() -> None:
    r = rule("sample by user.name [process where true] [file where true]")
    events = [
        event(1, 0, "file"),
        event(2, 1, "file"),
        event(3, 2, "process"),
        event(4, 3, "process"),
        event(5, 4, "file"),
        event(6, 5, "process", key="k2"),
        event(7, 6, "file", key="k2"),
    ]
    found = stream(r, events, 3)
    assert ids(found) == [[3, 1], [6, 7]]
    assert {m.kind for m in found} == {"sample"}


def test_max_samples_per_key_is_configurable() -> None:
    r = rule("sample by user.name [process where true] [file where true]", max_samples_per_key=2)
    events = [event(i, i, "process" if i % 2 else "file") for i in range(1, 9)]
    assert len(stream(r, events, 10)) == 2


def test_out_of_order_events_within_the_bound_are_reordered() -> None:
    query = "sequence by user.name [process where true] [file where true]"
    events = [event(1, 2_000, "file"), event(2, 1_000, "process"), event(3, 9_000, "network")]
    assert ids(stream(rule(query), events, 1)) == []
    r = rule(query, max_out_of_order_ms=5_000)
    assert ids(stream(r, events, 1)) == [[2, 1]]
    assert r.stats()["late"] == 0


def test_events_later_than_the_bound_are_counted_as_late() -> None:
    r = rule("sequence by user.name [process where true] [file where true]", max_out_of_order_ms=1_000)
    events = [event(1, 10_000, "process"), event(2, 20_000, "network"), event(3, 5_000, "file")]
    stream(r, events, 1)
    assert r.stats()["late"] == 1


def test_untimed_events_are_counted() -> None:
    r = rule("sequence by user.name [process where true] [file where true]")
    no_time = event(1, 0, "process")
    del no_time["@timestamp"]
    stream(r, [no_time], 1)
    assert r.stats()["untimed"] == 1


@pytest.mark.parametrize("shards", [2, 4])
def test_results_do_not_depend_on_the_shard_count(shards) -> None:
    events = synthetic(6_000, entities=300)
    reference = seqs(stream(rule(THREE_STEPS), events, 1_000))
    assert reference, "the stream should produce sequences"
    assert seqs(stream(rule(THREE_STEPS, shards=shards), events, 1_000)) == reference


def test_batch_boundaries_do_not_change_results() -> None:
    events = synthetic(3_000, entities=100)
    assert seqs(stream(rule(THREE_STEPS), events, 7)) == seqs(stream(rule(THREE_STEPS), events, 3_000))


def test_captures_come_from_the_rules_fields() -> None:
    r = rule('sequence by user.name [process where process.name == "a.exe"] [file where true]')
    events = [event(1, 0, "process", process={"name": "a.exe"}), event(2, 1, "file", file={"name": "x"})]
    (match,) = stream(r, events, 10)
    assert match.captures[0]["process.name"] == "a.exe"
    assert match.captures[0]["user.name"] == "k1"
