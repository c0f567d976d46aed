"""Finding 5: a Lua package marked itself "trusted": true and turned the instruction watchdog off.

Trust now comes from the operator (``trusted_paths`` / ``kestrel run --trust``);
a package's own flag is only a request.
"""

import json

from hostile_support import one_line_error, process_event, result, run_cli, run_scenario, write_package

LOOPING = {
    "id": "spin",
    "version": "1",
    "runtime": "lua",
    "entry": "predicate.lua",
    "categories": ["process"],
    "trusted": True,
}


def test_a_package_that_trusts_itself_still_runs_under_the_watchdog(tmp_path):
    package = write_package(tmp_path / "spin", LOOPING, [("predicate.lua", "function pred_eval(e) while true do end end\n")])
    events = tmp_path / "events.ndjson"
    events.write_text(process_event(4242) + "\n")
    process = run_scenario(
        """
        import kestrel
        engine = kestrel.Engine()
        report_ = engine.load(sys.argv[1])
        engine.process_file(sys.argv[2])
        [rule] = engine.rules()
        stats = engine.stats()["rules"]["spin"]
        report({"failures": [str(f) for f in report_.failures], "trusted": rule["trusted"],
                "errors": stats["errors"], "last_error": stats["last_error"]})
        """,
        str(package),
        str(events),
    )
    found = result(process)
    assert found["failures"] == [] and found["trusted"] is False
    assert found["errors"] == 1 and "time budget" in found["last_error"]


def test_the_operator_grants_trust_and_only_to_directories_that_exist(tmp_path):
    package = write_package(
        tmp_path / "fast", dict(LOOPING, id="fast"), [("predicate.lua", "function pred_eval(e) return true end\n")]
    )
    granted = run_scenario(
        """
        import kestrel
        engine = kestrel.Engine(trusted_paths=[sys.argv[1]])
        engine.load(sys.argv[1])
        report([rule["trusted"] for rule in engine.rules()])
        """,
        str(tmp_path),
    )
    assert result(granted) == [True]
    refused = run_cli("run", "--rules", str(package), "--trust", str(tmp_path / "missing"), "--events", "-")
    assert refused.returncode == 2
    assert "trusted_paths" in one_line_error(refused) and "is not a directory" in refused.stderr.decode()
    assert json.loads((package / "manifest.json").read_text())["trusted"] is True
