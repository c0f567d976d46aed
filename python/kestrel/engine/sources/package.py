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

from kestrel.engine.pipes import Stages, pipe_stages
from kestrel.engine.rule import EngineRule, LuaEvaluator, WasmEvaluator
from kestrel.engine.sources.common import LoadContext, LoadFailure, LoadReport, Skipped, fingerprint, rule_from_query
from kestrel.errors import KestrelError, RuleFileError
from kestrel.files import is_regular_file, read_bytes, read_text

MANIFEST = "manifest.json"
CONSTANTS = "constants.json"


def load_package(directory: Path, context: LoadContext, report: LoadReport) -> None:
    from kestrel.packages.manifest import load_manifest, package_file

    try:
        manifest = load_manifest(directory)
    except KestrelError as error:
        report.failures.append(LoadFailure(str(directory / MANIFEST), None, None, str(error)))
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
        report.failures.append(LoadFailure(str(directory / MANIFEST), None, None, reason))
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
        constants = package_constants(directory, manifest.runtime)
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


def _package_files(directory: Path) -> list:
    """(name, contents) of every file of the package except its tests, for the fingerprint.

    Only regular files inside the package are read (see kestrel.files);
    anything else (a FIFO, a link leading out of the package) is
    fingerprinted by its name and kind, so it cannot block the load or be
    read, and the loader refuses it if it is a file it needs.
    """
    from kestrel.packages.manifest import package_file

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


def package_constants(directory: Path, runtime: str = "wasm") -> Dict[str, Any]:
    """The package's ``constants.json``, decoded and checked, or {} when it has none.

    Checked here is what the engine itself reads: a JSON object, its IR (an
    object, whose pipes the engine applies) and its filter categories. A
    Wasm package's constants are those of compiled EQL, so they need the IR
    and the host tables in the form ``kestrel compile`` writes; a Lua
    package's tables are checked by :mod:`kestrel.packages.constants`.

    Raises:
        RulePackageError: the file cannot be read, is not JSON, or a key is
            missing or of the wrong shape (the message names the file and key).
    """
    from kestrel.packages.constants import read_constants_document
    from kestrel.packages.manifest import RulePackageError

    path = directory / CONSTANTS
    if not path.exists():
        return {}
    document = read_constants_document(path)

    def fail(key: "str | None", message: str) -> RulePackageError:
        return RulePackageError(f"{path}: " + (f"key {key!r}: " if key else "") + message)

    if not isinstance(document, dict):
        raise fail(None, "must be a JSON object")
    if runtime == "wasm" and "ir" not in document:
        raise fail("ir", "is required: a Wasm package's constants.json is written by `kestrel compile`, with the rule's IR")
    ir = document.get("ir", {})
    rule = ir.get("rule", {}) if isinstance(ir, dict) else None
    if not isinstance(rule, dict):
        raise fail("ir", "must be an IR document (an object with a `rule` object)")
    pipes = rule.get("pipes", [])
    if not isinstance(pipes, list) or not all(
        isinstance(p, dict) and p.get("op") in ("head", "tail") and _whole(p.get("count"), 1) for p in pipes
    ):
        raise fail("ir.rule.pipes", 'must be a list of {"op": "head" or "tail", "count": a whole number >= 1}')
    categories = document.get("filter_categories", [])
    if not isinstance(categories, list) or not all(c is None or isinstance(c, str) for c in categories):
        raise fail("filter_categories", "must be a list of category names (or null for any)")
    if runtime == "wasm":
        if not _strings(document.get("literals", [])):
            raise fail("literals", "must be a list of strings")
        for key in ("globs", "regexes", "sets"):
            table = document.get(key, [])
            if not isinstance(table, list) or not all(
                isinstance(e, list) and len(e) == 2 and _strings(e[0]) and isinstance(e[1], bool) for e in table
            ):
                raise fail(key, "must be a list of [list of strings, case-insensitive flag] pairs")
    return document


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _whole(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _pipes(constants: Dict[str, Any], size: "int | None") -> Stages:
    """A compiled EQL package's pipes (its IR keeps them), then `size`."""
    pipes = (constants.get("ir") or {}).get("rule", {}).get("pipes", [])
    return pipe_stages(((pipe["op"], pipe["count"]) for pipe in pipes), size)


def _categories(constants: Dict[str, Any], manifest: Any) -> list:
    if "filter_categories" in constants:  # a compiled EQL package: one category per filter (None = any)
        found = constants["filter_categories"]
        return [] if None in found else sorted(set(found))
    return list(manifest.categories)


def _lua(directory: Path, context: LoadContext) -> LuaEvaluator:
    from kestrel.runtime.lua import LuaLimits, load_lua_package

    config = context.config
    limits = LuaLimits(quarantine_after=config.quarantine_after, max_batch_seconds=config.rule_time_limit_ms / 1000)
    trust = config.trusts(directory)
    return LuaEvaluator(load_lua_package(directory, schema=context.schema, limits=limits, trust=trust))


def _wasm(directory: Path, manifest: Any, context: LoadContext, constants: Dict[str, Any]) -> WasmEvaluator:
    ir = constants.get("ir")  # compiled EQL packages carry their IR: the index can anchor them
    rule = wasm_rule(directory, manifest, context.schema, context.wasm_limits(), constants=constants)
    return WasmEvaluator(rule, json.dumps(ir) if ir else None)


def wasm_rule(
    directory: Path,
    manifest: Any,
    schema: Any,
    limits: "Dict[str, Any] | None" = None,
    *,
    constants: "Dict[str, Any] | None" = None,
) -> Any:
    """A Wasm package loaded into a ``kestrel._core.WasmRule``.

    `constants` are the package's checked ``constants.json``
    (:func:`package_constants`), read here when not given.

    Raises:
        KestrelError: a package file cannot be read or is malformed
            (RuleFileError, RulePackageError), or the module is refused.
    """
    from kestrel._core import WasmRule
    from kestrel.packages.manifest import package_file

    table = manifest.fields.paths
    fields = [table.get(i, "") for i in range(max(table, default=-1) + 1)]
    module = read_bytes(package_file(directory, manifest.entry))
    if constants is None:
        constants = package_constants(directory, "wasm")
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
