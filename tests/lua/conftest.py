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


VMS = ["lupa.luajit21", "lupa.lua54"]


@pytest.fixture(params=VMS, ids=["luajit", "lua54"])
def vm(request):
    """Each test runs on LuaJIT and on the PUC Lua 5.4 fallback."""
    return request.param


@pytest.fixture
def make_rule(vm):
    """Build a LuaRule from source with the seed's field table."""

    def make(source: str, *, trusted: bool = False, limits: LuaLimits | None = None, **kwargs) -> LuaRule:
        return LuaRule("test_rule", source, fields=SEED_FIELDS, trusted=trusted, limits=limits, vm=vm, **kwargs)

    return make
