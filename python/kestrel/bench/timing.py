"""Wall-clock timing: the best of several runs, per event.

The minimum, not the mean, is the figure: on a shared machine noise only
ever adds time, so the fastest run is the closest to the code's own cost.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional


def best_seconds(
    run: Callable[..., Any],
    *,
    repeats: int = 5,
    max_seconds: float = 2.0,
    min_seconds: float = 0.05,
    setup: Optional[Callable[[], Any]] = None,
) -> float:
    """The fastest of at least `repeats` calls of `run` (at least one), going
    on while they have taken less than `min_seconds` in all, and stopping
    early past `max_seconds`.

    A call of a few microseconds fits inside one moment when the machine is
    busy elsewhere; five of them can all land in it. Calling it until the
    calls span `min_seconds` gives the minimum a chance to be quiet.

    With `setup`, each call is `run(setup())`, the setup outside the timed region.
    """
    best = float("inf")
    spent = 0.0
    calls = 0
    while calls < max(1, repeats) or spent < min_seconds:
        arguments = () if setup is None else (setup(),)
        started = time.perf_counter()
        run(*arguments)
        elapsed = time.perf_counter() - started
        best = min(best, elapsed)
        spent += elapsed
        calls += 1
        if spent >= max_seconds:
            break
    return best


def best_ns_per_event(run: Callable[[], Any], events: int, **kwargs: Any) -> float:
    """:func:`best_seconds` over `events` events, in ns/event."""
    return best_seconds(run, **kwargs) / max(events, 1) * 1e9


def events_per_second(ns_per_event: float) -> float:
    return 1e9 / ns_per_event if ns_per_event > 0 else float("inf")
