"""A loaded rule as the engine sees it: identity, alert metadata, index keys, runtime, counters.

Every source (packages, ``.eql``, detection-rules TOML, Sigma) produces
:class:`EngineRule` objects around one of three runtimes:

* :class:`WasmEvaluator` -- a ``kestrel._core.WasmRule`` (compiled EQL or a
  hand-written module);
* :class:`LuaEvaluator` -- a :class:`kestrel.runtime.lua.LuaRule`;
* :class:`SequenceEvaluator` -- a ``kestrel.runtime.sequence.SequenceRule``.

The core's pipeline (``kestrel._core.Pipeline``) runs Wasm and sequence
rules itself, from :meth:`EngineRule.native`. A Lua rule is evaluated in the
shell, once per batch (:meth:`LuaEvaluator.evaluate` gives its ``[(event
index, captures as JSON bytes)]``), and its matches go to the pipeline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

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
    """A sequence or sample rule: its step predicates (Wasm) and matcher.

    These are the first partition's; the core's pipeline makes the other
    partitions' instances from them (the module is compiled once) and keeps
    every partition's state.
    """

    runtime = "sequence"
    quarantined = False

    def __init__(self, rule: Any, ir_json: Optional[str] = None) -> None:
        #: The ``kestrel.runtime.sequence.SequenceRule``: built now, so a bad rule fails at load.
        self.rule = rule
        # A SequenceRule would apply `| head` itself, per partition and in
        # completion order; the pipeline applies the rule's pipes once, over
        # all partitions and in Elasticsearch order.
        rule.head = None
        self.ir_json = ir_json  # lets the rule index anchor the rule


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
    #: The rule's ``| head`` / ``| tail`` stages, then its ``size`` as a last
    #: head (see :mod:`kestrel.engine.pipes`); empty when it has none.
    pipes: Tuple[Tuple[str, int], ...] = ()
    _native: Any = field(default=None, repr=False, compare=False)

    @property
    def runtime(self) -> str:
        return str(self.evaluator.runtime)

    def native(self, schema: Any) -> Any:
        """The rule as the core's pipeline runs it (``kestrel._core.NativeRule``),
        built once: a rule carried over by a reload keeps its state."""
        if self._native is None:
            from kestrel._core import NativeRule

            evaluator = self.evaluator
            options: Dict[str, Any] = {
                "categories": list(self.categories),
                "pipes": list(self.pipes),
                "schema": schema,
                "ir_json": getattr(evaluator, "ir_json", None),
            }
            if isinstance(evaluator, WasmEvaluator):
                options["wasm"] = evaluator.rule
            elif isinstance(evaluator, SequenceEvaluator):
                options["wasm"] = evaluator.rule.predicate.rule
                options["matcher"] = evaluator.rule.matcher
            else:  # Lua: evaluated in the shell, its matches handed to the pipeline
                options["ir_json"] = None
            kind = self.kind if self.kind in ("sequence", "sample") else "event"
            self._native = NativeRule(self.id, self.fingerprint, json_bytes(self.alert_rule()), kind, **options)
        return self._native

    @property
    def status(self) -> str:
        quarantined = self._native is not None and self._native.quarantined
        return "quarantined" if quarantined or self.evaluator.quarantined else "active"

    def alert_rule(self) -> Dict[str, Any]:
        """The ``rule`` object of this rule's alerts."""
        doc: Dict[str, Any] = {"id": self.id, "name": self.name, "version": self.version}
        for key in METADATA_KEYS:
            doc[key] = self.metadata.get(key)
        doc["runtime"] = self.runtime
        return doc

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
        """Kind, runtime, status and the pipeline's counters of the rule
        (``pipes`` and sequence ``state`` when it has them)."""
        stats = dict(self._native.stats()) if self._native is not None else {}
        quarantined = stats.pop("quarantined", False) or self.evaluator.quarantined
        return {"kind": self.kind, "runtime": self.runtime, "status": "quarantined" if quarantined else "active", **stats}
