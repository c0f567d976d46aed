"""The budget check: a measured ns/event against a maximum.

Shared by `kestrel bench --budget-ns` and the `budget` fixture of
`benches/conftest.py`, so both fail with the same message: the benchmark,
the budget and the measured value.
"""

from __future__ import annotations

from typing import Optional


def over_budget(name: str, ns_per_event: float, limit: Optional[float], *, group: str = "") -> Optional[str]:
    """The failure message if `ns_per_event` exceeds `limit`, else None (no limit: never over)."""
    if limit is None or ns_per_event <= limit:
        return None
    where = f" ({group})" if group else ""
    return f"{name}: {ns_per_event:.1f} ns/event is over its budget of {limit:.0f} ns/event{where}"
