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


class RuleFileError(KestrelError):
    """A rule or package file could not be read: missing, unreadable, not a
    regular file (a FIFO, a device...), too large, or not UTF-8 text.

    `path` is the file and `reason` says why (without the path).
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot read {path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self):  # two arguments, so the default (args) would not rebuild it
        return (type(self), (self.path, self.reason))


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
    "RuleFileError",
]
