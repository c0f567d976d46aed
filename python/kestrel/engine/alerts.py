"""Alert documents and their deduplication.

An alert::

    {"@timestamp": "2026-01-05T08:00:01.000Z", "kind": "event" | "sequence" | "sample",
     "rule": {"id", "name", "version", "severity", "risk_score", "tags", "threat", "runtime"},
     "join_keys": [...],            # sequences and samples
     "events": [{...original event...}, {"missing": true}, ...],
     "captures": {...} | [{...}, ...]}   # one dict per event (a list for sequences)

An :class:`Alert` keeps its evidence as the original JSON bytes and writes
its JSON line by splicing them in: an alert that only goes to a file or
stdout is never parsed. Parsing an event costs more than matching it, and
parsing thousands of them per batch also wakes Python's cycle collector,
which then walks every compiled rule. :attr:`Alert.doc` parses on demand
(``Engine.process`` results, callback sinks).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from typing import Any, Dict, List, Optional, Sequence, Tuple

from kestrel.engine.rule import EngineRule, json_bytes

#: A missing step's placeholder in a sequence's evidence.
MISSING = b'{"missing":true}'


#: "YYYY-MM-DDTHH:MM:" by epoch minute. Building a datetime per alert cost
#: more than the rest of its line, and a batch's alerts fall in few minutes.
#: Bounded; a plain dict, so threads sharing it at worst format a minute twice.
_minutes: Dict[int, str] = {}


def iso(ns: Optional[int]) -> Optional[str]:
    """Epoch nanoseconds as ISO 8601 UTC, truncated to milliseconds: ``2026-01-05T08:00:01.000Z``."""
    if ns is None:
        return None
    second, rest = divmod(ns, 1_000_000_000)
    minute, second = divmod(second, 60)
    prefix = _minutes.get(minute)
    if prefix is None:
        if len(_minutes) >= 4096:
            _minutes.clear()
        prefix = _minutes[minute] = dt.datetime.fromtimestamp(minute * 60, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:")
    return f"{prefix}{second:02d}.{rest // 1_000_000:03d}Z"


class Alert:
    """One alert: its rule, kind, time, evidence (JSON per event) and captures (JSON)."""

    __slots__ = ("rule", "kind", "timestamp_ns", "join_keys", "events_json", "captures_json", "order", "_body", "_doc")

    def __init__(self, rule: EngineRule, kind: str, timestamp_ns: Optional[int], events_json: List[bytes],
                 captures_json: bytes, join_keys: Optional[List[Any]] = None) -> None:
        self.rule = rule
        self.kind = kind
        self.timestamp_ns = timestamp_ns
        self.join_keys = join_keys
        #: Per event, its original JSON (or a placeholder such as :data:`MISSING`).
        self.events_json = events_json
        self.captures_json = captures_json
        #: Where the alert falls in Elasticsearch order, when the engine needs
        #: to compare alerts of different batches (a ``| tail`` pipe):
        #: (timestamp ns, tiebreaker, ingest seq) of the event, or of a
        #: sequence's first event (whose tiebreaker counts as 0).
        self.order: Optional[Tuple[int, int, int]] = None
        self._body: Optional[bytes] = None
        self._doc: Optional[Dict[str, Any]] = None

    def body(self) -> bytes:
        """The part of the line that identifies the alert: join keys, evidence, captures."""
        if self._body is None:
            self._body = b"".join(self._body_pieces())
        return self._body

    def _body_pieces(self) -> List[bytes]:
        keys = [] if self.join_keys is None else [b',"join_keys":', json_bytes(self.join_keys)]
        # join() of a single event hands the event's own bytes back, uncopied.
        return [*keys, b',"events":[', b",".join(self.events_json), b'],"captures":', self.captures_json]

    def pieces(self) -> List[bytes]:
        """:meth:`line` in pieces. A sink joins a whole batch of alerts at
        once: each byte of evidence is then copied once, not once per layer."""
        if self.timestamp_ns is None:
            head = f'{{"@timestamp":null,"kind":"{self.kind}","rule":'.encode()
        else:
            head = f'{{"@timestamp":"{iso(self.timestamp_ns)}","kind":"{self.kind}","rule":'.encode()
        body = [self._body] if self._body is not None else self._body_pieces()
        return [head, self.rule.alert_rule_json(), *body, b"}"]

    def line(self) -> bytes:
        """The alert as one line of UTF-8 JSON (no newline)."""
        return b"".join(self.pieces())

    def json(self) -> str:
        """:meth:`line` as text."""
        return self.line().decode()

    @property
    def doc(self) -> Dict[str, Any]:
        """The alert as a dict (parsed once, then kept)."""
        if self._doc is None:
            self._doc = json.loads(self.line())
        return self._doc

    def dedup_key(self) -> bytes:
        return hashlib.blake2b(self.rule.id.encode() + b"\0" + self.body(), digest_size=16).digest()


#: Orders untimed events first (Elasticsearch does not return them at all).
_NO_TIME = -(1 << 63)
#: A tiebreaker that is not a number sorts last, as in the sequence matcher.
_NO_TIEBREAKER = (1 << 63) - 1


def event_alert(rule: EngineRule, batch: Any, index: int, captures_json: bytes) -> Alert:
    return Alert(rule, "event", batch.timestamp(index), [batch.raw(index)], captures_json)


def event_alerts(rule: EngineRule, batch: Any, hits: List[Tuple[int, bytes]], tiebreaker: Optional[str],
                 ordered: bool = False) -> List[Alert]:
    """Alerts of an event rule's hits in `batch`, in Elasticsearch order:
    timestamp, then the `tiebreaker` field (when configured), then arrival.

    A batch usually arrives in time order, and then its hits are already
    sorted: only their timestamps are compared. Otherwise, or when `ordered`
    asks for every alert's :attr:`Alert.order`, the keys are read and the
    alerts sorted.
    """
    alerts = [event_alert(rule, batch, i, captures) for i, captures in hits]
    if not ordered and _ascending(alerts, strict=tiebreaker is not None):
        return alerts
    for alert, (i, _) in zip(alerts, hits):
        ts = alert.timestamp_ns
        alert.order = (_NO_TIME if ts is None else ts, _tiebreak(batch.get(i, tiebreaker)) if tiebreaker else 0, batch.seq(i))
    alerts.sort(key=_order_of)
    return alerts


def _ascending(alerts: List[Alert], strict: bool) -> bool:
    """Whether the alerts' timestamps increase (strictly, when a tiebreaker
    would have to decide between equal ones)."""
    previous: Optional[int] = None
    for alert in alerts:
        ts = alert.timestamp_ns
        if ts is None or (previous is not None and (ts <= previous if strict else ts < previous)):
            return False
        previous = ts
    return True


def _tiebreak(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _NO_TIEBREAKER
    return int(value)


def _order_of(alert: Alert) -> Any:
    return alert.order


def sequence_alerts(rule: EngineRule, matches: Sequence[Any]) -> List[Alert]:
    """Alerts of a sequence rule's matches, their captures computed together.

    The matches are put in Elasticsearch order: by their earliest event
    (timestamp, then arrival), whatever order they completed in.
    """
    matches = sorted(matches, key=_first_event)
    captures = rule.evaluator.captures_json(matches)
    alerts = []
    for match, captured in zip(matches, captures):
        alert = Alert(rule, match.kind, match.last_timestamp, [_evidence_json(e) for e in match.evidence], captured,
                      list(match.join_keys))
        first_ts, first_seq = _first_event(match)
        alert.order = (first_ts, 0, first_seq)
        alerts.append(alert)
    return alerts


def _first_event(match: Any) -> Tuple[int, int]:
    """(timestamp, ingest seq) of a match's earliest event: a sequence's first
    present step, a sample's earliest event whatever its step."""
    return min((e[1], e[0]) for e in match.evidence if e is not None)


def _evidence_json(evidence: Any) -> bytes:
    if evidence is None:
        return MISSING
    seq, timestamp, raw = evidence
    if raw is None:  # the rule was built without keeping raw events
        return json_bytes({"seq": seq, "timestamp": timestamp})
    return raw


class Deduplicator:
    """Suppress an alert identical to one seen within `window_ms` of event time.

    Identical means the same rule, join keys, evidence (byte for byte) and
    captures. Entries older than the window are pruned as time advances, so
    memory follows the alert rate.
    """

    def __init__(self, window_ms: int) -> None:
        self.window_ns = window_ms * 1_000_000
        self.suppressed = 0
        self._seen: Dict[bytes, int] = {}
        self._horizon = 0
        self._lock = threading.Lock()

    def admit(self, alerts: List[Alert]) -> List[Alert]:
        if self.window_ns <= 0:
            return alerts
        kept = []
        with self._lock:
            for alert in alerts:
                key = alert.dedup_key()
                now = alert.timestamp_ns or 0
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
