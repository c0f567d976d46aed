"""Benchmark budgets: a maximum ns/event per benchmark, enforced whether or not timing is enabled.

Budgets live in benches/budgets.toml. Each benchmark measures its own
best-of-N ns/event with `kestrel.bench.timing.best_ns_per_event` and calls the `budget`
fixture with it, its match count and whether the matches equal a reference
(the Python interpreter, json.loads, the eql package); `extra_info` then
holds `ns_per_event`, `events_per_s`, `matches` and `agrees_with_reference`
for every benchmark, which scripts/bench_table.py reads. A figure over budget
fails the run with the benchmark, the budget and the measured value
(`kestrel.bench.budget.over_budget`, shared with `kestrel bench --budget-ns`).
The budgets are the issues' CI limits (1 µs per predicate), far above the
targets, so machine noise cannot trip them. Groups without a budget table
(ingest, compile, engine) record the same figures and are never failed.
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
    """`budget(ns_per_event, matches=, agrees_with_reference=, **extra)`: record the figures, fail if over budget."""

    def check(ns_per_event: float | None, *, matches: int | None, agrees_with_reference: bool | None, **extra) -> None:
        group = benchmark.group or "default"
        name = request.node.name
        benchmark.extra_info.update(
            ns_per_event=None if ns_per_event is None else round(ns_per_event, 2),
            events_per_s=None if not ns_per_event else round(1e9 / ns_per_event),
            matches=matches,
            agrees_with_reference=agrees_with_reference,
        )
        benchmark.extra_info.update(extra)
        if ns_per_event is None:
            return
        failure = over_budget(name, ns_per_event, budget_for(group, name), group=group)
        if failure is not None:
            pytest.fail(failure)

    return check
