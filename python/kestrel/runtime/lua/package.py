"""Load a Lua rule package directory (``manifest.json`` + ``predicate.lua``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from kestrel import Schema
from kestrel.errors import RuleFileError
from kestrel.files import read_text
from kestrel.packages.constants import read_constants
from kestrel.packages.manifest import RulePackageError, load_manifest, package_file
from kestrel.runtime.lua.core_eval import attach_core_evaluator
from kestrel.runtime.lua.rule import LuaLimits, LuaRule


def load_lua_package(
    directory: "str | os.PathLike[str]",
    *,
    schema: Optional[Schema] = None,
    limits: Optional[LuaLimits] = None,
    debug: bool = False,
    vm: Optional[str] = None,
    trust: bool = False,
) -> LuaRule:
    """Validate the package's manifest and load its predicate.

    Raises:
        RulePackageError: the manifest is invalid, names another runtime, or
            its entry file is missing; LuaRuleError (a subclass) when the Lua
            code fails to load or ``pred_init`` fails.

    `vm` forces a lupa module ("lupa.luajit21" or the "lupa.lua54" fallback).

    `trust` is the caller's decision, never the package's: only with it does
    a manifest's ``"trusted": true`` take effect (JIT on, no instruction
    budget). Without it the package runs under the instruction watchdog
    whatever its manifest says, so a package cannot switch its own
    watchdog off. The engine passes it for packages under the operator's
    ``trusted_paths`` (``kestrel run --trust DIR``).
    """
    directory = Path(directory)
    manifest = load_manifest(directory)
    if manifest.runtime != "lua":
        raise RulePackageError(f"{manifest.source}: key 'runtime': is {manifest.runtime!r}, not a Lua package")
    entry = package_file(directory, manifest.entry)
    try:
        source = read_text(entry)
    except RuleFileError as error:
        raise RulePackageError(f"{entry}: cannot read the predicate: {error.reason}") from None
    if entry.suffix == ".eql":
        # An EQL package that chose the Lua runtime: compile it here.
        from kestrel.compiler import compile
        from kestrel.compiler.lua import generate_package

        schema = schema or Schema.default()
        return load_generated(generate_package(compile(source, schema=schema)), manifest.id, schema=schema, limits=limits, vm=vm)
    schema = schema or Schema.default()
    constants = read_constants(directory, "lua")
    ir = constants.ir
    return LuaRule(
        manifest.id,
        source,
        fields=manifest.fields,
        schema=schema,
        constants=constants.tables,
        trusted=trust and manifest.trusted,
        limits=limits,
        debug=debug,
        chunkname=manifest.entry,
        evaluator_hook=None if ir is None else (lambda context: attach_core_evaluator(context, ir, schema)),
        vm=vm,
    )


def load_generated(
    generated: Any, rule_id: str, *, schema: Optional[Schema] = None, limits: Optional[LuaLimits] = None, vm: Optional[str] = None
) -> LuaRule:
    """Run the output of the IR -> Lua backend (:class:`kestrel.compiler.lua.GeneratedLua`).

    Generated code has no loops or recursion, so it runs trusted: JIT on, no
    instruction budget (the memory cap and error quarantine still apply).
    """
    schema = schema or Schema.default()
    return LuaRule(
        rule_id,
        generated.source,
        fields=generated.fields,
        schema=schema,
        constants=generated.constants,
        trusted=True,
        limits=limits,
        evaluator_hook=lambda context: attach_core_evaluator(context, generated.ir, schema),
        vm=vm,
    )
