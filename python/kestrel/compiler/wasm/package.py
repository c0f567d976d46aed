"""Write a compiled EQL rule as a Wasm rule package (see rules/README.md).

The package holds `manifest.json`, `rule.wasm` and `constants.json`: the
literal, glob, regex and set tables the module's ids index, the category of
each filter, and the IR itself, which the core's evaluator needs for the
subtrees the module hands over with `eval_node`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kestrel.compiler.wasm import compile_wasm, generate_module

if TYPE_CHECKING:
    from kestrel.compiler.compiled import CompiledRule

CONSTANTS_FILE = "constants.json"


def host_tables(document: dict[str, Any], literals: list[str]) -> dict[str, Any]:
    """The constant tables as `kestrel._core.WasmRule` takes them, from an IR document."""
    return {
        "literals": literals,
        "globs": [(g["patterns"], g["case_insensitive"]) for g in document["globs"]],
        "regexes": [(r["translated"], r["case_insensitive"]) for r in document["regexes"]],
        # Only all-string sets are looked up by the host; the others are
        # evaluated in the core and keep their slot so ids line up.
        "sets": [
            (s["values"] if all(t == "string" for t in s["types"]) else [], s["case_insensitive"]) for s in document["sets"]
        ],
    }


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
    constants = dict(host_tables(document, source.literals), filter_categories=source.categories, ir=document)
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    (directory / "rule.wasm").write_bytes(compile_wasm(compiled))
    (directory / CONSTANTS_FILE).write_text(json.dumps(constants, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return directory
