"""Where alerts go. A sink takes the alerts of one batch at a time, as an
:class:`~kestrel.engine.alerts.AlertBlock`: ``block.data`` is the JSON
lines as UTF-8 bytes (rendered by the core, never parsed on the way),
``block.docs()`` the parsed dicts. Lines are written as bytes where the
stream allows it.

* :class:`StdoutSink` -- JSON lines on stdout (or any text stream);
* :class:`FileSink` -- JSON lines appended to a file, flushed after every batch;
* :class:`CallbackSink` -- a Python function called with each alert;
* :class:`ElasticsearchBulkSink` -- Elasticsearch ``_bulk`` NDJSON (an action
  line, then the alert), to a file or stream, ready for
  ``curl -H 'Content-Type: application/x-ndjson' --data-binary @alerts.bulk .../_bulk``.

The engine calls ``write`` under one lock, so sinks need no locking of their own.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable, Dict, Optional, TextIO

from kestrel.engine.alerts import AlertBlock
from kestrel.errors import EngineError


def _prefixed(block: AlertBlock, prefix: bytes) -> bytes:
    """The block's lines, each after `prefix` (a JSON line never holds a raw newline)."""
    if not block.data:
        return b""
    return prefix + block.data[:-1].replace(b"\n", b"\n" + prefix) + b"\n"


def _write(stream: Any, data: bytes) -> None:
    """Write UTF-8 `data` to a text stream, through its binary buffer when it has one."""
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        stream.write(data.decode())
        stream.flush()
        return
    stream.flush()  # text already written must come first
    buffer.write(data)
    buffer.flush()


class Sink:
    def write(self, alerts: AlertBlock) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Flush and release; the engine calls it from ``Engine.close``."""


class StdoutSink(Sink):
    def __init__(self, stream: Optional[TextIO] = None) -> None:
        self.stream = stream

    def write(self, alerts: AlertBlock) -> None:
        stream = self.stream or sys.stdout  # looked up late: tests and callers may swap sys.stdout
        _write(stream, alerts.data)


def _append(path: "str | os.PathLike[str]", buffering: int = -1) -> Any:
    """`path` opened for appending alerts; an EngineError naming it if it cannot be."""
    try:
        return open(path, "ab", buffering=buffering)
    except OSError as error:
        raise EngineError(f"{os.fspath(path)}: cannot open for alerts: {error.strerror or error}") from None


class _AlertFile:
    """A file opened for appending alerts, unbuffered, whose retried writes resume.

    Nothing waits in a buffer, so a failed write leaves nothing for a retry
    to repeat or for close() to fail on; and a retry of the block that
    failed part-way goes on where it stopped, so no alert is written twice.
    """

    def __init__(self, path: str) -> None:
        self._file = _append(path, buffering=0)
        self._block: Optional[AlertBlock] = None
        self._written = 0

    def write(self, block: AlertBlock, data: bytes) -> None:
        if block is not self._block:
            self._block, self._written = block, 0
        view = memoryview(data)
        while self._written < len(view):
            self._written += self._file.write(view[self._written :])
        self._block = None

    def close(self) -> None:
        self._file.close()


class FileSink(Sink):
    """Append JSON lines to `path`, each batch's alerts in one unbuffered write.

    Raises:
        EngineError: `path` cannot be opened (a missing directory, no permission...).
    """

    def __init__(self, path: "str | os.PathLike[str]") -> None:
        self.path = os.fspath(path)
        self._file = _AlertFile(self.path)

    def write(self, alerts: AlertBlock) -> None:
        self._file.write(alerts, alerts.data)

    def close(self) -> None:
        self._file.close()


class CallbackSink(Sink):
    """Calls `callback` with each alert as a dict."""

    def __init__(self, callback: Callable[[Dict[str, Any]], Any]) -> None:
        self.callback = callback

    def write(self, alerts: AlertBlock) -> None:
        for doc in alerts.docs():
            self.callback(doc)


class ElasticsearchBulkSink(Sink):
    """Bulk-API NDJSON: ``{"create": {"_index": index}}`` then the alert, per alert.

    `target` is a path (appended to) or a text stream. ``create`` suits data
    streams (the default index name is one); use ``action="index"`` for plain
    indices.
    """

    def __init__(
        self, target: "str | os.PathLike[str] | TextIO", index: str = "logs-kestrel.alerts-default", action: str = "create"
    ) -> None:
        self._owned = isinstance(target, (str, os.PathLike))
        self._stream: Any = _AlertFile(os.fspath(target)) if isinstance(target, (str, os.PathLike)) else target
        self._action = json.dumps({action: {"_index": index}}).encode() + b"\n"

    def write(self, alerts: AlertBlock) -> None:
        data = _prefixed(alerts, self._action)
        if self._owned:
            self._stream.write(alerts, data)
        else:
            _write(self._stream, data)

    def close(self) -> None:
        if self._owned:
            self._stream.close()


def as_sink(target: Any) -> Sink:
    """A sink from a Sink, a callable, a stream, or a path (``.bulk`` -> Elasticsearch bulk)."""
    if isinstance(target, Sink):
        return target
    if callable(target):
        return CallbackSink(target)
    if hasattr(target, "write"):
        return StdoutSink(target)
    if os.fspath(target).endswith(".bulk"):
        return ElasticsearchBulkSink(target)
    return FileSink(target)
