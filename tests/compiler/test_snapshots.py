"""Compiler snapshots: each query in fixtures/ with its IR and its WAT, byte for byte.

The IR is the JSON contract with the Rust loader, and the WAT is what the
Wasm backend makes of it; both must be deterministic. Queries compile
against an empty schema, so field ids are assigned in order of appearance
and do not depend on the ECS field list. A new case is a new
``fixtures/NAME.eql``. After an intended change, regenerate every snapshot
with ``KESTREL_UPDATE_SNAPSHOTS=1 pytest tests/compiler/test_snapshots.py``,
review the diff, and bump ``ir_version`` if the IR's meaning changed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import kestrel
from kestrel.compiler import compile

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CASES = sorted(path.stem for path in FIXTURES.glob("*.eql"))
UPDATE = bool(os.environ.get("KESTREL_UPDATE_SNAPSHOTS"))


def _compiled(name: str):
    query = (FIXTURES / f"{name}.eql").read_text(encoding="utf-8").strip()
    return compile(query, schema=kestrel.Schema.empty())


def _check(path: Path, text: str) -> None:
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path.name} has no snapshot: run with KESTREL_UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(encoding="utf-8")


def test_every_fixture_has_both_snapshots():
    assert CASES, "no fixtures"
    for name in CASES:
        assert (FIXTURES / f"{name}.ir.json").exists() and (FIXTURES / f"{name}.wat").exists(), name


@pytest.mark.parametrize("name", CASES)
def test_ir_snapshot(name):
    _check(FIXTURES / f"{name}.ir.json", _compiled(name).ir_json(indent=2) + "\n")


@pytest.mark.parametrize("name", CASES)
def test_wat_snapshot(name):
    first, second = _compiled(name).wat, _compiled(name).wat
    assert first == second, "the WAT is not deterministic"
    _check(FIXTURES / f"{name}.wat", first)
