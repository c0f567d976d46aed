"""Rule packages: ``manifest.json`` + ``rule.wasm`` | ``rule.wat`` | ``predicate.lua`` | ``rule.eql``.

The manifest's id, name, version, severity, risk score, tags and threat
become the alert metadata; its categories index the rule. A ``rule.eql``
entry is compiled like a bare ``.eql`` file (so sequence packages run on the
sequence engine); code entries run on the runtime the manifest names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

from kestrel.engine.pipes import Stages, pipe_stages
from kestrel.engine.rule import EngineRule, LuaEvaluator, WasmEvaluator
from kestrel.engine.sources.common import LoadContext, LoadFailure, LoadReport, Skipped, fingerprint, rule_from_query
from kestrel.errors import KestrelError, RuleFileError
from kestrel.files import is_regular_file, read_bytes, read_text
from kestrel.packages.constants import PackageConstants, read_constants
from kestrel.packages.manifest import MANIFEST_FILE, load_manifest, package_file


def load_package(directory: Path, context: LoadContext, report: LoadReport) -> None:
    try:
        manifest = load_manifest(directory)
    except KestrelError as error:
        report.failures.append(LoadFailure(str(directory / MANIFEST_FILE), None, None, str(error)))
        return
    try:
        entry = package_file(directory, manifest.entry)
    except KestrelError as error:
        report.failures.append(LoadFailure(str(directory), None, None, str(error)))
        return
    if entry.suffix == ".eql" and manifest.runtime == "wasm":
        try:
            query = read_text(entry)
        except RuleFileError as error:
            report.failures.append(LoadFailure(str(entry), None, None, f"cannot read: {error.reason}"))
            return
        rule_from_query(
            context,
            report,
            rule_id=manifest.id,
            name=manifest.name,
            query=query,
            location=str(entry),
            metadata=dict(manifest.metadata),
            version=manifest.version,
            source="package",
            limits=manifest.limits,
        )
        return
    if manifest.kind != "event":
        report.skipped.append(Skipped(str(directory), f"{manifest.kind} packages run from a rule.eql entry only"))
        return
    if "max_samples_per_key" in manifest.limits:
        reason = "key 'max_samples_per_key': applies to sample rules only, not to an event rule"
        report.failures.append(LoadFailure(str(directory / MANIFEST_FILE), None, None, reason))
        return
    limits = {**manifest.limits, **context.limits}
    # Everything below reads the package's own files: any of them may be
    # broken, and that is this package's failure, never the directory's.
    try:
        digest = fingerprint("package", limits, *_package_files(directory))
        reused = context.reuse.get(digest)
        if reused is not None:
            report.rules.append(reused)
            return
        constants = read_constants(directory, manifest.runtime)
        evaluator = _lua(directory, context) if manifest.runtime == "lua" else _wasm(directory, manifest, context, constants)
        rule = EngineRule(
            manifest.id,
            manifest.name,
            manifest.kind,
            str(directory),
            evaluator,
            tuple(_categories(constants, manifest)),
            manifest.version,
            dict(manifest.metadata),
            digest,
            "package",
            pipes=_pipes(constants, limits.get("size")),
        )
    except KestrelError as error:
        report.failures.append(LoadFailure(str(directory), None, None, str(error)))
        return
    report.rules.append(rule)


def _package_files(directory: Path) -> List[Any]:
    """(name, contents) of every file of the package except its tests, for the fingerprint.

    Only regular files inside the package are read (see kestrel.files);
    anything else (a FIFO, a link leading out of the package) is
    fingerprinted by its name and kind, so it cannot block the load or be
    read, and the loader refuses it if it is a file it needs.
    """
    found = []
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if "tests" in relative.parts or path.is_dir():
            continue
        try:
            inside = is_regular_file(package_file(directory, str(relative)))
        except KestrelError:
            inside = False
        found += [str(relative), read_bytes(path) if inside else b"(not a regular file of the package)"]
    return found


def _pipes(constants: PackageConstants, size: "int | None") -> Stages:
    """A compiled EQL package's pipes (its IR keeps them), then `size`."""
    return pipe_stages(constants.pipes(), size)


def _categories(constants: PackageConstants, manifest: Any) -> List[str]:
    found = constants.filter_categories
    if found is not None:  # a compiled EQL package: one category per filter (None = any)
        return [] if None in found else sorted({c for c in found if c is not None})
    return list(manifest.categories)


def _lua(directory: Path, context: LoadContext) -> LuaEvaluator:
    from kestrel.runtime.lua import LuaLimits, load_lua_package

    config = context.config
    limits = LuaLimits(quarantine_after=config.quarantine_after, max_batch_seconds=config.rule_time_limit_ms / 1000)
    trust = config.trusts(directory)
    return LuaEvaluator(load_lua_package(directory, schema=context.schema, limits=limits, trust=trust))


def _wasm(directory: Path, manifest: Any, context: LoadContext, constants: PackageConstants) -> WasmEvaluator:
    ir = constants.ir  # compiled EQL packages carry their IR: the index can anchor them
    rule = wasm_rule(directory, manifest, context.schema, context.wasm_limits(), constants=constants)
    return WasmEvaluator(rule, json.dumps(ir) if ir else None)


def wasm_rule(
    directory: Path,
    manifest: Any,
    schema: Any,
    limits: "Dict[str, Any] | None" = None,
    *,
    constants: "PackageConstants | None" = None,
) -> Any:
    """A Wasm package loaded into a ``kestrel._core.WasmRule``.

    `constants` are the package's checked ``constants.json``
    (:func:`kestrel.packages.constants.read_constants`), read here when not given.

    Raises:
        KestrelError: a package file cannot be read or is malformed
            (RuleFileError, RulePackageError), or the module is refused.
    """
    from kestrel._core import WasmRule

    table = manifest.fields.paths
    fields = [table.get(i, "") for i in range(max(table, default=-1) + 1)]
    module = read_bytes(package_file(directory, manifest.entry))
    if constants is None:
        constants = read_constants(directory, "wasm")
    if constants.ir is not None:  # a compiled EQL package: its tables, filter categories and IR
        categories = list(constants.filter_categories or ())
        extra = dict(constants.tables.wasm_tables(), categories=categories, ir_json=json.dumps(constants.ir))
    else:
        # One declared category restricts the rule's events in the core; with
        # several, the module is offered every event and checks for itself.
        category = manifest.categories[0] if len(manifest.categories) == 1 else None
        extra = {"categories": [category]}
    return WasmRule(module, rule_id=manifest.id, schema=schema, fields=fields, **extra, **(limits or {}))
