"""`kestrel bench --diff OLD.json NEW.json`: regressions between two pytest-benchmark runs.

The files are pytest-benchmark's JSON (`--benchmark-json` or
`--benchmark-autosave`). Benchmarks are matched by `fullname`; each is
compared on its median time, or, when a file has no timing (a run with
`--benchmark-disable`), on the `ns_per_event` its `extra_info` records. A
benchmark is a regression when the new figure is more than `threshold`
percent above the old one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from kestrel.bench import table


@dataclass
class Change:
    name: str
    metric: str
    old: float
    new: float

    @property
    def percent(self) -> float:
        return (self.new / self.old - 1.0) * 100.0 if self.old else float("inf")


def _figures(document: dict[str, Any]) -> dict[str, tuple[str, float]]:
    out: dict[str, tuple[str, float]] = {}
    for bench in document.get("benchmarks", []):
        name = bench.get("fullname") or bench["name"]
        stats = bench.get("stats") or {}
        if stats.get("median") is not None:
            out[name] = ("median", float(stats["median"]))
        elif (bench.get("extra_info") or {}).get("ns_per_event") is not None:
            out[name] = ("ns_per_event", float(bench["extra_info"]["ns_per_event"]))
    return out


def read(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def compare(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[Change], list[str], list[str]]:
    """(changes of the benchmarks in both, names only in old, names only in new)."""
    before, after = _figures(old), _figures(new)
    changes = []
    for name in sorted(before.keys() & after.keys()):
        (metric_old, a), (metric_new, b) = before[name], after[name]
        if metric_old == metric_new:
            changes.append(Change(name, metric_old, a, b))
    return changes, sorted(before.keys() - after.keys()), sorted(after.keys() - before.keys())


def regressions(changes: list[Change], threshold: float) -> list[Change]:
    return [c for c in changes if c.percent > threshold]


def _figure(change: Change, value: float) -> str:
    if change.metric == "median":
        return f"{value * 1e6:,.1f} µs"
    return f"{table.ns(value)} ns/event"


def report(changes: list[Change], removed: list[str], added: list[str], threshold: float, *, old: str = "", new: str = "") -> str:
    worse = regressions(changes, threshold)
    rows = [
        [c.name, _figure(c, c.old), _figure(c, c.new), f"{c.percent:+.1f}%", "REGRESSION" if c in worse else ""]
        for c in sorted(changes, key=lambda c: -c.percent)
    ]
    text = f"{old} -> {new}: {len(changes)} benchmarks compared, threshold {threshold:g}%\n" if old else ""
    text += table.render(["benchmark", "old", "new", "change", ""], rows, numeric=[False, True, True, True, False])
    for name in removed:
        text += f"only in old: {name}\n"
    for name in added:
        text += f"only in new: {name}\n"
    for c in worse:
        text += f"REGRESSION {c.name}: {_figure(c, c.old)} -> {_figure(c, c.new)} ({c.percent:+.1f}%, threshold {threshold:g}%)\n"
    return text


def diff(old_path: str, new_path: str, threshold: float) -> tuple[str, int, Optional[list[Change]]]:
    """(report, number of regressions, changes)."""
    changes, removed, added = compare(read(old_path), read(new_path))
    return report(changes, removed, added, threshold, old=old_path, new=new_path), len(regressions(changes, threshold)), changes
