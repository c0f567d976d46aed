"""Findings 1, 2 and 4: one deeply nested line killed the process (SIGSEGV);
events whose keys are all distinct grew memory with keys x batch size; and a
long line was held whole before the line limit applied, so a small .gz
holding one huge line took gigabytes.

Now such lines end as error records (`too_deep`, `too_many_fields`,
`line_too_long`) while the events around them are evaluated, within a
fixed memory limit, for plain, gzip and stdin input.
"""

import gzip

import pytest

from hostile_support import RULES, process_event, result, run_scenario

SCENARIO = """
import kestrel
engine = kestrel.Engine(project_fields=sys.argv[3:] != ["all-fields"])
engine.load(sys.argv[1])
alerts = engine.process_file(sys.argv[2])
kinds = sorted({p.split(": ")[1] for p in engine.problems})
report({"alerts": alerts, "received": engine.stats()["received"], "kinds": kinds})
"""

# ~1 GiB of heap: far below what the unbounded paths took (5-11 GB).
MEMORY = 1 << 30


def _write(path, lines, compress=False):
    data = b"".join(lines)
    if compress:
        path.write_bytes(gzip.compress(data, compresslevel=1))
    else:
        path.write_bytes(data)
    return path


def _around(middle):
    first = (process_event(1, "whoami.exe") + "\n").encode()
    last = (process_event(2, "whoami.exe") + "\n").encode()
    return [first, *middle, last]


RULE = RULES / "eql"


@pytest.mark.parametrize("shape", ["objects", "arrays"])
def test_deep_nesting_is_a_too_deep_record(tmp_path, shape):
    if shape == "objects":
        line = b'{"a":' * 30_000 + b"1" + b"}" * 30_000 + b"\n"
    else:
        line = b'{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    path = _write(tmp_path / "deep.ndjson", _around([line]))
    process = run_scenario(SCENARIO, str(RULE), str(path), memory=MEMORY)
    found = result(process)
    assert process.returncode == 0
    assert found["kinds"] == ["too_deep"] and found["received"] == 3


def test_distinct_keys_stay_within_bounded_memory(tmp_path):
    # 1.5 MB of small events, every key new: 5 GB before the column budget.
    # Decoding every field, the column budget cuts them off (and says so);
    # decoding only the rule's fields, none of them is stored at all.
    middle = [b'{"k%d":1,"event":{"category":["process"]}}\n' % i for i in range(40_000)]
    path = _write(tmp_path / "wide.ndjson", _around(middle))
    for fields, kinds in (["all-fields"], ["too_many_fields"]), ([], []):
        process = run_scenario(SCENARIO, str(RULE), str(path), *fields, memory=MEMORY)
        found = result(process)
        assert process.returncode == 0 and found["received"] == 40_002
        assert found["kinds"] == kinds


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_a_huge_line_is_cut_while_reading(tmp_path, compress):
    huge = b'{"a":"' + b"x" * (300 << 20) + b'"}\n'
    suffix = ".ndjson.gz" if compress else ".ndjson"
    path = _write(tmp_path / f"huge{suffix}", _around([huge]), compress)
    process = run_scenario(SCENARIO, str(RULE), str(path), memory=MEMORY, timeout=60)
    found = result(process)
    assert process.returncode == 0
    assert found["kinds"] == ["line_too_long"] and found["received"] == 3
