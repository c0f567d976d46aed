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
from typing import Any, BinaryIO, Callable, Iterator, List, NamedTuple, Optional

from kestrel.errors import EngineError, EventInputError


class Chunk(NamedTuple):
    data: bytes
    first_line: int  #: file line number of the chunk's first line
    offset: int  #: bytes of the input consumed after this chunk (uncompressed)


COMPRESSED_SUFFIXES = (".gz", ".zst")
#: Compressed bytes decompressed in one call. zstd's decoder takes no output
#: limit, and a few of its bytes can stand for a whole 128 KiB block, so a
#: small slice is what bounds one call's output; it also bounds how far
#: from the damage a zstd error can be placed.
_SLICE = 4 << 10


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
            yield io.BufferedReader(_Decompressed(raw, path, new_decoder), 1 << 16)


#: The decoder's line limit: a longer line is never held whole here either.
MAX_LINE_BYTES = 16 << 20


def _lines(stream: BinaryIO, limit: int) -> Iterator["tuple[bytes, int]"]:
    """(line, bytes it took in the input) for each line, holding at most
    `limit` + 1 bytes of any: the rest of a longer line is read and dropped
    up to its newline, and what is kept still reaches the decoder, which
    reports the line as too long at its number."""
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        size = len(line)
        if len(line) > limit and not line.endswith(b"\n"):
            while True:
                rest = stream.readline(1 << 20)
                size += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
            line += b"\n"
        yield line, size


def chunks(stream: BinaryIO, lines: int, max_line: int = MAX_LINE_BYTES) -> Iterator[Chunk]:
    """Consecutive chunks of at most `lines` lines, no line held past `max_line` bytes.

    Raises:
        EventInputError: after the last chunk, when the input was damaged
            (see the module docstring) or could not be read to its end.
    """
    pending: List[Any] = []
    first = 1
    offset = 0
    number = 0
    try:
        for number, (line, size) in enumerate(_lines(stream, max_line), start=1):
            pending.append(line)
            offset += size
            if len(pending) == lines:
                yield Chunk(b"".join(pending), first, offset)
                pending, first = [], number + 1
    except OSError as error:
        failure: Optional[EventInputError] = EventInputError(
            getattr(stream, "name", "<events>"), f"read failed after line {number}: {error.strerror or error}"
        )
    else:
        failure = getattr(getattr(stream, "raw", stream), "damage", None)
    if pending:
        yield Chunk(b"".join(pending), first, offset)
    if failure is not None:
        raise failure


class _Damage(Exception):
    """A decoder found damage: `offset` is the byte of its input slice where it
    did, and `output` what that slice decompressed to before it."""

    def __init__(self, detail: str, offset: int, output: bytes = b"") -> None:
        super().__init__(detail)
        self.detail, self.offset, self.output = detail, offset, output


class _GzipMember:
    """One gzip member through zlib (which checks the header, CRC and length).

    Deflate expands a byte at most about a thousandfold, so one slice of
    input gives at most a few MiB of output.
    """

    kind = "gzip"

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(wbits=31)

    def feed(self, data: bytes) -> bytes:
        saved = self._inflate.copy()
        try:
            return self._inflate.decompress(data)
        except zlib.error as error:
            output, offset = _replay(saved, data)
            raise _Damage(str(error), offset, output) from None

    def salvage(self) -> bytes:
        """What can still be decompressed of a member cut short."""
        try:
            return self._inflate.flush()
        except zlib.error:
            return b""

    @property
    def eof(self) -> bool:
        return self._inflate.eof

    @property
    def unused(self) -> bytes:
        return self._inflate.unused_data


def _replay(inflate: Any, data: bytes) -> "tuple[bytes, int]":
    """The output of `data` up to the damage, and the damage's offset in it.

    Only on the error path: the slice is fed again a byte at a time, from
    the state before it, so the damage is placed exactly and nothing
    decompressed before it is lost.
    """
    pieces = []
    for index in range(len(data)):
        try:
            pieces.append(inflate.decompress(data[index : index + 1]))
        except zlib.error:
            return b"".join(pieces), index
    return b"".join(pieces), len(data)


class _ZstdFrame:
    """One zstd frame.

    It has no state to replay from, so damage is placed to within one
    slice, and what that slice held before the damage (at most the end of
    one good block) is lost with it.
    """

    kind = "zstd"

    def __init__(self, zstandard: Any) -> None:
        self._frame = zstandard.ZstdDecompressor().decompressobj()
        self._error = zstandard.ZstdError

    def feed(self, data: bytes) -> bytes:
        try:
            return bytes(self._frame.decompress(data))
        except self._error as error:
            raise _Damage(str(error), 0) from None

    def salvage(self) -> bytes:
        return b""

    @property
    def eof(self) -> bool:
        return bool(self._frame.eof)

    @property
    def unused(self) -> bytes:
        return bytes(self._frame.unused_data)


class _Decompressed(io.RawIOBase):
    """The decompressed bytes of a gzip or zstd file, as a raw stream.

    Concatenated members (gzip) and frames (zstd) are read one after the
    other. Damage is not raised from `readinto`: the stream ends there and
    keeps it in :attr:`damage`, so the lines before it (and a cut last line)
    are read out first; :func:`chunks` raises it after the last chunk.
    """

    def __init__(self, raw: BinaryIO, path: str, new_decoder: Callable[[], Any]) -> None:
        super().__init__()
        self.name = path
        self.damage: Optional[EventInputError] = None
        self._raw = raw
        self._new = new_decoder
        self._decoder: Optional[Any] = None  # the member or frame being read, once it has input
        self._input = b""  # compressed bytes read but not yet fed
        self._consumed = 0  # compressed bytes fed to decoders so far
        self._output = b""
        self._taken = 0  # bytes of _output already handed out
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._taken == len(self._output) and not self._done:
            self._output, self._taken = b"", 0
            self._step()
        size = min(len(buffer), len(self._output) - self._taken)
        buffer[:size] = memoryview(self._output)[self._taken : self._taken + size]
        self._taken += size
        return size

    def _step(self) -> None:
        decoder = self._decoder
        if decoder is not None and decoder.eof:
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
            decoder = self._new()
            if decoder.kind == "gzip":
                stripped = self._input.lstrip(b"\0")  # gzip files may be padded with zeros
                self._consumed += len(self._input) - len(stripped)
                self._input = stripped
                if not self._input:
                    return
            self._decoder = decoder
        data, self._input = self._input[:_SLICE], self._input[_SLICE:]
        start = self._consumed
        self._consumed += len(data)
        try:
            self._output = decoder.feed(data)
        except _Damage as damage:
            self._output = damage.output
            where = start + damage.offset
            near = "" if decoder.kind == "gzip" else f" or in the {_SLICE >> 10} KiB after it"
            self._fail(f"corrupt {decoder.kind} data, detected at byte {where:,}{near}: {damage.detail}", where)

    def _finish(self) -> None:
        decoder = self._decoder
        if decoder is not None and not decoder.eof:
            where = self._consumed
            self._output = decoder.salvage()
            unit = "member" if decoder.kind == "gzip" else "frame"
            self._fail(f"the {decoder.kind} data is cut short: the file ends at byte {where:,}, inside a {unit}", where)
            return
        self._done = True

    def _fail(self, reason: str, offset: int) -> None:
        if self.damage is None:
            self.damage = EventInputError(self.name, reason, offset=offset)
        self._done = True
        self._input = b""
