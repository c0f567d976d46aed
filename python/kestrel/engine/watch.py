"""A watched rules directory: reload the engine when its rule files change.

The watcher polls: every `interval` seconds it takes the size and
modification time of every file under the engine's rule paths, and when
that snapshot differs from the last one it calls :meth:`Engine.reload`.
Polling rather than inotify, because it behaves the same on every platform
and filesystem (network mounts, container bind mounts) and rule trees are
small enough that a stat per file every few seconds costs nothing.

A reload compiles the new set beside the running one and swaps it in
between batches only if every rule loads, so a half-written or broken file
leaves the old rules running; the failure is handed to `on_reload` and
kept in ``engine.last_reload``, even when the reload raised rather than
reported it. The next change is tried again. Rule files are read only if
they are regular files (:mod:`kestrel.files`), so a FIFO dropped into a
watched directory fails that reload instead of blocking the watcher.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

if TYPE_CHECKING:
    from kestrel.engine.engine import Engine, ReloadResult

#: (size, mtime in ns) per file.
Snapshot = Dict[str, Tuple[int, int]]


class RuleWatcher:
    """Reloads `engine` when a file under its rule paths changes (see the module docstring)."""

    def __init__(
        self, engine: "Engine", interval: float = 2.0, on_reload: Optional[Callable[["ReloadResult"], Any]] = None
    ) -> None:
        if interval <= 0:
            raise ValueError("the watch interval must be positive")
        self.engine = engine
        self.interval = interval
        self.on_reload = on_reload
        self.reloads = 0
        self.failed_reloads = 0
        self.last_error: Optional[str] = None
        self._last = self.snapshot()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def snapshot(self) -> Snapshot:
        """Size and modification time of every file under the engine's rule paths."""
        found: Snapshot = {}
        for target in self.engine.rule_paths():
            if target.is_dir():
                for directory, _, files in os.walk(target):
                    for name in files:
                        _stat_into(found, Path(directory) / name)
            else:
                _stat_into(found, target)
        return found

    def poll(self) -> Optional["ReloadResult"]:
        """Reload if anything changed since the last poll; the reload's result, or None.

        Every reload's result goes to `on_reload`, a failed one included: a
        reload that raised instead of reporting is handed on as a failed
        result saying what it raised (and kept in :attr:`last_error`).
        """
        from kestrel.engine.engine import ReloadResult

        current = self.snapshot()
        if current == self._last:
            return None
        self._last = current
        try:
            result = self.engine.reload()
        except Exception as error:  # reported below, like any failed reload
            self.last_error = _describe(error)
            where = ", ".join(str(path) for path in self.engine.rule_paths()) or "<rules>"
            result = ReloadResult.failed(where, f"the reload raised {self.last_error}")
            self.engine.last_reload = result
        if result.ok:
            self.reloads += 1
        else:
            self.failed_reloads += 1
        if self.on_reload is not None:
            self.on_reload(result)
        return result

    def start(self) -> "RuleWatcher":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="kestrel-rule-watcher", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception as error:  # a watcher must outlive a failing snapshot or callback
                self.last_error = _describe(error)


def _describe(error: BaseException) -> str:
    detail = str(error)
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


def _stat_into(found: Snapshot, path: Path) -> None:
    try:
        stat = path.stat()
    except OSError:  # removed between listing and stat: the next poll sees it gone
        return
    found[str(path)] = (stat.st_size, stat.st_mtime_ns)
