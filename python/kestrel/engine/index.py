"""Rule indexing: offer each event only to the rules that could match it.

Two levels, both off with ``Engine(indexing=False)`` (every batch goes to
every rule; the benchmark measures the difference):

* **Categories.** Rules are bucketed by the event categories they can match
  (a rule with no category constraint, e.g. ``any where``, sits in every
  bucket, and so do sequences and samples, whose clock every event moves). For a batch the engine collects the categories present and takes
  the union of their buckets, in load order.
* **Anchors.** Most event rules require one field to equal one of a few
  strings (``process.name in ("cmd.exe", ...)``), or to match or not match
  a few glob patterns (``not process.name : "*.exe"``). The core's
  ``kestrel._core.RuleIndex`` finds such conditions in each rule's IR and,
  per batch, the events each filter could pass (see ``rust/kestrel-index``).
  An event rule whose list is empty is skipped; the others evaluate only
  their candidates. A sequence or sample gets one list per filter, each
  step's predicate seeing only its own; it is offered every batch even with
  no candidates, because every event moves its clock (expiry, trailing
  missing steps). Rules without IR (Lua, hand-written Wasm) are never restricted, so
  the alerts are the same as without the index.
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple

from kestrel.engine.rule import EngineRule


class RuleIndex:
    def __init__(self, rules: Sequence[EngineRule], enabled: bool = True, schema: Any = None) -> None:
        self.rules = list(rules)
        self.enabled = enabled
        self._any: List[int] = []
        self._buckets: Dict[str, List[int]] = {}
        for position, rule in enumerate(self.rules):
            # A sequence's clock moves with every event, of any category:
            # a batch it cannot match still expires its partials and settles
            # trailing missing steps. Its anchor keeps that cheap.
            if not rule.categories or rule.kind != "event":
                self._any.append(position)
                continue
            for category in rule.categories:
                self._buckets.setdefault(category, []).append(position)
        self._cache: Dict[FrozenSet[str], List[Tuple[int, EngineRule]]] = {}
        self._anchors = _anchor_index(self.rules, schema) if enabled and schema is not None else None

    @property
    def anchored(self) -> int:
        """How many rules the core index restricts to their candidate events."""
        return self._anchors.anchored if self._anchors is not None else 0

    def anchor(self, position: int) -> Optional[str]:
        """Rule `position`'s anchor, e.g. ``"process.name in 14 values (ci)"``."""
        return self._anchors.describe(position) if self._anchors is not None else None

    def select(self, categories: Iterable[str]) -> List[EngineRule]:
        """The rules a batch with these event categories must be offered to."""
        return [rule for _, rule in self._positions(categories)]

    def offers(self, batch: Any, categories: Iterable[str]) -> List[Tuple[EngineRule, Any]]:
        """(rule, candidates) for a batch. Candidates are None for the whole
        batch; for an event rule a ``Matches`` of the events it could match
        (rules with none are left out); for a sequence or sample, a list with
        one ``Matches`` per filter (steps, then `until`)."""
        selected = self._positions(categories)
        if self._anchors is None:
            return [(rule, None) for _, rule in selected]
        by_filter = self._anchors.candidates_by_filter(batch)
        offers = []
        for p, rule in selected:
            lists = by_filter[p]
            if lists is None or rule.kind != "event":
                offers.append((rule, lists))
            elif len(lists[0]):
                offers.append((rule, lists[0]))
        return offers

    def _positions(self, categories: Iterable[str]) -> List[Tuple[int, EngineRule]]:
        if not self.enabled:
            return list(enumerate(self.rules))
        key = frozenset(categories)
        found = self._cache.get(key)
        if found is None:
            positions = set(self._any)
            for category in key:
                positions.update(self._buckets.get(category, ()))
            found = [(p, self.rules[p]) for p in sorted(positions)]
            if len(self._cache) < 4096:  # distinct category mixes are few; stay bounded anyway
                self._cache[key] = found
        return found

    def buckets(self) -> Dict[str, int]:
        """Category -> number of rules indexed under it ("*" for any category)."""
        sizes = {category: len(members) for category, members in sorted(self._buckets.items())}
        sizes["*"] = len(self._any)
        return sizes


def _anchor_index(rules: List[EngineRule], schema: Any) -> Any:
    from kestrel._core import RuleIndex as CoreIndex

    # Only compiled EQL carries IR the core can anchor; the rest are None (unrestricted).
    irs = [getattr(rule.evaluator, "ir_json", None) for rule in rules]
    return CoreIndex(irs, schema)


def batch_categories(batch: Any) -> FrozenSet[str]:
    """The event categories that occur in a batch, as its decoder found them."""
    return frozenset(batch.category_names())
