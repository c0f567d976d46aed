"""Alerts as they leave the engine: JSON lines rendered by the core.

An alert::

    {"@timestamp": "2026-01-05T08:00:01.000Z", "kind": "event" | "sequence" | "sample",
     "rule": {"id", "name", "version", "severity", "risk_score", "tags", "threat", "runtime"},
     "join_keys": [...],            # sequences and samples
     "events": [{...original event...}, {"missing": true}, ...],
     "captures": {...} | [{...}, ...]}   # one dict per event (a list for sequences)

The core's pipeline writes each alert's line, splicing in the events' own
JSON bytes, orders, pipes and deduplicates them
(``rust/kestrel-engine``). The shell sees one :class:`AlertBlock` per batch:
the lines as one ``bytes`` a file sink writes as it is. Nothing parses an
alert unless a caller asks for dicts (:meth:`AlertBlock.docs`:
``Engine.process`` results, callback sinks).
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List


class AlertBlock:
    """The alerts of one batch: `data` holds `count` JSON lines, each ending in a newline."""

    __slots__ = ("data", "count")

    def __init__(self, data: bytes, count: int) -> None:
        self.data = data
        self.count = count

    def __len__(self) -> int:
        return self.count

    def lines(self) -> List[bytes]:
        """Each alert's line, without its newline."""
        return self.data.splitlines()

    def docs(self) -> List[Dict[str, Any]]:
        """Each alert parsed as a dict."""
        return [json.loads(line) for line in self.lines()]

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        return iter(self.docs())
