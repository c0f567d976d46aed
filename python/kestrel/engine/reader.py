"""Reading NDJSON events in bounded chunks: plain, ``.gz``, ``.zst``, or ``-`` for stdin.

Memory stays bounded whatever the file size: at most `lines` lines (and the
decoder's per-line cap) are held at once.

Compressed files are decompressed here, block by block, so that damage is
noticed and placed: a file cut short (its last gzip member or zstd frame
has no end) or corrupt data (a failed CRC, an invalid block) ends the input
with an :class:`~kestrel.errors.EventInputError` giving the byte offset in
the compressed file. Every line decompressed before the damage is still
handed on first, so it is evaluated, and a cut final line reaches the
decoder like any other malformed line.
"""

from __future__ import annotations

import io
import os
import sys
import zlib
from contextlib import contextmanager
from typing import Any, BinaryIO, Callable, Iterator, NamedTuple, Optional

from kestrel.errors import EngineError, EventInputError


class Chunk(NamedTuple):
    data: bytes
    first_line: int  #: file line number of the chunk's first line
    offset: int  #: bytes of the input consumed after this chunk (uncompressed)


COMPRESSED_SUFFIXES = (".gz", ".zst")

#: Compressed bytes handed to the decompressor at a time: zstd has no output
#: limit per call, so a small input slice is what bounds one call's output.
_SLICE = 16 << 10
#: Most bytes one gzip decompression call may return.
_MAX_OUTPUT = 1 << 20


def is_plain_file(path: str) -> bool:
    """Whether `path` is an uncompressed file the core can read itself."""
    return path != "-" and not path.endswith(COMPRESSED_SUFFIXES) and os.path.isfile(path)


@contextmanager
def open_events(path: str) -> Iterator[BinaryIO]:
    """A binary stream of the (decompressed) events; ``-`` is stdin.

    Raises:
        EventInputError: `path` does not exist, is a directory, or cannot
            be opened.
        EngineError: a ``.zst`` file without the zstandard package.
    """
    if path == "-":
        yield sys.stdin.buffer
        return
    if os.path.isdir(path):
        raise EventInputError(path, "is a directory, not an events file")
    if not os.path.exists(path):
        raise EventInputError(path, "no such events file")
    new_decoder: Optional[Callable[[], Any]] = None
    if path.endswith(".gz"):
        new_decoder = _GzipMember
    elif path.endswith(".zst"):
        try:
            import zstandard
        except ModuleNotFoundError:
            raise EngineError(f"{path}: reading .zst needs the zstandard package (pip install zstandard)") from None
        new_decoder = lambda: _ZstdFrame(zstandard)  # noqa: E731
    try:
        raw = open(path, "rb")
    except OSError as error:
        raise EventInputError(path, f"cannot open: {error.strerror or error}") from None
    with raw:
        if new_decoder is None:
            yield raw
        else:
            kind = "gzip" if new_decoder is _GzipMember else "zstd"
            yield io.BufferedReader(_Decompressed(raw, path, kind, new_decoder), 1 << 16)


def chunks(stream: BinaryIO, lines: int) -> Iterator[Chunk]:
    """Consecutive chunks of at most `lines` lines.

    Raises:
        EventInputError: after the last chunk, when the input was damaged
            (see the module docstring) or could not be read to its end.
    """
    pending: list = []
    first = 1
    offset = 0
    number = 0
    try:
        for number, line in enumerate(stream, start=1):
            pending.append(line)
            offset += len(line)
            if len(pending) == lines:
                yield Chunk(b"".join(pending), first, offset)
                pending, first = [], number + 1
    except OSError as error:
        failure: Optional[EventInputError] = EventInputError(
            getattr(stream, "name", "<events>"), f"read failed after line {number}: {error.strerror or error}")
    else:
        failure = getattr(getattr(stream, "raw", stream), "damage", None)
    if pending:
        yield Chunk(b"".join(pending), first, offset)
    if failure is not None:
        raise failure


