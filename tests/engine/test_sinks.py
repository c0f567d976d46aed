"""Every sink, through the API and the CLI, and alert deduplication."""

import io
import json

from engine_support import RULES, ndjson

import kestrel
from kestrel.cli import main
from kestrel.engine import CallbackSink, ElasticsearchBulkSink, FileSink, StdoutSink

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
