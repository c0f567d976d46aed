"""Alert documents and their deduplication.

An alert::

    {"@timestamp": "2026-01-05T08:00:01.000Z", "kind": "event" | "sequence" | "sample",
     "rule": {"id", "name", "version", "severity", "risk_score", "tags", "threat", "runtime"},
     "join_keys": [...],            # sequences and samples
     "events": [{...original event...}, {"missing": true}, ...],
     "captures": {...} | [{...}, ...]}   # one dict per event (a list for sequences)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from typing import Any, Dict, List, Optional

from kestrel.engine.rule import EngineRule


def iso(ns: Optional[int]) -> Optional[str]:
    if ns is None:
        return None
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_alert(rule: EngineRule, batch: Any, index: int, captures: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "@timestamp": iso(batch.timestamp(index)),
        "kind": "event",
        "rule": rule.alert_rule(),
        "events": [json.loads(batch.raw(index))],
        "captures": captures,
    }


def sequence_alert(rule: EngineRule, match: Any) -> Dict[str, Any]:
    return {
        "@timestamp": iso(match.last_timestamp),
        "kind": match.kind,
        "rule": rule.alert_rule(),
        "join_keys": list(match.join_keys),
        "events": list(match.events),
        "captures": list(match.captures),
    }


def alert_time_ns(alert: Dict[str, Any]) -> Optional[int]:
    stamp = alert.get("@timestamp")
    if not stamp:
        return None
    moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return int(moment.timestamp() * 1e9)


class Deduplicator:
    """Suppress an alert identical to one seen within `window_ms` of event time.

    Identical means the same rule, evidence and captures. Entries older than
    the window are pruned as time advances, so memory follows the alert rate.
    """

    def __init__(self, window_ms: int) -> None:
        self.window_ns = window_ms * 1_000_000
        self.suppressed = 0
        self._seen: Dict[bytes, int] = {}
        self._horizon = 0
        self._lock = threading.Lock()

    def admit(self, alerts: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        if self.window_ns <= 0:
            return alerts
        kept = []
        with self._lock:
            for alert in alerts:
                key = hashlib.blake2b(
                    json.dumps([alert["rule"]["id"], alert.get("join_keys"), alert["events"], alert["captures"]], sort_keys=True, default=str).encode(),
                    digest_size=16,
                ).digest()
                now = alert_time_ns(alert) or 0
                last = self._seen.get(key)
                if last is not None and abs(now - last) <= self.window_ns:
                    self.suppressed += 1
                    continue
                self._seen[key] = now
                kept.append(alert)
                self._prune(now)
        return kept

    def _prune(self, now: int) -> None:
        if now - self._horizon < self.window_ns:
            return
        self._horizon = now
        self._seen = {k: t for k, t in self._seen.items() if now - t <= self.window_ns}
