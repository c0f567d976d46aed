"""Finding 13: a truncated .zst read as complete (0 events, exit 0), a truncated
.gz raised a raw EOFError after dropping decompressed lines uncounted, and
corrupt .gz/.zst gave raw zlib/zstd errors with exit 1 instead of 3.

Now every line decompressed before the damage is evaluated, the damage is
an EventInputError with the compressed byte offset, and the CLI exits 3.
"""

import gzip

import pytest

from hostile_support import RULES, one_line_error, process_event, result, run_cli, run_scenario

zstandard = pytest.importorskip("zstandard")

LINES = 20000
RULE = RULES / "eql"  # any rule set: what is checked is how much input is read
TEXT = "".join(process_event(n) + "\n" for n in range(LINES)).encode()


def _damaged(tmp_path, kind, damage):
    packed = gzip.compress(TEXT) if kind == "gz" else zstandard.ZstdCompressor().compress(TEXT)
    if damage == "truncated":
        packed = packed[: len(packed) // 2]
    else:  # a run of flipped bytes in the middle
        middle = bytearray(packed)
        for i in range(len(middle) // 2, len(middle) // 2 + 64):
            middle[i] ^= 0x5A
        packed = bytes(middle)
    path = tmp_path / f"events.ndjson.{kind}"
    path.write_bytes(packed)
    return path, len(packed)


@pytest.mark.parametrize("kind", ["gz", "zst"])
@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
@pytest.mark.parametrize("workers", [0, 2])
def test_damaged_compressed_input_is_read_up_to_the_damage_then_reported(tmp_path, kind, damage, workers):
    # With workers, chunks are decoded on threads ahead of evaluation: those
    # read before the damage are still evaluated.
    path, size = _damaged(tmp_path, kind, damage)
    process = run_scenario(
        """
        import kestrel
        engine = kestrel.Engine(batch_size=100, workers=int(sys.argv[2]))
        try:
            engine.process_file(sys.argv[1])
            report({"error": None})
        except kestrel.KestrelError as error:
            stats = engine.stats()
            report({"error": type(error).__name__, "offset": error.offset, "message": str(error),
                    "received": stats["received"], "processed": stats["processed"], "malformed": stats["malformed"]})
        """,
        str(path),
        str(workers),
    )
    found = result(process)
    assert found["error"] == "EventInputError"
    assert 0 < found["offset"] <= size and f"{found['offset']:,}" in found["message"]
    # Half the compressed file holds far more than a batch of lines: each one
    # read is evaluated or counted as malformed (the cut last one, garbage).
    assert LINES // 4 < found["received"] < LINES + 100
    assert found["processed"] + found["malformed"] == found["received"] and found["processed"] > LINES // 4
    cli = run_cli("run", "--rules", str(RULE), "--events", str(path), "--json")
    assert cli.returncode == 3
    assert ("cut short" if damage == "truncated" else "corrupt") in one_line_error(cli)
