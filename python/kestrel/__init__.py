"""Kestrel: a detection engine for security telemetry.

EQL rules are compiled to WebAssembly (or Lua) predicates and evaluated by a
Rust core over columnar batches of ECS events.
"""

from kestrel._core import EventBatch, FieldInfo, HostContext, IngestErrorRecord, Matches, Schema, __core_version__
from kestrel.errors import IngestError, InternalError, IrError, KestrelError, PatternError, SchemaError, WasmRuleError
from kestrel.compiler import (
    CompiledRule,
    CompileOptions,
    EqlError,
    EqlSemanticError,
    EqlSyntaxError,
    compile,
    parse,
)

__all__ = [
    "CompileOptions",
    "CompiledRule",
    "EqlError",
    "EqlSemanticError",
    "EqlSyntaxError",
    "compile",
    "parse",
    "EventBatch",
    "FieldInfo",
    "HostContext",
    "IngestError",
    "IngestErrorRecord",
    "InternalError",
    "IrError",
    "KestrelError",
    "Matches",
    "PatternError",
    "Schema",
    "SchemaError",
    "WasmRuleError",
    "__core_version__",
]
