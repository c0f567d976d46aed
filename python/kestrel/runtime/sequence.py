"""Sequence and sample rules: step predicates in Wasm, matching in the Rust NFA.

A :class:`SequenceRule` evaluates each filter of the rule (the steps, then
`until`) over a batch with the rule's Wasm module, one call per filter per
batch, and hands the match lists to ``kestrel._core.SequenceMatcher``, which
keeps the partial matches per join key in a sharded state store (see
``rust/kestrel-seq``). Python only sees completed matches.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Optional, Sequence, Union

from kestrel._core import EventBatch, Matches, Schema, SequenceMatcher, StateBudget

if TYPE_CHECKING:
    from kestrel.compiler.compiled import CompiledRule

#: One evidence event as the core returns it: (ingest seq, timestamp ns, original JSON or None).
Evidence = Optional[tuple[int, int, Optional[bytes]]]
#: Events the filters may pass: None (all), one ``Matches`` for every filter, or one per filter.
Candidates = Union[None, Matches, list[Matches]]

_MS = 1_000_000


class SequenceMatch:
    """A completed sequence or sample.

    The evidence stays as the core returned it (original JSON bytes) until
    `events` or `captures` is read: parsing it costs more than matching, and
    a caller that only counts or indexes matches never pays for it.
    """

    __slots__ = ("rule_id", "kind", "join_keys", "evidence", "first_timestamp", "last_timestamp", "_rule", "_parsed")

    def __init__(
        self,
        rule: "SequenceRule",
        kind: str,
        join_keys: list[Any],
        evidence: list[Evidence],
        first_timestamp: Optional[int],
        last_timestamp: Optional[int],
    ) -> None:
        self.rule_id = rule.rule_id
        self.kind = kind
        self.join_keys = join_keys
        #: Per step: (ingest seq, timestamp ns, original JSON or None), or None for a missing step.
        self.evidence = evidence
        self.first_timestamp = first_timestamp
        self.last_timestamp = last_timestamp
        self._rule = rule
        self._parsed: Optional[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = None

    @property
    def seqs(self) -> list[Optional[int]]:
        """Per step, the event's ingest sequence number (None for a missing step)."""
        return [None if e is None else e[0] for e in self.evidence]

    @property
    def events(self) -> list[dict[str, Any]]:
        """The evidence events in step order; a missing step is ``{"missing": True}``."""
        return self._materialize()[0]

    @property
    def captures(self) -> list[dict[str, Any]]:
        """Per event, the fields the rule reads (``{}`` for a missing step)."""
        return self._materialize()[1]

    def _materialize(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if self._parsed is None:
            self._parsed = self._rule._evidence(self)
        return self._parsed

    def __repr__(self) -> str:
        return f"<SequenceMatch {self.rule_id} {self.kind} keys={self.join_keys} seqs={self.seqs}>"


class SequenceRule:
    """A compiled sequence or sample rule with its own matcher state.

    `quotas` may hold ``rule`` (partial matches the rule may keep) and
    ``entity`` (per join key). `memory_budget` is in bytes; pass a shared
    `budget` (:class:`kestrel._core.StateBudget`) to have several rules draw
    on one. Results do not depend on `shards`, unless a quota or the budget
    evicts state.
    """

    def __init__(
        self,
        compiled: "CompiledRule",
        schema: Schema,
        *,
        rule_id: str = "sequence",
        shards: int = 1,
        max_out_of_order_ms: int = 0,
        memory_budget: Optional[int] = None,
        quotas: Optional[dict[str, int]] = None,
        idle_ttl_ms: Optional[int] = None,
        max_samples_per_key: int = 1,
        keep_raw: bool = True,
        budget: Optional[StateBudget] = None,
    ) -> None:
        from kestrel.runtime.wasm import WasmPredicate

        if compiled.kind not in ("sequence", "sample"):
            raise ValueError(f"{rule_id}: a {compiled.kind} query is not a sequence or sample rule")
        quotas = quotas or {}
        unknown = set(quotas) - {"rule", "entity"}
        if unknown:
            raise ValueError(f"unknown quota(s) {sorted(unknown)}: use 'rule' and 'entity'")
        self.rule_id = rule_id
        self.kind: str = compiled.kind
        self.compiled = compiled
        self.schema = schema
        self.predicate = WasmPredicate.from_compiled(compiled, schema, rule_id=rule_id)
        self.matcher = SequenceMatcher(
            compiled.ir_json(),
            schema,
            rule_id=rule_id,
            shards=shards,
            max_out_of_order_ns=max_out_of_order_ms * _MS,
            memory_budget=memory_budget,
            quota_rule=quotas.get("rule"),
            quota_entity=quotas.get("entity"),
            idle_ttl_ns=None if idle_ttl_ms is None else idle_ttl_ms * _MS,
            max_samples_per_key=max_samples_per_key,
            keep_raw=keep_raw,
            budget=budget,
        )
        self._starting = self.matcher.starting_filters
        pipes = compiled.ir.rule.pipes
        # In a stream `| head n` stops after n matches; `| tail` needs the
        # whole input and only applies in `evaluate`.
        self.head: Optional[int] = pipes[0].count if pipes and pipes[0].op == "head" else None
        self.emitted = 0

    def match_lists(self, batch: EventBatch, candidates: Candidates = None) -> list[Any]:
        """Per filter (steps, then `until`), the events of `batch` that pass it,
        looking only at `candidates` when given: one ``Matches`` for every
        filter, or a list of one per filter."""
        count = self.matcher.filters
        per_filter = candidates if isinstance(candidates, list) else [candidates] * count
        if len(per_filter) != count:
            raise ValueError(f"{self.rule_id}: {len(per_filter)} candidate lists for {count} filters")

        def passing(f: int) -> Any:
            c = per_filter[f]
            # A filter without candidates passes nothing: no need to call it.
            return [] if c is not None and not len(c) else self.predicate.evaluate(batch, f, c)

        lists: list[Any] = [None] * count
        for f in self._starting:
            lists[f] = passing(f)
        # Nothing held and nothing started in this batch: what the other
        # filters pass could not advance or complete any match (most batches,
        # for a rule whose first step is rare), so they are not evaluated.
        skip = self.matcher.is_idle() and not any(len(lists[f]) for f in self._starting)
        return [([] if skip else passing(f)) if found is None else found for f, found in enumerate(lists)]

    def process(self, batch: EventBatch, candidates: Candidates = None) -> list[SequenceMatch]:
        """Feed one batch; returns the matches it completed.

        `candidates` (from the engine's rule index) are the events that could
        pass some filter; the predicates skip the others. Every event of the
        batch still moves the rule's clock, so expiry and late counting are
        the same either way."""
        return self._wrap(self.matcher.process(batch, self.match_lists(batch, candidates)))

    def flush(self) -> list[SequenceMatch]:
        """End of stream: settle trailing missing steps and buffered events."""
        return self._wrap(self.matcher.flush())

    def evaluate(self, batch: EventBatch, candidates: Candidates = None) -> list[SequenceMatch]:
        """All matches of a finite input, in Elasticsearch's order (by first
        event), with `| head` / `| tail` applied. The state is used as-is, so
        call this on a fresh rule. `candidates` as for `process`."""
        head, self.head = self.head, None
        try:
            found = self.process(batch, candidates) + self.flush()
        finally:
            self.head = head
        found.sort(key=lambda m: next(s for s in m.seqs if s is not None))
        for pipe in self.compiled.ir.rule.pipes:
            found = found[: pipe.count] if pipe.op == "head" else found[len(found) - pipe.count :]
        return found

    def stats(self) -> dict[str, Any]:
        return self.matcher.stats()

    def snapshot(self) -> bytes:
        return self.matcher.snapshot()

    def restore(self, data: bytes) -> None:
        self.matcher.restore(data)

    def _wrap(self, raw: Sequence[tuple[str, list[Any], list[Evidence], Optional[int], Optional[int]]]) -> list[SequenceMatch]:
        out = []
        for kind, keys, evidence, first, last in raw:
            if self.head is not None and self.emitted >= self.head:
                break
            self.emitted += 1
            out.append(SequenceMatch(self, kind, keys, evidence, first, last))
        return out

    def captures(self, matches: Sequence[SequenceMatch]) -> list[list[dict[str, Any]]]:
        """Per match, per step, the fields the rule's ``pred_capture`` reads
        (``{}`` for a missing step or one kept without its raw event)."""
        batch = self._evidence_batch(matches)
        it = iter([] if batch is None else [self.predicate.capture(batch, i) for i in range(len(batch))])
        return [[{} if e is None or e[2] is None else next(it, {}) for e in m.evidence] for m in matches]

    def captures_json(self, matches: Sequence[SequenceMatch]) -> list[bytes]:
        """:meth:`captures` as one JSON array per match, written by the core
        (what alerts carry, without building Python values)."""
        batch = self._evidence_batch(matches)
        it = iter([] if batch is None else self.predicate.rule.capture_json(batch, list(range(len(batch)))))
        return [
            b"[" + b",".join(b"{}" if e is None or e[2] is None else next(it, b"{}") for e in m.evidence) + b"]" for m in matches
        ]

    def _evidence_batch(self, matches: Sequence[SequenceMatch]) -> Optional[EventBatch]:
        """The kept evidence of all `matches`, decoded again as one batch (in
        step order): events of earlier batches are only kept as their
        original bytes, and one decode per batch of alerts is cheaper than
        one per match."""
        present = [e[2] for m in matches for e in m.evidence if e is not None and e[2] is not None]
        return EventBatch.from_ndjson(b"\n".join(present), schema=self.schema) if present else None

    def _evidence(self, match: SequenceMatch) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        events: list[dict[str, Any]] = []
        for e in match.evidence:
            if e is None:
                events.append({"missing": True})
            elif e[2] is None:
                events.append({"seq": e[0], "timestamp": e[1]})
            else:
                events.append(json.loads(e[2]))
        return events, self.captures([match])[0]
