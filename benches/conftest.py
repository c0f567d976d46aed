"""Benchmark budgets: a maximum ns/event per benchmark, enforced whether or not timing is enabled.

Budgets live in benches/budgets.toml. Each benchmark measures its own
best-of-N ns/event with `workloads.best_ns_per_event` and calls the `budget`
fixture; a figure over budget fails the run with the benchmark, the budget
and the measured value. The budgets are the issues' CI limits (1 µs per
predicate), far above the targets, so machine noise cannot trip them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kestrel.bench.budget import over_budget

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BUDGETS = tomllib.loads((Path(__file__).parent / "budgets.toml").read_text())


def budget_for(group: str, name: str) -> float | None:
    table = BUDGETS.get(group, {})
    return table.get(name, table.get("default"))


@pytest.fixture
def budget(request, benchmark):
    """`budget(ns_per_event)`: record the figure in extra_info and fail if over budget."""

    def check(ns_per_event: float, **extra) -> None:
        group = benchmark.group or "default"
        name = request.node.name
        benchmark.extra_info["ns_per_event"] = round(ns_per_event, 2)
        benchmark.extra_info.update(extra)
        failure = over_budget(name, ns_per_event, budget_for(group, name), group=group)
        if failure is not None:
            pytest.fail(failure)

    return check
