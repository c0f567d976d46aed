"""A rule set as benchmark targets: one per rule and runtime.

Rules come from the same places as `kestrel run`'s (`.eql`, detection-rules
`.toml`, `.jsonl` corpora, rule packages with a `manifest.json`). An EQL rule
becomes one target per runtime asked for (its Wasm module and its generated
Lua); a rule package runs on the runtime its manifest names. Sequence and
sample rules are timed by their step filters (every step, then `until`),
the per-event work they do before the sequence engine sees an event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import kestrel
from kestrel.engine.sources import RuleSource, discover
from kestrel.packages.manifest import MANIFEST_FILE

RUNTIMES = ("wasm", "lua")


@dataclass
class Target:
    """One rule on one runtime. `run(batch)` evaluates it and returns its match count."""

    rule: str
    runtime: str
    kind: str
    location: str
    run: Callable[[kestrel.EventBatch], int]
    #: "filters" when a sequence/sample rule is timed by its step filters alone.
    measured: str = "rule"


@dataclass
class TargetSet:
    targets: list[Target] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  #: (location, reason)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _wasm_target(compiled, rule_id: str, location: str, schema: kestrel.Schema) -> Target:
    from kestrel.runtime.wasm import WasmPredicate

    predicate = WasmPredicate.from_compiled(compiled, schema, rule_id=rule_id)
    filters = range(len(compiled.ir.rule.steps) + (compiled.ir.rule.until is not None))

    def run(batch: kestrel.EventBatch) -> int:
        return sum(len(predicate.evaluate(batch, f)) for f in filters)

    return Target(rule_id, "wasm", compiled.kind, location, run, "rule" if compiled.kind == "event" else "filters")


def _lua_target(compiled, rule_id: str, location: str, schema: kestrel.Schema) -> Target:
    from kestrel.compiler.lua import generate_package
    from kestrel.runtime.lua import load_generated

    generated = generate_package(compiled)
    rule = load_generated(generated, rule_id, schema=schema)
    filters = tuple(range(generated.filters))

    def run(batch: kestrel.EventBatch) -> int:
        result = rule.evaluate(batch, filters)
        if result.failure is not None:
            raise kestrel.KestrelError(str(result.failure))
        return sum(len(events) for events in result.matches.values())

    return Target(rule_id, "lua", compiled.kind, location, run, "rule" if compiled.kind == "event" else "filters")


def _package_targets(directories: list[Path], schema: kestrel.Schema, runtimes: Sequence[str], out: TargetSet) -> None:
    # The engine's package loader, so a package is timed exactly as `kestrel
    # run` runs it (captures of each match included).
    from kestrel.engine.config import EngineConfig
    from kestrel.engine.sources import LoadContext, LoadReport
    from kestrel.engine.sources.package import load_package

    report = LoadReport()
    context = LoadContext(schema, EngineConfig())
    for directory in directories:
        load_package(directory, context, report)
    out.failed += [(failure.location, failure.reason) for failure in report.failures]
    out.skipped += [(skipped.location, skipped.reason) for skipped in report.skipped]
    for rule in report.rules:
        if rule.runtime in runtimes:
            out.targets.append(Target(rule.id, rule.runtime, rule.kind, rule.location, _counting(rule.evaluator)))


def _counting(evaluator: Any) -> Callable[[kestrel.EventBatch], int]:
    """A target's measured call: the rule's matches on a batch, counted."""
    return lambda batch: len(evaluator.evaluate(batch))


def rule_name(source: RuleSource) -> str:
    """A short, unique-enough name: the corpus name of a .jsonl line, else the file's stem."""
    return source.name if source.kind == "jsonl" else Path(source.file or source.location).stem


def _packages(paths: Iterable[str]) -> list[Path]:
    """The rule package directories (with a manifest.json) at or under `paths`."""
    return sorted({m.parent for raw in paths if Path(raw).is_dir() for m in Path(raw).rglob(MANIFEST_FILE)})


def load(paths: Iterable[str], schema: kestrel.Schema, runtimes: Sequence[str] = RUNTIMES) -> TargetSet:
    """Every rule under `paths`, on each of `runtimes`; failures are collected, not raised."""
    out = TargetSet()
    paths = list(paths)
    packages = _packages(paths)
    _package_targets(packages, schema, runtimes, out)
    makers = {"wasm": _wasm_target, "lua": _lua_target}
    for source in discover(paths):
        if any(Path(source.file or source.location).is_relative_to(d) for d in packages):
            continue  # a package's own files (an .eql entry, its tests) are the package's
        if source.problem is not None or source.skipped is not None:
            out.skipped.append((source.label, source.problem or source.skipped or ""))
            continue
        try:
            compiled = kestrel.compile(source.query, schema=schema)
        except kestrel.KestrelError as error:
            out.failed.append((source.location, str(error)))
            continue
        for runtime in runtimes:
            try:
                out.targets.append(makers[runtime](compiled, rule_name(source), source.location, schema))
            except kestrel.KestrelError as error:
                out.failed.append((f"{source.location} [{runtime}]", str(error)))
    return out
