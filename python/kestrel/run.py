"""The first cut of `kestrel run`, kept for `kestrel.bench`'s loaders; the
command itself now runs on :class:`kestrel.Engine` (``kestrel.engine``).

This was the first cut of the engine (issue: the engine users run): event
rules from `.eql` files, detection-rules `.toml` files and rule packages (Wasm
or Lua) are evaluated batch by batch, and every match becomes a JSON alert
carrying the original event. Sequence and sample rules are loaded, checked
and reported as skipped until the sequence engine lands.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, TextIO

import kestrel
from kestrel.compiler.sources import discover

#: Events decoded and evaluated together. Large enough to amortise the
#: per-batch calls, small enough to keep memory bounded on any file size.
BATCH_LINES = 16_384


@dataclass
class LoadedRule:
    id: str
    name: str
    runtime: str
    location: str
    #: batch -> [(event index, captures)]
    evaluate: Callable[[kestrel.EventBatch], list[tuple[int, dict[str, Any]]]]
    alerts: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class RuleSet:
    rules: list[LoadedRule] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  #: (location, reason)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _eql_rule(compiled: kestrel.CompiledRule, rule_id: str, name: str, location: str) -> LoadedRule:
    def evaluate(batch: kestrel.EventBatch) -> list[tuple[int, dict[str, Any]]]:
        return [(i, compiled.capture(batch, i)) for i in compiled.evaluate(batch)]

    return LoadedRule(rule_id, name, "wasm", location, evaluate)


def _wasm_package(directory: Path, manifest: Any, schema: kestrel.Schema) -> LoadedRule:
    from kestrel.engine.sources.package import wasm_rule

    rule = wasm_rule(directory, manifest, schema)

    def evaluate(batch: kestrel.EventBatch) -> list[tuple[int, dict[str, Any]]]:
        return [(i, rule.capture(batch, i)) for i in rule.evaluate(batch)]

    return LoadedRule(manifest.id, manifest.name, "wasm", str(directory), evaluate)


def _lua_package(directory: Path, manifest: Any, schema: kestrel.Schema) -> LoadedRule:
    from kestrel.runtime.lua import load_lua_package

    rule = load_lua_package(directory, schema=schema)

    def evaluate(batch: kestrel.EventBatch) -> list[tuple[int, dict[str, Any]]]:
        result = rule.evaluate(batch)
        if result.failure is not None:
            raise kestrel.KestrelError(str(result.failure))
        hits = sorted(set(result.events()) | set(result.emitted))
        return [(i, result.captures.get(i, {})) for i in hits]

    return LoadedRule(manifest.id, manifest.name, "lua", str(directory), evaluate)


def load_rules(paths: Iterable[str], schema: kestrel.Schema) -> RuleSet:
    """Every rule under `paths`; failures are collected, not raised."""
    from kestrel.packages.manifest import load_manifest

    out = RuleSet()
    loose: list[str] = []
    for raw in paths:
        path = Path(raw)
        packages = [p.parent for p in path.rglob("manifest.json")] if path.is_dir() else []
        for directory in sorted(packages):
            try:
                manifest = load_manifest(directory)
                loader = _lua_package if manifest.runtime == "lua" else _wasm_package
                out.rules.append(loader(directory, manifest, schema))
            except kestrel.KestrelError as error:
                out.failed.append((str(directory), str(error)))
        if path.is_dir():
            loose += [str(p) for p in sorted(path.rglob("*")) if p.suffix in (".eql", ".toml") and not any(p.is_relative_to(d) for d in packages)]
        else:
            loose.append(raw)
    for source in discover(loose):
        if source.problem is not None:
            out.skipped.append((source.location, source.problem))
            continue
        try:
            compiled = kestrel.compile(source.query, schema=schema)
        except kestrel.KestrelError as error:
            out.failed.append((source.location, str(error)))
            continue
        if compiled.kind != "event":
            out.skipped.append((source.location, f"{compiled.kind} rules need the sequence engine, not yet in this build"))
            continue
        name = Path(source.location.split(":")[0]).stem
        out.rules.append(_eql_rule(compiled, name, name, source.location))
    return out


def _chunks(path: Path, lines_per_batch: int) -> Iterator[tuple[bytes, int]]:
    """(ndjson bytes, first line number) of at most `lines_per_batch` lines."""
    stream = sys.stdin.buffer if str(path) == "-" else open(path, "rb")
    with stream:
        chunk: list[bytes] = []
        first = 1
        for number, line in enumerate(stream, start=1):
            chunk.append(line)
            if len(chunk) == lines_per_batch:
                yield b"".join(chunk), first
                chunk, first = [], number + 1
        if chunk:
            yield b"".join(chunk), first


def _iso(ns: Optional[int]) -> Optional[str]:
    if ns is None:
        return None
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def run(rule_paths: list[str], events: str, alerts_out: TextIO, report: TextIO) -> dict[str, Any]:
    """Evaluate every event rule over the events; write alerts; return the stats."""
    schema = kestrel.Schema.default()
    ruleset = load_rules(rule_paths, schema)
    stats: dict[str, Any] = {"events": 0, "dropped": 0, "problems": 0, "alerts": 0}
    problems: list[str] = []
    seq = 0
    for data, first_line in _chunks(Path(events), BATCH_LINES):
        batch = kestrel.EventBatch.from_ndjson(data, schema=schema, source=events, first_seq=seq)
        seq += len(batch)
        # Line numbers in error records are relative to the chunk; report them against the file.
        problems += [f"{events}:{e.line + first_line - 1}: {e.kind}: {e.message}" for e in batch.errors]
        stats["events"] += len(batch)
        stats["dropped"] += batch.dropped
        stats["problems"] += len(batch.errors)
        for rule in ruleset.rules:
            try:
                hits = rule.evaluate(batch)
            except kestrel.KestrelError as error:
                rule.errors.append(str(error))
                continue
            for index, captures in hits:
                alert = {
                    "@timestamp": _iso(batch.timestamp(index)),
                    "kind": "event",
                    "rule": {"id": rule.id, "name": rule.name, "runtime": rule.runtime},
                    "events": [json.loads(batch.raw(index))],
                    "captures": captures,
                }
                alerts_out.write(json.dumps(alert, ensure_ascii=False) + "\n")
            rule.alerts += len(hits)
            stats["alerts"] += len(hits)
    _summary(report, ruleset, stats, problems)
    stats["rules"] = {r.id: {"alerts": r.alerts, "runtime": r.runtime, "errors": len(r.errors)} for r in ruleset.rules}
    stats["failed_rules"] = len(ruleset.failed)
    stats["skipped_rules"] = len(ruleset.skipped)
    return stats


def _summary(out: TextIO, ruleset: RuleSet, stats: dict[str, Any], problems: list[str]) -> None:
    out.write(f"{'rule':44} {'runtime':8} {'alerts':>7} {'errors':>7}\n")
    for rule in sorted(ruleset.rules, key=lambda r: (-r.alerts, r.id)):
        out.write(f"{rule.id[:44]:44} {rule.runtime:8} {rule.alerts:7d} {len(rule.errors):7d}\n")
    for location, reason in ruleset.skipped:
        out.write(f"skipped {location}: {reason}\n")
    for location, reason in ruleset.failed:
        out.write(f"FAILED  {location}: {reason}\n")
    for line in problems[:20]:
        out.write(f"input   {line}\n")
    out.write(
        f"{stats['events']} events, {stats['dropped']} dropped, {stats['problems']} input problems; "
        f"{len(ruleset.rules)} rules loaded, {len(ruleset.skipped)} skipped, {len(ruleset.failed)} failed; "
        f"{stats['alerts']} alerts\n"
    )
