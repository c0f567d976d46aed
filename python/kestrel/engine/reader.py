"""Reading NDJSON events in bounded chunks: plain, ``.gz``, ``.zst``, or ``-`` for stdin.

Memory stays bounded whatever the file size: at most `lines` lines (and the
decoder's per-line cap) are held at once.
"""

from __future__ import annotations

import gzip
import io
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, NamedTuple

from kestrel.errors import EngineError


class Chunk(NamedTuple):
    data: bytes
    first_line: int  #: file line number of the chunk's first line
    offset: int  #: bytes of the input consumed after this chunk (uncompressed)


COMPRESSED_SUFFIXES = (".gz", ".zst")


def is_plain_file(path: str) -> bool:
    """Whether `path` is an uncompressed file the core can read itself."""
    return path != "-" and not path.endswith(COMPRESSED_SUFFIXES) and Path(path).is_file()


@contextmanager
def open_events(path: str) -> Iterator[BinaryIO]:
    """A binary stream of the (decompressed) events; ``-`` is stdin."""
    if path == "-":
        yield sys.stdin.buffer
        return
    if not Path(path).exists():
        raise EngineError(f"{path}: no such events file")
    if path.endswith(".gz"):
        stream: BinaryIO = gzip.open(path, "rb")  # type: ignore[assignment]
    elif path.endswith(".zst"):
        try:
            import zstandard
        except ModuleNotFoundError:
            raise EngineError(f"{path}: reading .zst needs the zstandard package (pip install zstandard)") from None
        raw = open(path, "rb")
        stream = io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, closefd=True))  # type: ignore[arg-type]
    else:
        stream = open(path, "rb")
    with stream:
        yield stream


def chunks(stream: BinaryIO, lines: int) -> Iterator[Chunk]:
    """Consecutive chunks of at most `lines` lines."""
    pending: list = []
    first = 1
    offset = 0
    for number, line in enumerate(stream, start=1):
        pending.append(line)
        offset += len(line)
        if len(pending) == lines:
            yield Chunk(b"".join(pending), first, offset)
            pending, first = [], number + 1
    if pending:
        yield Chunk(b"".join(pending), first, offset)
