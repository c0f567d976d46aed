"""Wall-clock timing: the best of several runs, per event.

The minimum, not the mean, is the figure: on a shared machine noise only
ever adds time, so the fastest run is the closest to the code's own cost.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional


def best_seconds(
    run: Callable[..., Any], *, repeats: int = 5, max_seconds: float = 2.0, setup: Optional[Callable[[], Any]] = None
) -> float:
    """The fastest of up to `repeats` calls of `run` (at least one; stops early past `max_seconds`).

    With `setup`, each call is `run(setup())`, the setup outside the timed region.
    """
    best = float("inf")
    spent = 0.0
    for _ in range(max(1, repeats)):
        arguments = () if setup is None else (setup(),)
        started = time.perf_counter()
        run(*arguments)
        elapsed = time.perf_counter() - started
        best = min(best, elapsed)
        spent += elapsed
        if spent >= max_seconds:
            break
    return best


def best_ns_per_event(run: Callable[[], Any], events: int, **kwargs: Any) -> float:
    """:func:`best_seconds` over `events` events, in ns/event."""
    return best_seconds(run, **kwargs) / max(events, 1) * 1e9


def events_per_second(ns_per_event: float) -> float:
    return 1e9 / ns_per_event if ns_per_event > 0 else float("inf")
