"""The Wasm backend: compiled EQL → WAT text → validated Wasm binary.

`generate_wat(compiled)` gives the readable, deterministic module text;
`compile_wasm(compiled)` the validated binary. The module implements the
predicate ABI of rules/README.md against Host API v1.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from kestrel.compiler.wasm.codegen import WasmModuleSource, generate

if TYPE_CHECKING:
    from kestrel.compiler.compiled import CompiledRule

__all__ = ["WasmModuleSource", "generate_module", "generate_wat", "compile_wasm"]


def generate_module(compiled: "CompiledRule") -> WasmModuleSource:
    """The module source plus its field and literal tables."""
    return generate(json.loads(compiled.ir_json()))


def generate_wat(compiled: "CompiledRule") -> str:
    return generate_module(compiled).wat


def compile_wasm(compiled: "CompiledRule") -> bytes:
    """The validated binary module."""
    from kestrel._core import wat_to_wasm

    return wat_to_wasm(generate_wat(compiled))
