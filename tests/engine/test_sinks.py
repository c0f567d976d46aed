"""Every sink, through the API and the CLI, and alert deduplication."""

import io
import json
import threading
import time

import pytest
from engine_support import EVENTS, RULES, event, ndjson

import kestrel
from kestrel.cli import main
from kestrel.engine import CallbackSink, ElasticsearchBulkSink, FileSink, StdoutSink
from kestrel.engine.sinks import Sink

CERTUTIL = RULES / "eql" / "certutil_download.eql"


def test_stdout_sink_writes_json_lines(certutil, capsys):
    engine = kestrel.Engine(sinks=[StdoutSink()])
    engine.load(CERTUTIL)
    engine.process([certutil])
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["rule"]["id"] == "certutil_download"


def test_file_sink_appends_and_flushes_every_batch(tmp_path, certutil):
    path = tmp_path / "alerts.ndjson"
    path.write_text('{"earlier": true}\n')
    engine = kestrel.Engine(sinks=[FileSink(path)], batch_size=1)
    engine.load(CERTUTIL)
    engine.process([certutil, certutil])
    # Readable before close: each batch is flushed.
    lines = path.read_text().splitlines()
    assert json.loads(lines[0]) == {"earlier": True}
    assert [json.loads(line)["rule"]["id"] for line in lines[1:]] == ["certutil_download"] * 2
    engine.close()


def test_callback_sink_gets_each_alert(certutil):
    seen = []
    engine = kestrel.Engine(sinks=[CallbackSink(seen.append)])
    engine.load(CERTUTIL)
    returned = engine.process([certutil])
    assert seen == returned and len(seen) == 1


def test_elasticsearch_bulk_sink_pairs_an_action_with_each_alert(certutil):
    stream = io.StringIO()
    engine = kestrel.Engine(sinks=[ElasticsearchBulkSink(stream, index="alerts-test", action="index")])
    engine.load(CERTUTIL)
    engine.process([certutil, certutil])
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0::2] == [{"index": {"_index": "alerts-test"}}] * 2
    assert all(doc["rule"]["id"] == "certutil_download" and "@timestamp" in doc for doc in lines[1::2])


def test_cli_alerts_to_a_file_and_to_bulk_format(tmp_path, certutil, capsys):
    events = tmp_path / "events.ndjson"
    events.write_text(ndjson([certutil]))
    plain, bulk = tmp_path / "alerts.ndjson", tmp_path / "alerts.bulk"
    for target in (plain, bulk):
        assert main(["run", "--rules", str(CERTUTIL), "--events", str(events), "--alerts", str(target)]) == 0
    assert capsys.readouterr().out == ""
    assert json.loads(plain.read_text())["kind"] == "event"
    action, doc = bulk.read_text().splitlines()
    assert json.loads(action) == {"create": {"_index": "logs-kestrel.alerts-default"}}
    assert json.loads(doc)["rule"]["id"] == "certutil_download"


def test_identical_alerts_within_the_window_are_suppressed_and_counted(certutil):
    later = dict(certutil, **{"@timestamp": "2026-01-05T08:10:00.000Z"})
    engine = kestrel.Engine(dedup_window="1m")
    engine.load(CERTUTIL)
    alerts = engine.process([certutil, certutil, later])
    assert [a["@timestamp"] for a in alerts] == ["2026-01-05T08:00:00.000Z", "2026-01-05T08:10:00.000Z"]
    stats = engine.stats()
    assert (stats["alerts"], stats["deduplicated"], stats["rules"]["certutil_download"]["matches"]) == (2, 1, 3)
    off = kestrel.Engine()
    off.load(CERTUTIL)
    assert len(off.process([certutil, certutil])) == 2


def test_file_alerts_carry_the_original_event_bytes(tmp_path):
    # Evidence is spliced in as read: key order, spacing and non-ASCII text
    # survive, and the line is still one valid JSON document.
    line = '{"process": {"name": "certutil.exe", "title": "Zertifikatsprüfung"}, "event": {"category": ["process"]}, "@timestamp": "2026-01-05T08:00:00Z"}'
    events = tmp_path / "events.ndjson"
    events.write_text(line + "\n", encoding="utf-8")
    alerts = tmp_path / "alerts.ndjson"
    engine = kestrel.Engine(sinks=[alerts])
    engine.load('process where process.name : "CERTUTIL.exe"', rule_id="certutil")
    engine.process_file(events)
    engine.close()
    [written] = alerts.read_text(encoding="utf-8").splitlines()
    assert f'"events":[{line}]' in written
    doc = json.loads(written)
    assert doc["events"][0]["process"]["title"] == "Zertifikatsprüfung"
    assert (doc["kind"], doc["@timestamp"], doc["rule"]["id"]) == ("event", "2026-01-05T08:00:00.000Z", "certutil")


