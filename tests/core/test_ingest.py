"""EventBatch ingest: ECS JSON into typed columns, metadata, and evidence."""

import json

import pytest

import kestrel
from kestrel import EventBatch, Schema


def nd(*events) -> bytes:
    return b"".join((e if isinstance(e, bytes) else json.dumps(e).encode()) + b"\n" for e in events)


PROC = {
    "@timestamp": "2026-03-01T10:00:00.250Z",
    "event": {"category": ["process"], "type": ["start"]},
    "host": {"id": "h-1", "name": "ws-1"},
    "process": {
        "pid": 4242,
        "name": "cmd.exe",
        "args": ["cmd.exe", "/c", "whoami"],
        "parent": {"pid": 1, "name": "explorer.exe"},
    },
}


def test_nested_ecs_flattens_to_dotted_typed_columns():
    b = EventBatch.from_ndjson(nd(PROC))
    assert len(b) == 1 and b.errors == []
    assert b.get(0, "process.pid") == 4242
    assert b.get(0, "process.parent.name") == "explorer.exe"
    assert b.get(0, "process.args") == ["cmd.exe", "/c", "whoami"]
    assert b.categories(0) == ["process"]
    assert b.entity_key(0) == "h-1"
    assert b.timestamp(0) == 1772359200250000000


def test_flat_dotted_keys_and_nested_keys_are_the_same_field():
    b = EventBatch.from_dicts([{"process.pid": 7}, {"process": {"pid": 8}}])
    assert b.column("process.pid") == [7, 8]


def test_missing_fields_are_null_per_event():
    b = EventBatch.from_ndjson(nd({"process": {"pid": 1}}, {"file": {"path": "/x"}}, {"process": {"pid": 3}}))
    assert b.column("process.pid") == [1, None, 3]
    assert b.column("file.path") == [None, "/x", None]
    assert b.column("no.such.field") == [None, None, None]


def test_arrays_of_objects_gather_each_leaf():
    ev = {"dns": {"answers": [{"data": "1.2.3.4", "ttl": 5}, {"data": "5.6.7.8", "ttl": 6}]}}
    b = EventBatch.from_ndjson(nd(ev))
    assert b.get(0, "dns.answers.data") == ["1.2.3.4", "5.6.7.8"]
    assert b.get(0, "dns.answers.ttl") == [5, 6]


def test_category_may_be_a_string_or_an_array():
    b = EventBatch.from_ndjson(nd({"event": {"category": "network"}}, {"event": {"category": ["process", "file"]}}, {}))
    assert [b.categories(i) for i in range(3)] == [["network"], ["process", "file"], []]


@pytest.mark.parametrize(
    ("value", "unit", "expected_ns"),
    [
        ("2026-03-01T10:00:00Z", "ms", 1772359200000000000),
        ("2026-03-01T11:00:00+01:00", "ms", 1772359200000000000),
        ("2026-03-01T10:00:00.123456789Z", "ms", 1772359200123456789),
        ("2026-03-01", "ms", 1772323200000000000),
        (1772359200000, "ms", 1772359200000000000),
        ("1772359200000", "ms", 1772359200000000000),
        (1772359200, "s", 1772359200000000000),
        (1772359200.5, "s", 1772359200500000000),
        (116444736000000000, "filetime", 0),
    ],
)
def test_timestamps_iso_and_epoch(value, unit, expected_ns):
    b = EventBatch.from_ndjson(nd({"@timestamp": value}), timestamp_unit=unit)
    assert b.timestamp(0) == expected_ns


def test_timestamp_field_and_category_field_are_configurable():
    b = EventBatch.from_ndjson(
        nd({"timestamp": 116444736010000000, "event_type": "process", "serial_event_id": 1}),
        timestamp_field="timestamp",
        timestamp_unit="filetime",
        category_field="event_type",
        entity_field="serial_event_id",
    )
    assert b.timestamp(0) == 1_000_000_000
    assert b.categories(0) == ["process"]
    assert b.entity_key(0) == "1"


def test_bad_timestamp_keeps_the_event_and_reports_it():
    b = EventBatch.from_ndjson(nd({"@timestamp": "yesterday", "process": {"pid": 1}}))
    assert len(b) == 1 and b.timestamp(0) is None
    [err] = b.errors
    assert (err.kind, err.line, err.field, err.dropped) == ("bad_timestamp", 1, "@timestamp", False)


