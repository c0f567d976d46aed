"""Rule packages: ``manifest.json`` + ``rule.wasm`` | ``rule.wat`` | ``predicate.lua`` | ``rule.eql``.

The manifest's id, name, version, severity, risk score, tags and threat
become the alert metadata; its categories index the rule. A ``rule.eql``
entry is compiled like a bare ``.eql`` file (so sequence packages run on the
sequence engine); code entries run on the runtime the manifest names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

from kestrel.engine.pipes import PipeState
from kestrel.engine.rule import EngineRule, LuaEvaluator, WasmEvaluator
from kestrel.engine.sources.common import LoadContext, LoadFailure, LoadReport, Skipped, fingerprint, rule_from_query
from kestrel.errors import KestrelError

MANIFEST = "manifest.json"


def load_package(directory: Path, context: LoadContext, report: LoadReport) -> None:
    from kestrel.packages.manifest import load_manifest

    try:
        manifest = load_manifest(directory)
    except KestrelError as error:
        report.failures.append(LoadFailure(str(directory / MANIFEST), None, None, str(error)))
        return
    entry = directory / manifest.entry
    if entry.suffix == ".eql" and manifest.runtime == "wasm":
        try:
            query = entry.read_text(encoding="utf-8")
        except OSError as error:
            report.failures.append(LoadFailure(str(entry), None, None, f"cannot read: {error.strerror or error}"))
            return
        rule_from_query(
            context, report, rule_id=manifest.id, name=manifest.name, query=query, location=str(entry),
            metadata=dict(manifest.metadata), version=manifest.version, source="package", limits=manifest.limits,
        )
        return
    if manifest.kind != "event":
        report.skipped.append(Skipped(str(directory), f"{manifest.kind} packages run from a rule.eql entry only"))
        return
    if "max_samples_per_key" in manifest.limits:
        reason = "key 'max_samples_per_key': applies to sample rules only, not to an event rule"
        report.failures.append(LoadFailure(str(directory / MANIFEST), None, None, reason))
        return
    limits = {**manifest.limits, **context.limits}
    digest = fingerprint("package", limits, *_package_files(directory))
    reused = context.reuse.get(digest)
    if reused is not None:
        report.rules.append(reused)
        return
    try:
        evaluator = _lua(directory, context) if manifest.runtime == "lua" else _wasm(directory, manifest, context)
    except (KestrelError, OSError) as error:
        report.failures.append(LoadFailure(str(directory), None, None, str(error)))
        return
    report.rules.append(
        EngineRule(
            manifest.id, manifest.name, manifest.kind, str(directory), evaluator, tuple(_categories(directory, manifest)),
            manifest.version, dict(manifest.metadata), digest, "package", pipes=_pipes(directory, limits.get("size")),
        )
    )


def _package_files(directory: Path) -> list:
    """(name, bytes) of every file of the package except its tests, for the fingerprint."""
    files = [p for p in sorted(directory.rglob("*")) if p.is_file() and "tests" not in p.relative_to(directory).parts]
    return [item for p in files for item in (str(p.relative_to(directory)), p.read_bytes())]


def _pipes(directory: Path, size: "int | None") -> "PipeState | None":
    """A compiled EQL package's pipes (its IR keeps them), then `size`."""
    ir = _constants(directory).get("ir") or {}
    pipes = ir.get("rule", {}).get("pipes", [])
    return PipeState.of(((pipe["op"], pipe["count"]) for pipe in pipes), size)


def _constants(directory: Path) -> Dict[str, Any]:
    path = directory / "constants.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _categories(directory: Path, manifest: Any) -> list:
    constants = _constants(directory)
    if "filter_categories" in constants:  # a compiled EQL package: one category per filter (None = any)
        found = constants["filter_categories"]
        return [] if None in found else sorted(set(found))
    return list(manifest.categories)


def _lua(directory: Path, context: LoadContext) -> LuaEvaluator:
    from kestrel.runtime.lua import LuaLimits, load_lua_package

    limits = LuaLimits(quarantine_after=context.config.quarantine_after)
    return LuaEvaluator(load_lua_package(directory, schema=context.schema, limits=limits))


def _wasm(directory: Path, manifest: Any, context: LoadContext) -> WasmEvaluator:
    ir = _constants(directory).get("ir")  # compiled EQL packages carry their IR: the index can anchor them
    return WasmEvaluator(wasm_rule(directory, manifest, context.schema, context.wasm_limits()), json.dumps(ir) if ir else None)


def wasm_rule(directory: Path, manifest: Any, schema: Any, limits: "Dict[str, Any] | None" = None) -> Any:
    """A Wasm package loaded into a ``kestrel._core.WasmRule``."""
    from kestrel._core import WasmRule

    table = manifest.fields.paths
    fields = [table.get(i, "") for i in range(max(table, default=-1) + 1)]
    module = (directory / manifest.entry).read_bytes()
    constants = _constants(directory)
    if constants:  # a compiled EQL package: its tables, filter categories and IR
        # JSON turned the (patterns, case_insensitive) pairs into lists.
        tables = {k: [tuple(entry) for entry in constants.get(k, [])] for k in ("globs", "regexes", "sets")}
        tables["literals"] = constants.get("literals", [])
        extra = dict(tables, categories=constants.get("filter_categories", []), ir_json=json.dumps(constants["ir"]))
    else:
        # One declared category restricts the rule's events in the core; with
        # several, the module is offered every event and checks for itself.
        category = manifest.categories[0] if len(manifest.categories) == 1 else None
        extra = {"categories": [category]}
    return WasmRule(module, rule_id=manifest.id, schema=schema, fields=fields, **extra, **(limits or {}))
