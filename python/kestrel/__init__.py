"""Kestrel: a detection engine for security telemetry.

EQL rules are compiled to WebAssembly (or Lua) predicates and evaluated by a
Rust core over columnar batches of ECS events.
"""

from kestrel._core import EventBatch, FieldInfo, HostContext, IngestErrorRecord, Matches, Schema, __core_version__
from kestrel.compiler import (
    CompiledRule,
    CompileOptions,
    EqlError,
    EqlSemanticError,
    EqlSyntaxError,
    compile,
    parse,
)
from kestrel.engine import Engine
from kestrel.errors import (
    EngineError,
    EventInputError,
    IngestError,
    InternalError,
    IrError,
    KestrelError,
    PatternError,
    RuleFileError,
    RuleLoadError,
    SchemaError,
    SinkError,
    SnapshotError,
    WasmRuleError,
)

__all__ = [
    "CompileOptions",
    "CompiledRule",
    "EqlError",
    "EqlSemanticError",
    "EqlSyntaxError",
    "compile",
    "parse",
    "Engine",
    "EngineError",
    "EventBatch",
    "EventInputError",
    "FieldInfo",
    "HostContext",
    "IngestError",
    "IngestErrorRecord",
    "InternalError",
    "IrError",
    "KestrelError",
    "Matches",
    "PatternError",
    "RuleFileError",
    "RuleLoadError",
    "Schema",
    "SchemaError",
    "SinkError",
    "SnapshotError",
    "WasmRuleError",
    "__core_version__",
]
