"""A loaded rule as the engine sees it: identity, alert metadata, index keys, runtime, counters.

Every source (packages, ``.eql``, detection-rules TOML, Sigma) produces
:class:`EngineRule` objects around one of three runtimes:

* :class:`WasmEvaluator` -- a ``kestrel._core.WasmRule`` (compiled EQL or a
  hand-written module);
* :class:`LuaEvaluator` -- a :class:`kestrel.runtime.lua.LuaRule`;
* :class:`SequenceEvaluator` -- a ``kestrel.runtime.sequence.SequenceRule``.

Event evaluators return ``[(event index, captures as JSON bytes)]`` for a
batch; the sequence evaluator returns the engine's ``SequenceMatch`` objects.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from kestrel.engine.pipes import PipeState
from kestrel.errors import KestrelError


def json_bytes(value: Any) -> bytes:
    """`value` as compact UTF-8 JSON, the way alerts are written."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode()


#: Alert metadata keys a source may fill (from a manifest, TOML or Sigma rule).
METADATA_KEYS = ("severity", "risk_score", "tags", "threat")


class WasmEvaluator:
    """A ``WasmRule``; `ir_json` (compiled EQL only) lets the rule index anchor it."""

    runtime = "wasm"

    def __init__(self, rule: Any, ir_json: Optional[str] = None) -> None:
        self.rule = rule
        self.ir_json = ir_json

    def evaluate(self, batch: Any, candidates: Any = None) -> List[Tuple[int, bytes]]:
        """Matches among `candidates` (a ``Matches`` from the rule index; None: the whole batch)."""
        hits = list(self.rule.evaluate(batch, 0, candidates))
        return list(zip(hits, self.rule.capture_json(batch, hits))) if hits else []

    @property
    def quarantined(self) -> bool:
        return bool(self.rule.quarantined)


class LuaEvaluator:
    runtime = "lua"

    def __init__(self, rule: Any) -> None:
        self.rule = rule

    def evaluate(self, batch: Any) -> List[Tuple[int, bytes]]:
        result = self.rule.evaluate(batch)
        if result.failure is not None:
            raise KestrelError(str(result.failure))
        hits = sorted(set(result.events()) | set(result.emitted))
        return [(i, json_bytes(result.captures.get(i, {}))) for i in hits]

    @property
    def quarantined(self) -> bool:
        return bool(self.rule.quarantined)

    @property
    def trusted(self) -> bool:
        """Whether the rule runs JIT-compiled without the instruction watchdog
        (granted by the operator, see ``EngineConfig.trusted_paths``)."""
        return bool(self.rule.trusted)


class SequenceEvaluator:
    """A sequence rule: one ``SequenceRule`` per bus partition.

    Each partition keeps its own state and its own clock, so a worker that
    runs ahead cannot expire the partial matches of another; events of one
    entity always reach the same partition.
    """

    runtime = "sequence"
    quarantined = False

    def __init__(self, make: Any, ir_json: Optional[str] = None) -> None:
        self._make = make
        self.ir_json = ir_json  # lets the rule index anchor the rule
        self._lock = threading.Lock()
        self.partitions: Dict[int, Any] = {0: self._new()}  # built now, so a bad rule fails at load

    def _new(self) -> Any:
        rule = self._make()
        # A SequenceRule would apply `| head` per partition and in completion
        # order; the engine applies the rule's pipes once, over all partitions
        # and in Elasticsearch order (EngineRule.pipes).
        rule.head = None
        return rule

    def _rule(self, partition: int) -> Any:
        with self._lock:
            rule = self.partitions.get(partition)
            if rule is None:
                rule = self.partitions[partition] = self._new()
            return rule

    def evaluate(self, batch: Any, partition: int = 0, candidates: Any = None) -> List[Any]:
        """Matches completed by `batch`; `candidates` (from the rule index) limit
        the step predicates, while every event still moves the clock."""
        return list(self._rule(partition).process(batch, candidates))

    def flush(self) -> List[Any]:
        return [match for rule in self.partitions.values() for match in rule.flush()]

    def captures_json(self, matches: List[Any]) -> List[bytes]:
        """Per match, its captures (per step, the fields the rule reads) as a JSON array."""
        return self.partitions[0].captures_json(matches)

    def stats(self) -> Dict[str, Any]:
        """The partitions' counters, summed (dicts of counters summed key by key)."""
        total: Dict[str, Any] = {}
        for rule in self.partitions.values():
            for key, value in dict(rule.stats()).items():
                if isinstance(value, dict):
                    inner = total.setdefault(key, {})
                    for k, v in value.items():
                        inner[k] = inner.get(k, 0) + v
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    total[key] = total.get(key, 0) + value
        total["partitions"] = len(self.partitions)
        return total


