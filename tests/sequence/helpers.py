"""Small hand-made event streams for the sequence engine's tests."""

from __future__ import annotations

from typing import Any, Iterable

import kestrel
from kestrel.runtime.sequence import SequenceMatch, SequenceRule
from kestrel.synth import EventGenerator

SCHEMA = kestrel.Schema.default()


def event(seq: int, ms: int, category: str, key: Any = "k1", **fields: Any) -> dict[str, Any]:
    """An ECS-shaped event: `user.name` is the join key, `event.code` a step marker."""
    doc: dict[str, Any] = {"@timestamp": ms, "event": {"category": [category], "sequence": seq}, **fields}
    if key is not None:
        doc["user"] = {"name": key}
    return doc


def batch(events: list[dict[str, Any]], first_seq: int = 0) -> kestrel.EventBatch:
    return kestrel.EventBatch.from_dicts(events, schema=SCHEMA, timestamp_unit="ms", first_seq=first_seq)


def rule(query: str, **kwargs: Any) -> SequenceRule:
    return SequenceRule(kestrel.compile(query, schema=SCHEMA), SCHEMA, **kwargs)


def ids(matches: Iterable[SequenceMatch]) -> list[list[Any]]:
    """Each match as its events' `event.sequence` (None for a missing step)."""
    return [[None if e.get("missing") else e["event"]["sequence"] for e in m.events] for m in matches]


def seqs(matches: Iterable[SequenceMatch]) -> list[list[Any]]:
    """Each match as its events' ingest sequence numbers."""
    return [m.seqs for m in matches]


def stream(rule_: SequenceRule, events: list[dict[str, Any]], size: int) -> list[SequenceMatch]:
    """Process `events` in batches of `size`, then flush."""
    found: list[SequenceMatch] = []
    for start in range(0, len(events), size):
        found += rule_.process(batch(events[start : start + size], first_seq=start))
    return found + rule_.flush()


def synthetic(n: int, entities: int, seed: int = 3) -> list[dict[str, Any]]:
    """The benchmark's kind of stream: process/file/network over one hour."""
    generator = EventGenerator(seed, entities=entities, mix={"process": 0.5, "file": 0.3, "network": 0.2})
    return list(generator.events(n))


THREE_STEPS = """
sequence by process.entity_id with maxspan=5m
  [process where event.type == "start"]
  [file where event.type == "creation"]
  [network where true]
"""
