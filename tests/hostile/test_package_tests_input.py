"""`kestrel test` read a package's test events a second time in Python, so a
malformed or deeply nested line there ended in a traceback. The engine's
decoder is the only reader now: such lines are its input errors, and the
verdict is about the alerts of the others.
"""

import json

from hostile_support import one_line_error, process_event, run_cli, write_package

MANIFEST = {
    "id": "big_pid",
    "version": "1",
    "runtime": "lua",
    "entry": "predicate.lua",
    "categories": ["process"],
    "fields": {"1": "process.pid"},
}
SOURCE = "function pred_eval(e)\n  return kestrel.event_get_i64(e, 1) > 1000\nend\n"


def test_bad_lines_in_a_packages_test_events_are_not_a_crash(tmp_path):
    package = write_package(tmp_path / "big_pid", MANIFEST, [("predicate.lua", SOURCE)])
    (package / "tests").mkdir()
    lines = [process_event(4242), "{not json", "[" * 5000 + "]" * 5000, process_event(7), '{"n": NaN}']
    (package / "tests" / "events.ndjson").write_text("\n".join(lines) + "\n")
    (package / "tests" / "expected.json").write_text(json.dumps({"alerts": [{"event": 0, "captures": {}}]}))
    process = run_cli("test", str(package))
    one_line_error(process)
    assert process.stdout.decode().startswith("PASS"), process.stdout.decode()
    assert process.returncode == 0