def test_unicode_values_and_escapes_survive():
    ev = {"process": {"name": "Ünïcødé.exe", "command_line": 'say "hi"\n\t\\ 🦅'}, "user": {"name": "Ярослав"}}
    b = EventBatch.from_ndjson(nd(ev))
    assert b.get(0, "process.name") == "Ünïcødé.exe"
    assert b.get(0, "process.command_line") == 'say "hi"\n\t\\ 🦅'
    assert b.get(0, "user.name") == "Ярослав"
    assert b.to_dicts() == [ev]


def test_original_json_is_kept_byte_for_byte():
    line = b'{"b": 1,   "a": {"x": "\\u00e9"}, "a.y": 2}'
    b = EventBatch.from_ndjson(line + b"\n")
    assert b.raw(0) == line
    assert b.to_dicts() == [json.loads(line)]


def test_lines_sequence_numbers_and_source():
    data = nd({"a": 1}) + b"\n   \n" + nd({"a": 2})
    b = EventBatch.from_ndjson(data, source="stream-x", first_seq=100)
    assert [b.line(0), b.line(1)] == [1, 4]
    assert [b.seq(0), b.seq(1)] == [100, 101]
    assert b.source == "stream-x"
    assert b.lines_read == 2


def test_from_file_path(tmp_path):
    p = tmp_path / "events.ndjson"
    p.write_bytes(nd(PROC, PROC))
    b = EventBatch.from_ndjson(p)
    assert len(b) == 2 and b.source == str(p)
    b2 = EventBatch.from_ndjson(str(p))
    assert len(b2) == 2


def test_unreadable_file_raises_ingest_error(tmp_path):
    with pytest.raises(kestrel.IngestError, match="nope.ndjson"):
        EventBatch.from_ndjson(tmp_path / "nope.ndjson")
    with pytest.raises(TypeError):
        EventBatch.from_ndjson(12345)


def test_crlf_bom_and_missing_final_newline():
    data = b"\xef\xbb\xbf" + json.dumps({"a": 1}).encode() + b"\r\n" + json.dumps({"a": 2}).encode()
    b = EventBatch.from_ndjson(data)
    assert b.column("a") == [1, 2] and b.errors == []


class TestTypeInference:
    def test_first_sighting_sets_the_type(self):
        s = Schema.default()
        EventBatch.from_ndjson(nd({"custom": {"n": 5, "f": 1.5, "b": True, "s": "x"}}), schema=s)
        assert [s.lookup(f"custom.{k}").type for k in "nfbs"] == ["i64", "f64", "bool", "string"]
        assert s.lookup("custom.n").auto

    def test_compile_time_unknown_is_settled_by_ingest(self):
        s = Schema.default()
        assert s.resolve("custom.late").type == "unknown"
        EventBatch.from_ndjson(nd({"custom": {"late": 9}}), schema=s)
        assert s.lookup("custom.late").type == "i64"

    def test_later_conflict_is_recorded_and_the_value_kept(self):
        s = Schema.default()
        b = EventBatch.from_ndjson(nd({"c": {"v": 1}}, {"c": {"v": "two"}}, {"c": {"v": 3}}), schema=s)
        assert b.errors == []
        assert b.column("c.v") == [[1], ["two"], [3]]  # a mixed column keeps every value
        assert s.conflicts() == [("c.v", "i64", "string")]
        assert s.lookup("c.v").type == "i64"


