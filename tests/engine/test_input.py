"""Input handling: malformed lines, compressed files, stdin, and the input-error exit code."""

import gzip
import io
import json
import sys

import pytest
from engine_support import RULES, ndjson

import kestrel
from kestrel.cli import main

DNS = RULES / "eql" / "dns_known_bad_domain.eql"


@pytest.fixture
def mixed(tmp_path, bad_dns):
    path = tmp_path / "events.ndjson"
    good = json.dumps(bad_dns)
    path.write_text(f"{good}\n{{broken\n{good}\n[1, 2]\n{good}\n")
    return path


def test_good_lines_are_processed_and_bad_ones_counted_with_their_line_numbers(mixed):
    engine = kestrel.Engine(batch_size=2)  # line numbers must survive batching
    engine.load(DNS)
    assert engine.process_file(mixed) == 3
    stats = engine.stats()
    assert (stats["received"], stats["processed"], stats["malformed"]) == (5, 3, 2)
    assert [p.split(": ")[0] for p in engine.problems] == [f"{mixed}:2", f"{mixed}:4"]
    assert "malformed_json" in engine.problems[0]


def test_cli_reports_bad_lines_and_exits_3_over_the_threshold(mixed, capsys):
    assert main(["run", "--rules", str(DNS), "--events", str(mixed), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["malformed"] == 2 and f"input   {mixed}:2: malformed_json" in err
    assert main(["run", "--rules", str(DNS), "--events", str(mixed), "--json", "--max-input-errors", "1"]) == 3
    assert main(["run", "--rules", str(DNS), "--events", str(mixed), "--json", "--max-input-errors", "2"]) == 0
    assert main(["run", "--rules", str(DNS), "--events", str(mixed.parent / "missing.ndjson")]) == 3
    assert "no such events file" in capsys.readouterr().err


def test_gzip_files_are_streamed(tmp_path, bad_dns):
    path = tmp_path / "events.ndjson.gz"
    path.write_bytes(gzip.compress(ndjson([bad_dns] * 3).encode()))
    engine = kestrel.Engine(batch_size=2)
    engine.load(DNS)
    assert engine.process_file(path) == 3


def test_zstd_files_need_zstandard(tmp_path, bad_dns):
    path = tmp_path / "events.ndjson.zst"
    try:
        import zstandard
    except ModuleNotFoundError:
        path.write_bytes(b"\x28\xb5\x2f\xfd")
        with pytest.raises(kestrel.EngineError, match="needs the zstandard package"):
            kestrel.Engine().process_file(path)
        return
    path.write_bytes(zstandard.ZstdCompressor().compress(ndjson([bad_dns] * 3).encode()))
    engine = kestrel.Engine()
    engine.load(DNS)
    assert engine.process_file(path) == 3


def test_stdin(monkeypatch, bad_dns, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(ndjson([bad_dns] * 2).encode())))
    assert main(["run", "--rules", str(DNS), "--events", "-"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_dicts_and_event_batches(bad_dns):
    engine = kestrel.Engine()
    engine.load(DNS)
    batch = kestrel.EventBatch.from_dicts([bad_dns], schema=engine.schema)
    assert len(engine.process(batch)) == 1 and len(engine.process([bad_dns])) == 1
    assert engine.stats()["processed"] == 2


@pytest.mark.parametrize("workers", [0, 2, 3])
@pytest.mark.parametrize("batch_size", [1, 2, 3, 1000])
def test_plain_and_compressed_files_give_the_same_alerts_counts_and_line_numbers(tmp_path, mixed, batch_size, workers):
    # Plain files are split (and, with workers, decoded on threads) by the
    # core, compressed ones by Python: the results, down to each problem's
    # line number, must not tell them apart, whatever the worker count.
    # The last line lacks its newline, and blank lines count as lines.
    text = mixed.read_text().replace("{broken\n", "{broken\n\n") + json.dumps({"event": {"category": ["dns"]}})
    plain, packed = tmp_path / "plain.ndjson", tmp_path / "packed.ndjson.gz"
    plain.write_text(text)
    packed.write_bytes(gzip.compress(text.encode()))

    def run(path):
        engine = kestrel.Engine(batch_size=batch_size, workers=workers)
        engine.load(DNS)
        alerts = engine.process_file(path)
        stats = engine.stats()
        # "<path>:<line>: <kind>: <message>" -> (line, kind)
        problems = [tuple(p[len(str(path)) + 1 :].split(": ")[:2]) for p in engine.problems]
        return alerts, stats["received"], stats["processed"], stats["malformed"], problems

    assert run(plain) == run(packed) == (3, 6, 4, 2, [("2", "malformed_json"), ("5", "not_an_object")])


@pytest.mark.parametrize("kind", ["gz", "zst"])
def test_concatenated_members_and_frames_read_exactly_as_the_plain_text(tmp_path, mixed, kind):
    # gzip members (zero-padded, as some tools write them) and zstd frames
    # are read one after the other; what comes out is the plain text, byte for byte.
    if kind == "zst":
        zstandard = pytest.importorskip("zstandard")
        pack, padding = zstandard.ZstdCompressor().compress, b""
    else:
        pack, padding = gzip.compress, b"\0" * 16
    text = mixed.read_bytes() * 200
    middle = text.index(b"\n", len(text) // 2) + 1
    packed = tmp_path / f"events.ndjson.{kind}"
    packed.write_bytes(pack(text[:middle]) + padding + pack(text[middle:]) + padding)
    from kestrel.engine.reader import chunks, open_events

    with open_events(str(packed)) as stream:
        assert b"".join(chunk.data for chunk in chunks(stream, 7)) == text
    engine = kestrel.Engine()
    engine.load(DNS)
    assert engine.process_file(packed) == 600 and engine.stats()["malformed"] == 400


def test_the_core_decodes_a_files_chunks_on_threads_and_numbers_events_by_line(tmp_path):
    lines = [json.dumps({"n": i}) for i in range(8)]
    lines[4] = "{broken"
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(lines) + "\n")
    reader = kestrel._core.NdjsonFile(path, 3)
    found, seq = reader.next_batches(100, 2)
    # Two chunks of three lines, each given as many numbers as it has lines
    # (from 100), so a chunk's numbers are known before it is decoded.
    assert [(first_line, len(batch)) for batch, first_line, _ in found] == [(1, 3), (4, 2)]
    assert [batch.seq(i) for batch, _, _ in found for i in range(len(batch))] == [100, 101, 102, 103, 104]
    assert [(e.line, e.kind) for e in found[1][0].errors] == [(2, "malformed_json")]
    assert [batch.get(i, "n") for batch, _, _ in found for i in range(len(batch))] == [0, 1, 2, 3, 5]
    found, seq = reader.next_batches(seq, 2)
    assert [(first_line, len(batch)) for batch, first_line, _ in found] == [(7, 2)]
    assert found[0][2] == path.stat().st_size and seq == 108
    assert reader.next_batches(seq, 2) == ([], seq)
