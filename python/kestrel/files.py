"""Reading rule files and package files: regular files only, never more than a limit.

Rules come from directories an operator may not fully control, and rule
directories are watched and reloaded. A FIFO named ``rule.eql`` would block a
plain ``open()`` until some writer appears (forever, for the watcher), and a
``manifest.json`` linked to ``/dev/zero`` would be read until memory runs
out. So every rule source, manifest, constants table, module and script,
and the engine's config file, is read here:

* the path must name a regular file (symlinks to one are fine), checked
  before opening and again on the open descriptor, which is opened
  non-blocking so that a file swapped for a FIFO in between cannot block;
* at most `limit` bytes are read (:data:`MAX_FILE_BYTES` by default); a
  larger file is refused, not truncated;
* any failure is a :class:`RuleFileError` naming the file.

Event input is not read here: a FIFO or stdin is a normal source of events
(see :mod:`kestrel.engine.reader`).
"""

from __future__ import annotations

import os
import stat
from typing import Union

from kestrel.errors import RuleFileError

#: The largest rule or package file read (a rule corpus, a Wasm module...).
MAX_FILE_BYTES = 64 << 20

PathLike = Union[str, "os.PathLike[str]"]

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)

# Opening never waits for a FIFO's writer nor makes a terminal ours; reads
# from a regular file ignore O_NONBLOCK.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


def read_bytes(path: PathLike, limit: int = MAX_FILE_BYTES) -> bytes:
    """The contents of the regular file `path`, at most `limit` bytes.

    Raises:
        RuleFileError: `path` is missing or unreadable, is not a regular
            file (a FIFO, a device, a directory...), or is larger than `limit`.
    """
    name = os.fspath(path)
    try:
        _require_regular(name, os.stat(name), limit)
        descriptor = os.open(name, _OPEN_FLAGS)
    except OSError as error:
        raise RuleFileError(name, error.strerror or str(error)) from None
    try:
        _require_regular(name, os.fstat(descriptor), limit)
        chunks = []
        size = 0
        while True:
            chunk = os.read(descriptor, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:  # the file grew since it was checked
                raise RuleFileError(name, _too_large(limit))
        return b"".join(chunks)
    except OSError as error:
        raise RuleFileError(name, error.strerror or str(error)) from None
    finally:
        os.close(descriptor)


def read_text(path: PathLike, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of the regular file `path` (see :func:`read_bytes`).

    Raises:
        RuleFileError: as :func:`read_bytes`, or the bytes are not UTF-8.
    """
    data = read_bytes(path, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RuleFileError(os.fspath(path), f"not UTF-8 text (invalid byte at offset {error.start})") from None


def is_regular_file(path: PathLike) -> bool:
    """Whether `path` names a regular file (following symlinks), without opening it."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _require_regular(name: str, info: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = next((what for test, what in _KINDS if test(info.st_mode)), None)
        raise RuleFileError(name, f"not a regular file ({kind})" if kind else "not a regular file")
    if info.st_size > limit:
        raise RuleFileError(name, _too_large(limit))


def _too_large(limit: int) -> str:
    return f"larger than {_size_text(limit)}, the limit for rule and package files"


def _size_text(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"
