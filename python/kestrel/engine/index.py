"""Rule indexing: offer a batch only to the rules that could match one of its events.

Rules are bucketed by the event categories they can match (a rule with no
category constraint, e.g. ``any where``, sits in every bucket). For a batch
the engine collects the categories present and takes the union of their
buckets, in load order. Inside a rule the core's own category filter then
skips individual events of other categories, so the cost of a batch follows
the rules relevant to its events, not all the rules loaded.

Switching indexing off (``Engine(indexing=False)``) offers every batch to
every rule; the benchmark measures the difference.
"""

from __future__ import annotations

from typing import Dict, FrozenSet, Iterable, List, Sequence

from kestrel.engine.rule import EngineRule


class RuleIndex:
    def __init__(self, rules: Sequence[EngineRule], enabled: bool = True) -> None:
        self.rules = list(rules)
        self.enabled = enabled
        self._any: List[int] = []
        self._buckets: Dict[str, List[int]] = {}
        for position, rule in enumerate(self.rules):
            if not rule.categories:
                self._any.append(position)
            for category in rule.categories:
                self._buckets.setdefault(category, []).append(position)
        self._cache: Dict[FrozenSet[str], List[EngineRule]] = {}

    def select(self, categories: Iterable[str]) -> List[EngineRule]:
        """The rules a batch with these event categories must be offered to."""
        if not self.enabled:
            return self.rules
        key = frozenset(categories)
        found = self._cache.get(key)
        if found is None:
            positions = set(self._any)
            for category in key:
                positions.update(self._buckets.get(category, ()))
            found = [self.rules[p] for p in sorted(positions)]
            if len(self._cache) < 4096:  # distinct category mixes are few; stay bounded anyway
                self._cache[key] = found
        return found

    def buckets(self) -> Dict[str, int]:
        """Category -> number of rules indexed under it ("*" for any category)."""
        sizes = {category: len(members) for category, members in sorted(self._buckets.items())}
        sizes["*"] = len(self._any)
        return sizes


def batch_categories(batch, category_field: str) -> FrozenSet[str]:
    """The event categories that occur in a batch (one core call for the column)."""
    found = set()
    for value in batch.column(category_field):
        if isinstance(value, list):
            found.update(v for v in value if isinstance(v, str))
        elif isinstance(value, str):
            found.add(value)
    return frozenset(found)
