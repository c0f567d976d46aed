"""Shared data for the engine tests: the repository's bundled rules and small event files.

(A module of its own, not conftest: `tests` and `benches` both have a conftest,
so `from conftest import ...` would be ambiguous when they run together.)
"""

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "rules"
EVENTS = REPO / "examples" / "events.ndjson"


def event(category, **fields):
    """A minimal ECS event of `category` on host h1."""
    base = {"@timestamp": "2026-01-05T08:00:00.000Z", "event": {"category": [category], "type": ["start"]}, "host": {"id": "h1"}}
    base.update(fields)
    return base


def ndjson(events):
    return "".join(json.dumps(e) + "\n" for e in events)
