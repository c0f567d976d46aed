"""Compile options: one explicit, immutable object instead of global state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import FrozenSet, Optional

#: ECS 9.x allowed values of `event.category`.
ECS_CATEGORIES: FrozenSet[str] = frozenset(
    {
        "api",
        "authentication",
        "configuration",
        "database",
        "driver",
        "email",
        "file",
        "host",
        "iam",
        "intrusion_detection",
        "library",
        "malware",
        "network",
        "package",
        "process",
        "registry",
        "session",
        "threat",
        "vulnerability",
        "web",
    }
)

TIMESTAMP_UNITS = ("ns", "us", "ms", "s", "filetime")


@dataclass(frozen=True)
class CompileOptions:
    """How :func:`kestrel.compile` treats a query.

    Attributes:
        strict: reject fields the schema does not declare (E030) and event
            categories outside `categories` (E045).  Off by default: unknown
            fields get auto-assigned FieldIds, as the production corpus needs.
        categories: the categories accepted in strict mode (ECS by default).
        category_field: the field holding an event's category
            (Elasticsearch's `event_category_field`).
        timestamp_field: the field ordering events in sequences.
        timestamp_unit: unit of numeric timestamps: ns, us, ms, s, or
            "filetime" (100 ns ticks since 1601, as in the Endgame data).
        tiebreaker_field: optional field ordering events with equal timestamps.
        optimize: run the optimisation passes (they never change results).
    """

    strict: bool = False
    categories: FrozenSet[str] = ECS_CATEGORIES
    category_field: str = "event.category"
    timestamp_field: str = "@timestamp"
    timestamp_unit: str = "ms"
    tiebreaker_field: Optional[str] = None
    optimize: bool = True

    def __post_init__(self) -> None:
        if self.timestamp_unit not in TIMESTAMP_UNITS:
            raise ValueError(f"timestamp_unit must be one of {', '.join(TIMESTAMP_UNITS)}")
