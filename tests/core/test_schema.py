"""kestrel.Schema: the bundled ECS schema, user schemas, extension, auto-assignment."""

import json

import pytest

import kestrel


def test_default_is_ecs_9_5_0_with_mapped_types():
    s = kestrel.Schema.default()
    assert (s.name, s.version) == ("ecs", "9.5.0")
    assert len(s) > 2400
    pid = s.lookup("process.pid")
    assert (pid.type, pid.array, pid.auto) == ("i64", False, False)
    assert s.lookup("process.name").type == "string"
    assert s.lookup("process.command_line").type == "string"  # wildcard
    assert s.lookup("@timestamp").type == "timestamp"
    assert s.lookup("source.ip").type == "ip"
    assert s.lookup("host.cpu.usage").type == "f64"  # scaled_float
    assert s.lookup("process.interactive").type == "bool"
    cat = s.lookup("event.category")
    assert (cat.type, cat.array) == ("string", True)
    # Containers carry no scalar and are not fields.
    assert s.lookup("process") is None


def test_default_returns_independent_copies():
    a, b = kestrel.Schema.default(), kestrel.Schema.default()
    a.resolve("custom.only_in_a")
    assert "custom.only_in_a" in a and "custom.only_in_a" not in b


def test_ids_are_stable_and_addressable():
    s = kestrel.Schema.default()
    f = s.lookup("process.name")
    assert s.field(f.id) == f
    assert s.lookup("process.name").id == f.id
    with pytest.raises(KeyError):
        s.field(10**9)


def test_unknown_fields_are_auto_assigned_once():
    s = kestrel.Schema.default()
    n = len(s)
    f = s.resolve("winlog.event_data.TargetUserName")
    assert f.auto and f.type == "unknown" and f.id == n
    assert s.resolve("winlog.event_data.TargetUserName").id == f.id
    assert len(s) == n + 1


def test_extend_accepts_three_spellings_and_es_type_names():
    s = kestrel.Schema.default()
    s.extend(
        {
            "custom.count": "long",
            "custom.tags": {"type": "keyword", "array": True},
            "custom": {"nested": {"flag": "boolean", "ratio": "f64"}},
        }
    )
    assert s.lookup("custom.count").type == "i64"
    tags = s.lookup("custom.tags")
    assert (tags.type, tags.array) == ("string", True)
    assert s.lookup("custom.nested.flag").type == "bool"
    assert s.lookup("custom.nested.ratio").type == "f64"


def test_extend_keeps_the_id_of_an_existing_field():
    s = kestrel.Schema.default()
    before = s.lookup("process.pid").id
    s.extend({"process.pid": "unsigned_long"})
    after = s.lookup("process.pid")
    assert after.id == before and after.type == "u64"


def test_extend_rejects_unknown_type_names_with_the_path():
    s = kestrel.Schema.empty()
    with pytest.raises(kestrel.SchemaError, match="custom.x"):
        s.extend({"custom.x": "lnog"})
    assert issubclass(kestrel.SchemaError, kestrel.KestrelError)


def test_load_json_and_yaml_files(tmp_path):
    j = tmp_path / "mine.json"
    j.write_text(json.dumps({"name": "mine", "version": "3", "fields": {"a.b": "i64", "a.c": "keyword"}}))
    y = tmp_path / "mine.yaml"
    y.write_text("name: other\nversion: '7'\nfields:\n  x:\n    y: ip\n  z: {type: double}\n")
    sj, sy = kestrel.Schema.load(j), kestrel.Schema.load(y)
    assert (sj.name, sj.version, sj.lookup("a.b").type, sj.lookup("a.c").type) == ("mine", "3", "i64", "string")
    assert (sy.name, sy.version, sy.lookup("x.y").type, sy.lookup("z").type) == ("other", "7", "ip", "f64")


def test_non_ecs_field_list_loads_as_nested_maps(shared):
    # The shape of detection-rules' non-ECS schema: index pattern → nested map.
    doc = json.loads((shared / "schemas/non-ecs-fields-by-index.json").read_text())
    s = kestrel.Schema.default()
    for fields in doc.values():
        s.extend(fields)
    assert s.lookup("winlog.event_data.AttributeLDAPDisplayName") is not None


def test_bad_documents_raise_schema_error(tmp_path):
    with pytest.raises(kestrel.SchemaError, match="JSON"):
        kestrel.Schema.from_json("{not json")
    with pytest.raises(kestrel.SchemaError, match="fields"):
        kestrel.Schema.from_json('{"name": "x"}')
    with pytest.raises(kestrel.SchemaError, match="YAML"):
        kestrel.Schema.from_yaml("fields: [unclosed")
    with pytest.raises(kestrel.IngestError, match="missing.json"):
        kestrel.Schema.load(tmp_path / "missing.json")


def test_copy_detaches_ids():
    s = kestrel.Schema.default()
    c = s.copy()
    c.resolve("only.in.copy")
    assert "only.in.copy" not in s
