"""`kestrel bench --rules`: ns/event for every rule of a rule set, per runtime, against a budget."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional

import kestrel
from kestrel.bench import table
from kestrel.bench.budget import over_budget
from kestrel.bench.events import Events
from kestrel.bench.targets import Target, TargetSet
from kestrel.bench.timing import best_seconds, events_per_second


@dataclass
class RuleResult:
    rule: str
    runtime: str
    kind: str
    location: str
    measured: str  #: "rule", or "filters" for a sequence/sample timed by its step filters
    ns_per_event: Optional[float] = None
    events_per_s: Optional[float] = None
    matches: int = 0
    error: Optional[str] = None
    over_budget: Optional[str] = None  #: the budget failure message, if any


def measure(target: Target, events: Events, *, repeats: int = 5, max_seconds: float = 2.0) -> RuleResult:
    """Best of `repeats` passes over every batch; the first (untimed) pass warms up and counts matches."""
    result = RuleResult(target.rule, target.runtime, target.kind, target.location, target.measured)
    try:
        result.matches = sum(target.run(batch) for batch in events.batches)  # warm-up: JIT traces, AOT cache

        def one_pass() -> None:
            for batch in events.batches:
                target.run(batch)

        seconds = best_seconds(one_pass, repeats=repeats, max_seconds=max_seconds)
    except kestrel.KestrelError as error:
        result.error = str(error).splitlines()[0]
        return result
    result.ns_per_event = seconds / max(events.count, 1) * 1e9
    result.events_per_s = events_per_second(result.ns_per_event)
    return result


def run(targets: TargetSet, events: Events, *, budget_ns: Optional[float] = None, repeats: int = 5) -> list[RuleResult]:
    """Measure every target; slowest first (errors last)."""
    results = [measure(t, events, repeats=repeats) for t in targets.targets]
    for r in results:
        if r.ns_per_event is not None:
            r.over_budget = over_budget(f"{r.rule} [{r.runtime}]", r.ns_per_event, budget_ns)
    return sorted(results, key=lambda r: (r.ns_per_event is None, -(r.ns_per_event or 0.0), r.rule, r.runtime))


def report(results: list[RuleResult], targets: TargetSet, events: Events, budget_ns: Optional[float]) -> str:
    rows = []
    for r in results:
        status = "ERROR" if r.error else ("OVER" if r.over_budget else "ok")
        kind = r.kind if r.measured == "rule" else f"{r.kind} (filters)"
        rows.append(
            [
                r.rule[:60],
                r.runtime,
                kind,
                table.ns(r.ns_per_event),
                table.rate(r.events_per_s or float("nan")),
                r.matches,
                status,
            ]
        )
    text = f"{len(results)} measurements on {events.description}"
    text += f"; budget {budget_ns:.0f} ns/event\n" if budget_ns is not None else "\n"
    text += table.render(
        ["rule", "runtime", "kind", "ns/event", "events/s", "matches", "budget"],
        rows,
        numeric=[False, False, False, True, True, True, False],
    )
    for r in results:
        if r.error:
            text += f"ERROR   {r.rule} [{r.runtime}]: {r.error}\n"
    for r in results:
        if r.over_budget:
            text += f"OVER BUDGET {r.over_budget}\n"
    if any(r.measured == "filters" for r in results):
        text += "sequence/sample rules: their step filters are timed; the sequence engine's own work is not included\n"
    for location, reason in targets.skipped:
        text += f"skipped {location}: {reason}\n"
    for location, reason in targets.failed:
        text += f"FAILED  {location}: {reason}\n"
    return text


def as_json(results: list[RuleResult], targets: TargetSet, events: Events, budget_ns: Optional[float]) -> dict[str, Any]:
    return {
        "events": events.count,
        "source": events.description,
        "budget_ns": budget_ns,
        "results": [asdict(r) for r in results],
        "over_budget": [r.over_budget for r in results if r.over_budget],
        "failed": [{"location": loc, "reason": why} for loc, why in targets.failed],
        "skipped": [{"location": loc, "reason": why} for loc, why in targets.skipped],
    }