def test_sequence_alerts_in_a_sink_have_join_keys_captures_and_missing_steps(tmp_path):
    rule = 'sequence by host.id with maxspan=1m [process where process.name == "a.exe"] ![file where file.name == "x"]'
    alerts = tmp_path / "alerts.ndjson"
    engine = kestrel.Engine(sinks=[alerts])
    engine.load(rule, rule_id="no_file_after_a")
    engine.process([event("process", process={"name": "a.exe"})])
    engine.flush()
    engine.close()
    [doc] = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert doc["kind"] == "sequence" and doc["join_keys"] == [event("process")["host"]["id"]]
    assert doc["events"][0]["process"]["name"] == "a.exe" and doc["events"][1] == {"missing": True}
    assert doc["captures"][0]["process.name"] == "a.exe" and doc["captures"][1] == {}


def test_eql_text_longer_than_a_file_name_loads_as_a_rule():
    engine = kestrel.Engine()
    query = "process where process.name in (" + ", ".join(f'"n{i}.exe"' for i in range(200)) + ")"
    report = engine.load(query)
    assert report.ok and [r["kind"] for r in engine.rules()] == ["event"]


@pytest.mark.parametrize("workers", [0, 1])
def test_a_failing_sink_is_retried_then_stops_the_input_and_is_counted(tmp_path, workers):
    # /dev/full takes the open and refuses every write: a disk that is full.
    lines = EVENTS.read_bytes().splitlines(keepends=True)
    events = tmp_path / "events.ndjson"
    events.write_bytes(b"".join(lines) * 2)
    seen = []
    engine = kestrel.Engine(workers=workers, batch_size=500, sinks=[FileSink("/dev/full"), CallbackSink(seen.append)])
    engine.load(RULES / "eql")
    with pytest.raises(
        kestrel.SinkError, match=r"sink FileSink\(/dev/full\): \d+ alert\(s\) not delivered: OSError.*after 3 attempt\(s\)"
    ):
        engine.process_file(events)
    stats = engine.stats()
    full, callback = stats["sinks"]
    assert full["failed"] > 0 and full["delivered"] == 0 and "No space left" in full["last_error"]
    # The other sink got the failed block, and input stopped within a few batches.
    assert callback["delivered"] == len(seen) == full["failed"] > 0
    assert stats["processed"] <= 500 * 4 < 2 * len(lines)
    engine.close()


def test_a_sink_that_recovers_within_its_retries_loses_nothing(certutil):
    calls = []

    class Flaky(Sink):
        def write(self, alerts):
            calls.append(len(alerts))
            if len(calls) == 1:
                raise OSError("a hiccup")

    engine = kestrel.Engine(sinks=[Flaky()])
    engine.load(RULES / "eql")
    assert engine.process([certutil])
    assert calls == [1, 1] and engine.stats()["sinks"][0] == {
        "sink": "Flaky",
        "delivered": 1,
        "failed": 0,
        "last_error": "OSError: a hiccup",
    }


def test_a_sink_that_never_returns_times_out_and_stops_the_input(certutil):
    release = threading.Event()

    class Stuck(Sink):
        def write(self, alerts):
            release.wait(60)  # a reader that never reads

    engine = kestrel.Engine(sinks=[Stuck()], sink_timeout=0.2)
    engine.load(RULES / "eql")
    started = time.monotonic()
    with pytest.raises(kestrel.SinkError, match=r"did not finish within 0.2 s \(after 1 attempt"):
        engine.process([certutil])
    assert time.monotonic() - started < 30
    assert engine.stats()["sinks"][0]["failed"] == 1
    release.set()
    engine.close()


def test_input_limits_are_engine_options(tmp_path):
    engine = kestrel.Engine(max_line_bytes="1KB", max_string_bytes=64)
    engine.load(RULES / "eql")  # rules that read process.name: the decoder stores it
    long_line = json.dumps(event("process", process={"name": "x" * 2000})) + "\n"
    long_string = json.dumps(event("process", process={"name": "y" * 100})) + "\n"
    path = tmp_path / "events.ndjson"
    path.write_text(long_line + long_string)
    engine.process_file(path)
    kinds = sorted({p.split(": ")[1] for p in engine.problems})
    assert kinds == ["line_too_long", "string_too_long"]
    with pytest.raises(kestrel.EngineError, match="max_line_bytes"):
        kestrel.Engine(max_line_bytes=0)
    with pytest.raises(kestrel.EngineError, match="sink_timeout"):
        kestrel.Engine(sink_timeout=-1)