@dataclass
class EngineRule:
    """One loaded rule. `categories` empty means the rule can match any category."""

    id: str
    name: str
    kind: str
    location: str
    evaluator: Any
    categories: Tuple[str, ...] = ()
    version: str = "1"
    metadata: Dict[str, Any] = field(default_factory=dict)
    #: Digest of everything the rule was built from; equal digests are reused on reload.
    fingerprint: str = ""
    source: str = "eql"  #: which loader produced it: package, eql, toml, jsonl, sigma
    #: The rule's ``| head`` / ``| tail`` pipes and ``size`` limit, with their
    #: state (see :mod:`kestrel.engine.pipes`); None when it has none.
    pipes: Optional[PipeState] = None
    status: str = "active"
    evaluations: int = 0  #: events offered
    batches: int = 0
    matches: int = 0
    alerts: int = 0
    errors: int = 0
    time_ns: int = 0
    last_error: Optional[str] = None
    _alert_rule_json: Optional[bytes] = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def runtime(self) -> str:
        return self.evaluator.runtime

    def note(self, events: int, matches: int, elapsed_ns: int, error: Optional[str] = None) -> None:
        """Account one batch (thread-safe: workers share rules)."""
        with self._lock:
            self.batches += 1
            self.evaluations += events
            self.matches += matches
            self.time_ns += elapsed_ns
            if error is not None:
                self.errors += 1
                self.last_error = error
                if self.evaluator.quarantined:
                    self.status = "quarantined"

    def alert_rule(self) -> Dict[str, Any]:
        """The ``rule`` object of this rule's alerts."""
        doc: Dict[str, Any] = {"id": self.id, "name": self.name, "version": self.version}
        for key in METADATA_KEYS:
            doc[key] = self.metadata.get(key)
        doc["runtime"] = self.runtime
        return doc

    def alert_rule_json(self) -> bytes:
        """:meth:`alert_rule` as UTF-8 JSON, built once: every alert of the rule repeats it."""
        if self._alert_rule_json is None:
            self._alert_rule_json = json_bytes(self.alert_rule())
        return self._alert_rule_json

    def describe(self) -> Dict[str, Any]:
        """What ``engine.rules()`` and ``kestrel list`` show (Lua rules also
        say whether they run trusted)."""
        doc = {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "runtime": self.runtime,
            "categories": list(self.categories) or ["any"],
            "status": self.status,
            "source": self.source,
            "location": self.location,
        }
        trusted = getattr(self.evaluator, "trusted", None)
        if trusted is not None:
            doc["trusted"] = trusted
        return doc

    def counters(self) -> Dict[str, Any]:
        return {
            "kind": self.kind,
            "runtime": self.runtime,
            "status": self.status,
            "evaluations": self.evaluations,
            "batches": self.batches,
            "matches": self.matches,
            "alerts": self.alerts,
            "errors": self.errors,
            "time_ms": round(self.time_ns / 1e6, 3),
            "last_error": self.last_error,
            **({"pipes": self.pipes.stats()} if self.pipes is not None else {}),
        }
