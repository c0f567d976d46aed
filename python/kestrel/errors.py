"""Kestrel's exception hierarchy.

Every error Kestrel raises derives from :class:`KestrelError`. The Rust core
defines the root and its native subclasses (mapped in one place,
``ext/src/errors.rs``); the compiler's diagnostics subclass it in Python.
"""

from kestrel._core import (
    IngestError,
    InternalError,
    IrError,
    KestrelError,
    PatternError,
    SchemaError,
    WasmRuleError,
)

__all__ = ["KestrelError", "SchemaError", "IngestError", "PatternError", "InternalError", "IrError", "WasmRuleError"]
