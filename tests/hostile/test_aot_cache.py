"""Finding 18: the AOT cache trusted its files.

An entry was checked only against its own checksum, so copying another
module's entry over it ran that module's native code. Entries now carry
the module's hash and the engine's key inside their checksummed header,
the directory is the user's alone (0700), and an entry that is a link,
another user's file or writable by others is never deserialised.
"""

import os
import stat

import pytest

from kestrel import EventBatch, Schema
from kestrel._core import WasmRule

ABOVE_1000 = """
(module
  (import "kestrel" "cmp_i64" (func $cmp (param i32 i32 i32 i64) (result i32)))
  (func (export "pred_eval") (param $ev i32) (result i32)
    (i32.eq (call $cmp (local.get $ev) (i32.const 0) (i32.const 4) (i64.const 1000)) (i32.const 1))))
"""
#: Matches every event: what an attacker's entry would make the rule do.
EVERYTHING = '(module (func (export "pred_eval") (param $ev i32) (result i32) (i32.const 1)))'


@pytest.fixture
def batch():
    events = [{"event": {"category": "process"}, "process": {"pid": pid}} for pid in (4242, 7)]
    return EventBatch.from_dicts(events, schema=Schema.default())


def load(wat, cache, rule_id="pid"):
    return WasmRule(wat.encode(), rule_id=rule_id, schema=Schema.default(), fields=["process.pid"], cache_dir=cache)


def entries(cache):
    return {p.name: p for p in cache.iterdir() if p.suffix == ".cwasm"}


def test_another_modules_entry_under_this_modules_name_is_refused(tmp_path, batch):
    cache = tmp_path / "aot"
    load(EVERYTHING, cache, "other")
    [(other_name, other)] = entries(cache).items()
    load(ABOVE_1000, cache)
    [mine] = [p for name, p in entries(cache).items() if name != other_name]
    mine.write_bytes(other.read_bytes())
    rule = load(ABOVE_1000, cache)
    assert rule.stats()["cache"] == "rebuilt"
    assert rule.evaluate(batch) == [0]
    assert load(ABOVE_1000, cache).stats()["cache"] == "hit"


def test_the_directory_is_private_and_entries_must_be_the_users_own(tmp_path, batch):
    cache = tmp_path / "aot"
    load(ABOVE_1000, cache)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    [entry] = entries(cache).values()
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    # Group-writable: someone else may have written it.
    entry.chmod(0o664)
    assert load(ABOVE_1000, cache).stats()["cache"] == "rebuilt"
    # A link, even to a valid entry.
    [entry] = entries(cache).values()
    (tmp_path / "elsewhere.cwasm").write_bytes(entry.read_bytes())
    entry.unlink()
    entry.symlink_to(tmp_path / "elsewhere.cwasm")
    rule = load(ABOVE_1000, cache)
    assert rule.stats()["cache"] == "rebuilt" and not entry.is_symlink()
    assert rule.evaluate(batch) == [0]
    # A directory opened up by hand is narrowed again.
    cache.chmod(0o777)
    assert load(ABOVE_1000, cache).stats()["cache"] == "hit"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="giving the directory to another user needs root")
def test_a_directory_of_another_user_is_never_read_or_written(tmp_path, batch):
    cache = tmp_path / "aot"
    load(ABOVE_1000, cache)
    os.chown(cache, 65534, 65534)
    before = sorted(entries(cache))
    rule = load(ABOVE_1000, cache)
    assert rule.stats()["cache"] == "compiled"
    assert rule.evaluate(batch) == [0]
    assert sorted(entries(cache)) == before
