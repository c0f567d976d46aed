"""Finding 19 (links): a package file that was a link out of the package was
followed, and its first line echoed into the load error.

Every file a package load reads (manifest, constants, entry) must resolve
inside the package directory; a link elsewhere fails that package only, and
its target is neither read nor quoted.
"""

import json
import os

import pytest

from hostile_support import process_event, result, run_scenario, write_package

SECRET = "root-secret-token-1234"
LUA = {"version": "1", "runtime": "lua", "entry": "predicate.lua", "categories": ["process"]}


@pytest.mark.parametrize("linked", ["predicate.lua", "manifest.json", "constants.json"])
def test_links_out_of_a_package_fail_that_package_without_reading_the_target(tmp_path, linked):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET + "\n")
    rules = tmp_path / "rules"
    package = write_package(
        rules / "linked", dict(LUA, id="linked"), [("predicate.lua", "function pred_eval(e) return true end\n")]
    )
    (package / linked).unlink(missing_ok=True)
    os.symlink(secret, package / linked)
    (rules / "big_pid.eql").write_text("process where process.pid > 1000\n")
    process = run_scenario(
        """
        import kestrel
        engine = kestrel.Engine()
        loaded = engine.load(sys.argv[1])
        alerts = engine.process([json.loads(sys.argv[2])])
        report({"rules": [r["id"] for r in engine.rules()], "failures": [str(f) for f in loaded.failures],
                "alerts": [a["rule"]["id"] for a in alerts]})
        """,
        str(rules),
        process_event(4242),
    )
    found = result(process)
    assert found["rules"] == ["big_pid"] and found["alerts"] == ["big_pid"]
    [failure] = found["failures"]
    assert "outside the package directory" in failure
    assert SECRET not in json.dumps(found)


def test_links_within_a_package_still_load(tmp_path):
    package = write_package(tmp_path / "inner", dict(LUA, id="inner"), [("real.lua", "function pred_eval(e) return true end\n")])
    os.symlink("real.lua", package / "predicate.lua")
    process = run_scenario(
        """
        import kestrel
        engine = kestrel.Engine()
        loaded = engine.load(sys.argv[1])
        report({"rules": [r["id"] for r in engine.rules()], "failures": [str(f) for f in loaded.failures]})
        """,
        str(package),
    )
    assert result(process) == {"rules": ["inner"], "failures": []}
