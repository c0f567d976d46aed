"""Finding 15: an invalid constants.json, or one without "ir", raised a raw
KeyError/JSONDecodeError and no rule of the directory loaded.

Each broken package file is now that package's load failure, naming the
file (and the key); the other rules of the directory load.
"""

import json

from kestrel.compiler import compile
from kestrel.compiler.wasm.package import write_package as write_wasm_package

from hostile_support import process_event, result, run_scenario, write_package


def _compiled(directory, rule_id, constants=None):
    write_wasm_package(compile("process where process.pid == 4242"), directory, rule_id)
    if constants is not None:
        (directory / "constants.json").write_text(constants)
    return directory


def test_one_broken_package_file_fails_only_its_package(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "loose.eql").write_text("process where process.pid == 4242\n")
    _compiled(rules / "healthy", "healthy")
    _compiled(rules / "not_json", "not_json", "{ not json")
    without_ir = json.loads((rules / "healthy" / "constants.json").read_text())
    del without_ir["ir"]
    _compiled(rules / "no_ir", "no_ir", json.dumps(without_ir))
    _compiled(rules / "bad_pipes", "bad_pipes", json.dumps(dict(without_ir, ir={"rule": {"pipes": [{"op": "sort"}]}})))
    _compiled(rules / "deep", "deep", "[" * 100_000)
    lua = {"id": "lua_bad", "version": "1", "runtime": "lua", "entry": "predicate.lua"}
    write_package(
        rules / "lua_bad", lua, [("predicate.lua", "function pred_eval(e) return true end\n"), ("constants.json", "[1, ")]
    )
    process = run_scenario(
        """
        import kestrel
        engine = kestrel.Engine()
        loaded = engine.load(sys.argv[1])
        report({"rules": sorted(r["id"] for r in engine.rules()),
                "failures": {f.location.rsplit("/", 1)[-1]: f.reason for f in loaded.failures},
                "alerts": sorted(a["rule"]["id"] for a in engine.process(sys.argv[2]))})
        """,
        str(rules),
        process_event(4242) + "\n",
    )
    found = result(process)
    assert found["rules"] == ["healthy", "loose"] and found["alerts"] == ["healthy", "loose"]
    failures = found["failures"]
    assert set(failures) == {"not_json", "no_ir", "bad_pipes", "deep", "lua_bad"}
    for name, reason in failures.items():
        assert f"{rules / name / 'constants.json'}: " in reason, reason
    assert "not valid JSON" in failures["not_json"] and "not valid JSON" in failures["deep"]
    assert "key 'ir': is required" in failures["no_ir"]
    assert "key 'ir.rule.pipes'" in failures["bad_pipes"]
