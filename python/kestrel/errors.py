"""Kestrel's exception hierarchy.

Every error Kestrel raises derives from :class:`KestrelError`. The Rust core
defines the root and its native subclasses (mapped in one place,
``ext/src/errors.rs``); the compiler's diagnostics subclass it in Python, and
the engine's errors are defined here.
"""

from kestrel._core import (
    IngestError,
    InternalError,
    IrError,
    KestrelError,
    PatternError,
    SchemaError,
    SequenceError,
    WasmRuleError,
)


class EngineError(KestrelError):
    """The engine was misconfigured or its input could not be read."""


class RuleLoadError(EngineError):
    """Rules failed to load in strict mode, or a reload was refused.

    `failures` holds the :class:`kestrel.engine.sources.LoadFailure` records
    (file, line, column, reason) behind the error.
    """

    def __init__(self, message: str, failures: "list | None" = None) -> None:
        super().__init__(message)
        self.failures = list(failures or [])


__all__ = [
    "KestrelError",
    "SchemaError",
    "IngestError",
    "PatternError",
    "InternalError",
    "IrError",
    "WasmRuleError",
    "SequenceError",
    "EngineError",
    "RuleLoadError",
]
