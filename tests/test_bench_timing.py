"""The benchmarks' timing helper: how many calls it makes."""

import time

from kestrel.bench.timing import best_seconds


def _counted(pause: float = 0.0):
    calls = []

    def run() -> None:
        calls.append(None)
        if pause:
            time.sleep(pause)

    return run, calls


def test_short_calls_go_on_until_they_span_the_minimum() -> None:
    run, calls = _counted()
    best_seconds(run, repeats=5, min_seconds=0.02)
    assert len(calls) > 5


def test_long_calls_stop_at_the_repeats() -> None:
    run, calls = _counted(pause=0.01)
    assert best_seconds(run, repeats=3, min_seconds=0.0) >= 0.01
    assert len(calls) == 3


def test_the_maximum_stops_early() -> None:
    run, calls = _counted(pause=0.02)
    best_seconds(run, repeats=50, max_seconds=0.05)
    assert len(calls) < 50
