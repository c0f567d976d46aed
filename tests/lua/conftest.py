"""Helpers for the Lua runtime tests."""

from __future__ import annotations

import pytest

import kestrel
from kestrel.packages import FieldTable
from kestrel.runtime.lua import LuaLimits, LuaRule

SEED_FIELDS = FieldTable({1: "process.pid", 2: "process.name"})

EVENTS = [
    {"process": {"pid": 4242, "name": "suspicious.exe"}},
    {"process": {"pid": 10, "name": "bash"}},
    {},
]


@pytest.fixture
def batch():
    return kestrel.EventBatch.from_dicts(EVENTS)


@pytest.fixture
def make_rule():
    """Build a LuaRule from source with the seed's field table."""

    def make(source: str, *, trusted: bool = False, limits: LuaLimits | None = None, **kwargs) -> LuaRule:
        return LuaRule("test_rule", source, fields=SEED_FIELDS, trusted=trusted, limits=limits, **kwargs)

    return make