class _GzipMember:
    """One gzip member through zlib (which checks the header, CRC and length)."""

    kind = "gzip"
    errors = (zlib.error,)

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(wbits=31)

    def feed(self, data: bytes) -> bytes:
        return self._inflate.decompress(data, _MAX_OUTPUT)

    def more(self) -> bytes:
        """Output still held back by the output limit (empty when none)."""
        tail = self._inflate.unconsumed_tail
        return self._inflate.decompress(tail, _MAX_OUTPUT) if tail else b""

    def salvage(self) -> bytes:
        """What can still be decompressed of a member cut short."""
        return self._inflate.flush()

    @property
    def eof(self) -> bool:
        return self._inflate.eof

    @property
    def unused(self) -> bytes:
        return self._inflate.unused_data


class _ZstdFrame:
    """One zstd frame."""

    kind = "zstd"

    def __init__(self, zstandard: Any) -> None:
        self._frame = zstandard.ZstdDecompressor().decompressobj()
        self.errors = (zstandard.ZstdError,)

    def feed(self, data: bytes) -> bytes:
        return self._frame.decompress(data)

    def more(self) -> bytes:
        return b""

    def salvage(self) -> bytes:
        return b""

    @property
    def eof(self) -> bool:
        return self._frame.eof

    @property
    def unused(self) -> bytes:
        return self._frame.unused_data


class _Decompressed(io.RawIOBase):
    """The decompressed bytes of a gzip or zstd file, as a raw stream.

    Concatenated members (gzip) and frames (zstd) are read one after the
    other. Damage is not raised from `readinto`: the stream ends there and
    keeps it in :attr:`damage`, so the lines before it (and a cut last line)
    are read out first; :func:`chunks` raises it after the last chunk.
    """

    def __init__(self, raw: BinaryIO, path: str, kind: str, new_decoder: Callable[[], Any]) -> None:
        super().__init__()
        self.name = path
        self._kind = kind
        self.damage: Optional[EventInputError] = None
        self._raw = raw
        self._new = new_decoder
        self._decoder: Optional[Any] = None  # the member or frame being read, once it has input
        self._input = b""  # compressed bytes read but not yet fed
        self._consumed = 0  # compressed bytes fed to decoders so far
        self._output = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._output and not self._done:
            self._step()
        size = min(len(buffer), len(self._output))
        buffer[:size] = self._output[:size]
        self._output = self._output[size:]
        return size

    def _step(self) -> None:
        decoder = self._decoder
        if decoder is not None:
            held = self._guard(decoder.more)
            if held:
                self._output = held
                return
            if decoder.eof:
                # The member or frame ended: what follows it starts the next one.
                self._input = decoder.unused + self._input
                self._consumed -= len(decoder.unused)
                self._decoder = decoder = None
        if not self._input:
            self._input = self._raw.read(_SLICE)
            if not self._input:
                self._finish()
                return
        if decoder is None:
            if self._kind == "gzip":
                stripped = self._input.lstrip(b"\0")  # gzip files may be padded with zeros
                self._consumed += len(self._input) - len(stripped)
                self._input = stripped
                if not self._input:
                    return
            self._decoder = decoder = self._new()
        data, self._input = self._input[:_SLICE], self._input[_SLICE:]
        start = self._consumed
        self._consumed += len(data)
        self._output = self._guard(lambda: decoder.feed(data), start)

    def _guard(self, call: Callable[[], bytes], start: Optional[int] = None) -> bytes:
        decoder = self._decoder
        try:
            return call()
        except decoder.errors as error:
            where = self._consumed if start is None else start
            self._fail(f"corrupt {decoder.kind} data at byte {where:,} or in the {_SLICE >> 10} KiB after it: {error}", where)
            return b""

    def _finish(self) -> None:
        decoder = self._decoder
        if decoder is not None and not decoder.eof:
            where = self._consumed
            self._output = self._guard(decoder.salvage)
            self._fail(f"the {decoder.kind} data is cut short: the file ends at byte {where:,}, inside a {_unit(decoder.kind)}", where)
            return
        self._done = True

    def _fail(self, reason: str, offset: int) -> None:
        if self.damage is None:
            self.damage = EventInputError(self.name, reason, offset=offset)
        self._done = True
        self._input = b""


def _unit(kind: str) -> str:
    return "member" if kind == "gzip" else "frame"
