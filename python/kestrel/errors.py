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
    SnapshotError,
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


class EventInputError(EngineError):
    """The events could not be read to their end: no such file, a directory,
    a truncated or corrupt ``.gz``/``.zst`` file, text that is not Unicode,
    or a failed read.

    `source` names the input and `reason` says what went wrong. `offset` is
    the byte offset where reading stopped, when known (in the compressed
    bytes for ``.gz`` and ``.zst``); the events before it were processed.
    """

    def __init__(self, source: str, reason: str, offset: "int | None" = None) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason
        self.offset = offset

    def __reduce__(self):
        return (type(self), (self.source, self.reason, self.offset))


class SinkError(EngineError):
    """A sink failed to take a batch of alerts after its retries; the engine
    stopped taking input. `sink` names it, `undelivered` counts the alerts
    it did not get (``Engine.stats()["sinks"]`` keeps the totals)."""

    def __init__(self, sink: str, reason: str, undelivered: int) -> None:
        super().__init__(f"sink {sink}: {undelivered} alert(s) not delivered: {reason}; input stopped")
        self.sink = sink
        self.reason = reason
        self.undelivered = undelivered

    def __reduce__(self):
        return (type(self), (self.sink, self.reason, self.undelivered))


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
    "SnapshotError",
    "SinkError",
    "EngineError",
    "RuleLoadError",
    "RuleFileError",
    "EventInputError",
]
