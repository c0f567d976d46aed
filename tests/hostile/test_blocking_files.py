"""Finding 11: a FIFO or device named like a rule file blocked load and reload forever,
and a manifest.json linked to /dev/zero exhausted memory.

Rule and package files are opened only if they are regular files, and read
up to a size limit; anything else is that file's load failure.
"""

import os

from hostile_support import process_event, result, run_cli, run_scenario, write_package

GOOD = "process where process.pid == 4242\n"


def _hostile_tree(root):
    root.mkdir()
    (root / "good.eql").write_text(GOOD)
    os.mkfifo(root / "fifo.eql")
    os.mkfifo(root / "fifo.toml")
    (root / "fifo_manifest").mkdir()
    os.mkfifo(root / "fifo_manifest" / "manifest.json")
    zero = root / "zero_manifest"
    zero.mkdir()
    (zero / "manifest.json").symlink_to("/dev/zero")
    lua = {"id": "fifo_entry", "version": "1", "runtime": "lua", "entry": "predicate.lua"}
    write_package(root / "fifo_entry", lua)
    os.mkfifo(root / "fifo_entry" / "predicate.lua")
    return root


def test_fifos_and_devices_fail_to_load_without_blocking_or_exhausting_memory(tmp_path):
    rules = _hostile_tree(tmp_path / "rules")
    process = run_scenario(
        """
        import kestrel
        engine = kestrel.Engine()
        loaded = engine.load(sys.argv[1])
        report({"rules": [rule["id"] for rule in engine.rules()],
                "failures": {f.location.rsplit("/", 2)[-2] + "/" + f.location.rsplit("/", 1)[-1]: f.reason for f in loaded.failures},
                "alerts": len(engine.process(sys.argv[2]))})
        """,
        str(rules),
        process_event(4242) + "\n",
    )
    found = result(process)
    assert found["rules"] == ["good"] and found["alerts"] == 1
    reasons = found["failures"]
    assert reasons["rules/fifo.eql"] == "cannot read: not a regular file (a FIFO)"
    assert reasons["rules/fifo.toml"] == "cannot read: not a regular file (a FIFO)"
    assert "cannot read the manifest: not a regular file (a FIFO)" in reasons["fifo_manifest/manifest.json"]
    # A link to a device outside the package is refused before anything opens it.
    assert "leads outside the package directory" in reasons["zero_manifest/manifest.json"]
    assert "not a regular file (a FIFO)" in reasons["rules/fifo_entry"]
    assert len(reasons) == 5


def test_kestrel_check_reports_the_same_files_without_blocking(tmp_path):
    rules = _hostile_tree(tmp_path / "rules")
    process = run_cli("check", str(rules))
    out = process.stdout.decode()
    assert process.returncode == 1
    assert f"{rules / 'fifo.eql'}: cannot read: not a regular file (a FIFO)" in out
    assert "6 rules checked: 1 ok, 5 failed" in out


def test_a_fifo_dropped_into_a_watched_directory_fails_that_reload_and_the_watcher_goes_on(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "good.eql").write_text(GOOD)
    process = run_scenario(
        """
        import os, queue, kestrel
        rules = sys.argv[1]
        engine = kestrel.Engine()
        engine.load(rules)
        results = queue.Queue()
        watcher = engine.watch(interval=0.05, on_reload=results.put)
        os.mkfifo(os.path.join(rules, "late.eql"))
        failed = results.get(timeout=10)
        # The fix replaces the FIFO in one rename, so no poll can catch the
        # directory halfway between the two.
        fixed = os.path.join(os.path.dirname(rules), "fixed.eql")
        with open(fixed, "w") as handle:
            handle.write("process where process.pid == 1\\n")
        os.replace(fixed, os.path.join(rules, "late.eql"))
        recovered = results.get(timeout=10)
        watcher.stop()
        report({"failed": [failed.ok, [str(f) for f in failed.failures]],
                "recovered": [recovered.ok, recovered.added], "rules": [r["id"] for r in engine.rules()]})
        """,
        str(rules),
    )
    found = result(process)
    assert found["failed"] == [False, [f"{rules / 'late.eql'}: cannot read: not a regular file (a FIFO)"]]
    assert found["recovered"] == [True, ["late"]] and found["rules"] == ["good", "late"]
