"""manifest.json and constants.json: validation with errors naming file and key."""

from __future__ import annotations

import json

import pytest

import kestrel
from kestrel.packages import FieldTable, RulePackageError, load_manifest, parse_manifest
from kestrel.packages.constants import HostConstants, PackageConstants, parse_constants, read_constants, write_constants

BASE = {"id": "r1", "version": "1.0", "runtime": "lua", "fields": {"1": "process.pid", "2": "process.name"}}


def test_a_minimal_lua_manifest():
    manifest = parse_manifest(BASE)
    assert (manifest.id, manifest.name, manifest.runtime, manifest.kind, manifest.entry) == (
        "r1",
        "r1",
        "lua",
        "event",
        "predicate.lua",
    )
    assert manifest.fields == FieldTable({1: "process.pid", 2: "process.name"})
    assert not manifest.trusted


def test_runtime_follows_from_the_entry():
    assert parse_manifest({"id": "w", "version": "1", "entry": "rule.wasm"}).runtime == "wasm"
    assert parse_manifest({"id": "e", "version": "1", "entry": "rule.eql"}).runtime == "wasm"  # EQL defaults to wasm
    assert parse_manifest({"id": "e", "version": "1", "entry": "rule.eql", "runtime": "lua"}).runtime == "lua"


def test_field_table_maps_to_schema_field_ids():
    schema = kestrel.Schema.default()
    table = parse_manifest(dict(BASE, fields={"1": "process.pid", "7": "custom.thing"})).fields
    resolved = table.resolve(schema)
    assert resolved[1] == schema.lookup("process.pid").id
    assert resolved[7] == schema.lookup("custom.thing").id  # assigned on the way
    assert table.local_id("custom.thing") == 7 and table.next_id() == 8


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": None}, "key 'id': is required"),
        ({"version": 3}, "key 'version': must be a non-empty string, not a number"),
        ({"runtime": "python"}, "key 'runtime': must be one of wasm, lua, not 'python'"),
        ({"entry": "rule.wasm"}, "key 'entry': 'rule.wasm' cannot run on the lua runtime"),
        ({"entry": "../x.lua"}, "key 'entry': must be a file inside the package"),
        ({"entry": "rule.py"}, "key 'entry': 'rule.py' is not a predicate.lua"),
        ({"kind": "stream"}, "key 'kind': must be one of event, sequence, sample"),
        ({"fields": ["process.pid"]}, "key 'fields': must be an object of local id -> dotted path"),
        ({"fields": {"one": "process.pid"}}, "key 'fields.one': local ids must be integers from 1 to 65535"),
        ({"fields": {"0": "process.pid"}}, "key 'fields.0': local ids must be integers from 1 to 65535"),
        # A dense table of 2**31 entries would be built from this one key.
        ({"fields": {"2147483647": "process.pid"}}, "key 'fields.2147483647': local ids must be integers from 1 to 65535"),
        ({"fields": {"1": "process..pid"}}, "key 'fields.1': must be a dotted field path"),
        ({"trusted": "yes"}, "key 'trusted': must be true or false, not a string"),
        ({"categories": "process"}, "key 'categories': must be a list of strings"),
        ({"schema": {"name": "ecs"}}, "key 'schema': must be"),
        ({"colour": "red"}, "key 'colour': unknown key"),
    ],
)
def test_invalid_manifests_name_the_key(change, message):
    document = {k: v for k, v in {**BASE, **change}.items() if v is not None}
    with pytest.raises(RulePackageError, match="^manifest.json: ") as raised:
        parse_manifest(document)
    assert message in str(raised.value)


def test_load_manifest_names_the_file(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(RulePackageError, match=f"{tmp_path}/manifest.json: not valid JSON"):
        load_manifest(tmp_path)
    with pytest.raises(RulePackageError, match="cannot read the manifest"):
        load_manifest(tmp_path / "missing")


def test_rule_package_error_is_a_kestrel_error():
    assert issubclass(RulePackageError, kestrel.KestrelError)


def test_constants_round_trip_and_validate(tmp_path):
    constants = HostConstants(literals=("a",), globs=((("*.exe",), True),), regexes=(("a.*", False),), sets=((("x", "y"), True),))
    (tmp_path / "constants.json").write_text(json.dumps(constants.to_dict()))
    assert read_constants(tmp_path, "lua").tables == constants
    assert read_constants(tmp_path / "none", "lua") == PackageConstants()
    with pytest.raises(RulePackageError, match="key 'ir': is required"):
        read_constants(tmp_path, "wasm")
    with pytest.raises(RulePackageError, match="key 'globs\\[0\\].patterns': must be a list of strings"):
        parse_constants({"globs": [{"patterns": "*.exe"}]})
    with pytest.raises(RulePackageError, match="key 'regexes\\[0\\].pattern': must be a string"):
        parse_constants({"regexes": [{"pattern": ["a"]}]})
    with pytest.raises(RulePackageError, match="key 'filter_categories'"):
        parse_constants({"filter_categories": "process"})


def test_both_backends_write_constants_the_one_reader_accepts(tmp_path):
    from kestrel.compiler.lua import generate_package
    from kestrel.compiler.lua import write_package as write_lua_package
    from kestrel.compiler.wasm.package import write_package as write_wasm_package

    compiled = kestrel.compile('process where process.name : ("cmd.exe", "*\\\\powershell*") and process.pid in (1, 2)')
    write_wasm_package(compiled, tmp_path / "wasm", "w")
    write_lua_package(generate_package(compiled), tmp_path / "lua", "l")
    wasm, lua = read_constants(tmp_path / "wasm", "wasm"), read_constants(tmp_path / "lua", "lua")
    assert wasm.ir == lua.ir == compiled.ir_dict()
    assert wasm.tables.globs and wasm.tables.globs == lua.tables.globs
    assert wasm.filter_categories == ("process",)
    assert load_manifest(tmp_path / "wasm").runtime == "wasm" and load_manifest(tmp_path / "lua").runtime == "lua"


def test_writers_refuse_what_the_readers_would(tmp_path):
    from kestrel.packages.manifest import write_manifest

    with pytest.raises(RulePackageError, match="key 'runtime'"):
        write_manifest(tmp_path, {"id": "x", "version": "1", "runtime": "python", "entry": "rule.py"})
    with pytest.raises(RulePackageError, match="key 'filter_categories'"):
        write_constants(tmp_path, PackageConstants(filter_categories=(1,)))
    assert not list(tmp_path.iterdir())
