"""A compiled rule as a generated Lua package: source, field table, constants, manifest."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict

from kestrel.compiler.compiled import CompiledRule
from kestrel.compiler.lua.codegen import LuaCodegen
from kestrel.compiler.lua.tables import PackageTables
from kestrel.packages.constants import HostConstants, PackageConstants, write_constants
from kestrel.packages.manifest import FieldTable, write_manifest


@dataclass(frozen=True)
class GeneratedLua:
    """What the Lua backend makes of one compiled rule."""

    source: str  #: the text of predicate.lua
    fields: FieldTable  #: local ids used by `source` -> field paths
    constants: HostConstants  #: the literal/glob/regex/set tables behind the ids in `source`
    ir: Dict[str, Any]  #: the IR document; `kestrel.eval_node` node ids index its "nodes"
    filters: int  #: number of pred_eval_<n> functions

    def manifest(self, rule_id: str, *, name: str = "", version: str = "1") -> Dict[str, Any]:
        """A manifest.json document for this package (runtime lua, trusted: generated code cannot loop)."""
        return {
            "id": rule_id,
            "name": name or rule_id,
            "version": version,
            "runtime": "lua",
            "kind": self.ir["rule"]["kind"],
            "entry": "predicate.lua",
            "schema": self.ir["schema"],
            "fields": {str(local): path for local, path in self.fields.paths.items()},
            "categories": self.ir["metadata"]["categories"],
            "trusted": True,
        }


def generate_package(compiled: CompiledRule) -> GeneratedLua:
    """Compile `compiled`'s IR to Lua, with the tables the code refers to."""
    document = compiled.ir_dict()
    tables = PackageTables(document)
    source = LuaCodegen(document, tables).program()
    filters = len(document["rule"]["steps"]) + (1 if document["rule"]["until"] else 0)
    return GeneratedLua(source, tables.field_table(), tables.constants(), document, filters)


def generate(compiled: CompiledRule) -> str:
    """The ``predicate.lua`` text for a compiled EQL rule."""
    return generate_package(compiled).source


def write_package(generated: GeneratedLua, directory: "str | os.PathLike[str]", rule_id: str) -> Path:
    """Write manifest.json, predicate.lua and constants.json (with the IR) into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_manifest(directory, generated.manifest(rule_id))
    (directory / "predicate.lua").write_text(generated.source, encoding="utf-8")
    write_constants(directory, PackageConstants(generated.constants, generated.ir))
    return directory