class TestBadInput:
    def test_malformed_lines_are_reported_and_good_lines_kept(self):
        data = nd(PROC) + b"{not json\n" + nd(PROC) + b'{"a": }\n' + b"[1, 2]\n" + b'"just a string"\n' + nd(PROC)
        b = EventBatch.from_ndjson(data, source="feed")
        assert len(b) == 3
        assert b.dropped == 4 and b.lines_read == 7
        kinds = [(e.line, e.kind, e.dropped) for e in b.errors]
        assert kinds == [
            (2, "malformed_json", True),
            (4, "malformed_json", True),
            (5, "not_an_object", True),
            (6, "not_an_object", True),
        ]
        assert "column" in b.errors[0].message
        assert str(b.errors[0]).startswith("feed:2: malformed_json")
        assert [b.line(i) for i in range(3)] == [1, 3, 7]

    def test_wrong_typed_value_nulls_the_field_and_keeps_the_event(self):
        b = EventBatch.from_ndjson(nd({"process": {"pid": "not-a-number", "name": "x"}}, {"process": {"pid": "77"}}))
        assert len(b) == 2
        assert b.column("process.pid") == [None, 77]  # numeric strings coerce, as in Elasticsearch
        assert b.get(0, "process.name") == "x"
        [err] = b.errors
        assert (err.line, err.kind, err.field, err.dropped) == (1, "wrong_type", "process.pid", False)
        assert "not-a-number" in err.message
        assert b.to_dicts()[0]["process"]["pid"] == "not-a-number"  # evidence keeps the original

    @pytest.mark.parametrize(
        ("value", "reason"),
        [(True, "boolean"), (1.5, "number"), (2**64 - 1, "above"), ({"x": 1}, None)],
    )
    def test_every_wrong_type_for_an_integer_field(self, value, reason):
        b = EventBatch.from_ndjson(nd({"process": {"pid": value}}))
        assert len(b) == 1
        if reason is None:  # an object under a scalar field flattens to a new path instead
            assert b.get(0, "process.pid.x") == 1
            return
        [err] = b.errors
        assert err.kind == "wrong_type" and reason in err.message

    def test_numbers_into_keyword_fields_become_text(self):
        b = EventBatch.from_ndjson(nd({"process": {"name": 12}}, {"process": {"name": True}}))
        assert b.column("process.name") == ["12", "true"] and b.errors == []

    def test_over_long_string_is_rejected_per_field(self):
        b = EventBatch.from_ndjson(nd({"process": {"name": "x" * 100, "pid": 1}}), max_string_bytes=50)
        assert b.get(0, "process.name") is None and b.get(0, "process.pid") == 1
        [err] = b.errors
        assert (err.kind, err.field) == ("string_too_long", "process.name")

    def test_over_long_line_is_dropped_and_counted(self):
        b = EventBatch.from_ndjson(nd({"a": "y" * 500}, {"a": "ok"}), max_line_bytes=200)
        assert b.column("a") == ["ok"]
        [err] = b.errors
        assert (err.line, err.kind, err.dropped) == (1, "line_too_long", True)

    def test_invalid_utf8_is_malformed(self):
        b = EventBatch.from_ndjson(b'{"a": "\xff\xfe"}\n{"a": "fine"}\n')
        assert b.column("a") == ["fine"]
        assert b.errors[0].kind == "malformed_json"

    def test_deeply_nested_json_does_not_crash(self):
        deep = b'{"a":' * 5000 + b"1" + b"}" * 5000
        b = EventBatch.from_ndjson(deep + b"\n" + nd({"ok": 1}))
        assert b.column("ok")[-1] == 1
        assert len(b) + b.dropped == 2

    def test_unserialisable_dict_values_become_records(self):
        b = EventBatch.from_dicts([{"a": 1}, {"n": float("nan")}, "not a dict", {"a": 2}])
        assert b.column("a") == [1, 2]
        assert sorted((e.line, e.kind) for e in b.errors) == [(2, "malformed_json"), (3, "not_an_object")]

    def test_text_that_is_not_unicode_is_a_located_record(self):
        b = EventBatch.from_dicts([{"a": "bad \udc80"}, {"a": "ok"}])
        assert b.column("a") == ["ok"]
        [error] = b.errors
        assert (error.line, error.kind) == (1, "malformed_json")
        assert "could not be written as JSON" in error.message and "surrogate" in error.message

    def test_empty_input(self):
        b = EventBatch.from_ndjson(b"")
        assert len(b) == 0 and b.errors == [] and b.to_dicts() == []


def test_events_from_dicts_round_trip():
    events = [PROC, {"event": {"category": "file"}, "file.path": "C:\\x.txt"}]
    b = EventBatch.from_dicts(events)
    assert b.to_dicts() == events
    assert b.get(1, "file.path") == "C:\\x.txt"
    assert b.source == "<dicts>"


def test_bundled_example_events_ingest_cleanly():
    from pathlib import Path

    b = EventBatch.from_ndjson(Path(__file__).resolve().parents[2] / "examples" / "events.ndjson")
    assert len(b) == 5000 and b.errors == []
    assert all(t is not None for t in b.timestamps())
