"""Write a compiled EQL rule as a Wasm rule package (see rules/README.md).

The package holds `manifest.json`, `rule.wasm` and `constants.json`: the
literal, glob, regex and set tables the module's ids index, the category of
each filter, and the IR itself, which the core's evaluator needs for the
subtrees the module hands over with `eval_node`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from kestrel.compiler.wasm import compile_wasm, generate_module
from kestrel.packages.constants import HostConstants, PackageConstants, write_constants
from kestrel.packages.manifest import write_manifest

if TYPE_CHECKING:
    from kestrel.compiler.compiled import CompiledRule


def write_package(compiled: "CompiledRule", directory: "str | os.PathLike[str]", rule_id: str, *, name: str = "") -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    document = compiled.ir_dict()
    source = generate_module(compiled)
    manifest = {
        "id": rule_id,
        "name": name or rule_id,
        "version": "1",
        "runtime": "wasm",
        "kind": compiled.kind,
        "entry": "rule.wasm",
        "schema": document["schema"],
        "fields": {str(local): path for local, (path, _) in enumerate(source.fields, start=1)},
        "categories": list(compiled.categories),
    }
    tables = HostConstants.from_ir(document, source.literals)
    write_manifest(directory, manifest)
    (directory / "rule.wasm").write_bytes(compile_wasm(compiled))
    write_constants(directory, PackageConstants(tables, document, tuple(source.categories)))
    return directory
