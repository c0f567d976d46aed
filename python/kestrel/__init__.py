"""Kestrel: a detection engine for security telemetry.

EQL rules are compiled to WebAssembly (or Lua) predicates and evaluated by a
Rust core over columnar batches of ECS events.
"""

from kestrel._core import EventBatch, FieldInfo, Schema, __core_version__
from kestrel.errors import IngestError, KestrelError, SchemaError

__all__ = [
    "EventBatch",
    "FieldInfo",
    "IngestError",
    "KestrelError",
    "Schema",
    "SchemaError",
    "__core_version__",
]
