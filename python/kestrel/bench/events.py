"""The events a benchmark runs on: the user's NDJSON file, or a generated stream.

Events are decoded into batches of `BATCH_LINES` before any timing starts:
the figures are evaluation alone.
With `dicts=True` the parsed JSON objects are kept too, index for index with
the batches, for engines that take Python dicts (the `eql` package).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

import kestrel
from kestrel.synth import EventGenerator

#: Events decoded and evaluated together: enough to amortise the per-batch
#: calls, as the engine's batches do.
BATCH_LINES = 16_384

DEFAULT_COUNT = 20_000
DEFAULT_SEED = 7


@dataclass
class Events:
    """Decoded batches (and optionally their dicts) plus where they came from."""

    description: str
    batches: list[kestrel.EventBatch] = field(default_factory=list)
    dicts: Optional[list[dict[str, Any]]] = None
    #: Input problems: malformed lines and the like, as `file:line: kind: message`.
    problems: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(b) for b in self.batches)


def _lines(path: Path, limit: Optional[int]) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        lines = (line for line in handle if line.strip())
        yield from (lines if limit is None else islice(lines, limit))


def _decode(lines: Iterable[bytes], schema: kestrel.Schema, source: str, events: Events, dicts: bool) -> Events:
    chunk: list[bytes] = []
    first_seq = 0
    documents: list[dict[str, Any]] = []
    if dicts:
        events.dicts = documents

    def flush() -> None:
        nonlocal first_seq, chunk
        if not chunk:
            return
        batch = kestrel.EventBatch.from_ndjson(b"".join(chunk), schema=schema, source=source, first_seq=first_seq)
        events.problems += [f"{source}: {e.kind}: {e.message}" for e in batch.errors]
        first_seq += len(batch)
        events.batches.append(batch)
        chunk = []

    for line in lines:
        if dicts:
            # Only lines both decoders read, so indices line up between them.
            try:
                document = json.loads(line)
            except ValueError:
                events.problems.append(f"{source}: malformed_json: {line[:60]!r}")
                continue
            if not isinstance(document, dict):
                continue
            documents.append(document)
        chunk.append(line if line.endswith(b"\n") else line + b"\n")
        if len(chunk) == BATCH_LINES:
            flush()
    flush()
    if dicts and events.count != len(documents):
        raise ValueError(f"{source}: the core decoded {events.count} events, json.loads {len(documents)}")
    return events


def load(path: str, schema: kestrel.Schema, *, limit: Optional[int] = None, dicts: bool = False) -> Events:
    """The first `limit` events (all when None) of an NDJSON file."""
    events = Events(f"{path}")
    _decode(_lines(Path(path), limit), schema, path, events, dicts)
    events.description = f"{events.count} events from {path}"
    return events


def generate(count: int, schema: kestrel.Schema, *, seed: int = DEFAULT_SEED, dicts: bool = False, entities: int = 500) -> Events:
    """`count` synthetic ECS events (process, file, network, registry, dns) from `kestrel.synth`.

    `entities` bounds the distinct `process.entity_id`s: fewer entities, more
    events per entity, more sequences that complete.
    """
    generator = EventGenerator(seed, entities=entities)
    lines = (json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in generator.events(count))
    events = Events(f"{count} generated ECS events (seed {seed})")
    return _decode(lines, schema, "<generated>", events, dicts)
