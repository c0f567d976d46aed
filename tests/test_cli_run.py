"""`kestrel run` end to end: real rules (EQL, Wasm and Lua packages) over real NDJSON files."""

import io
import json
import sys
from pathlib import Path

from kestrel.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_bundled_rules_over_bundled_events(tmp_path, capsys):
    alerts = tmp_path / "alerts.ndjson"
    status = main(
        ["run", "--rules", str(REPO / "rules"), "--events", str(REPO / "examples" / "events.ndjson"), "--alerts", str(alerts)]
    )
    assert status == 0
    report = capsys.readouterr().err
    assert "5000 events, 0 malformed, 0 dropped" in report and " 0 failed;" in report
    lines = [json.loads(line) for line in alerts.read_text().splitlines()]
    by_rule = {}
    for alert in lines:
        by_rule.setdefault(alert["rule"]["id"], []).append(alert)
    assert {"certutil_download", "dns_known_bad_domain", "wasm-example-pid-over-1000"} <= set(by_rule)
    first = by_rule["certutil_download"][0]
    assert first["kind"] == "event" and first["rule"]["runtime"] == "wasm"
    assert first["events"][0]["process"]["name"] == "certutil.exe"
    assert first["captures"]["process.name"] == "certutil.exe"
    # The hand-written package declares category process: file and network events never reach it.
    assert all(a["events"][0]["event"]["category"] == ["process"] for a in by_rule["wasm-example-pid-over-1000"])


def test_malformed_lines_are_counted_and_reported_with_their_line(tmp_path, capsys):
    events = tmp_path / "events.ndjson"
    good = json.dumps({"event": {"category": ["network"]}, "dns": {"question": {"name": "evil.example"}}})
    events.write_text(f"{good}\n{{broken\n{good}\n")
    status = main(["run", "--rules", str(REPO / "rules" / "eql" / "dns_known_bad_domain.eql"), "--events", str(events), "--json"])
    assert status == 0
    out, err = capsys.readouterr()
    stats = json.loads(out)
    assert (stats["processed"], stats["malformed"], stats["alerts"]) == (2, 1, 2)
    assert f"{events}:2: malformed_json" in err


def test_exit_codes(tmp_path, capsys):
    bad = tmp_path / "bad.eql"
    bad.write_text("process where process.name = 'x'")
    events = str(REPO / "rules" / "wasm_example_rule" / "tests" / "events.ndjson")
    assert main(["run", "--rules", str(bad), "--events", events, "--json"]) == 2
    rule = str(REPO / "rules" / "wasm_example_rule")
    assert main(["run", "--rules", rule, "--events", events, "--json", "--fail-on-alert"]) == 1
    assert main(["run", "--rules", rule, "--events", str(tmp_path / "missing.ndjson")]) == 3
    capsys.readouterr()


def test_compile_to_both_backends_then_run_the_packages(tmp_path, capsys):
    rule = str(REPO / "rules" / "eql" / "whoami_discovery.eql")  # uses length(): exercises eval_node
    events = str(REPO / "examples" / "events.ndjson")
    counts = {}
    for backend in ("wasm", "lua"):
        out = tmp_path / backend
        assert main(["compile", rule, "--backend", backend, "-o", str(out)]) == 0
        assert main(["run", "--rules", str(out), "--events", events, "--json"]) == 0
        stats = json.loads(capsys.readouterr().out.split("\n", 1)[1])
        counts[backend] = stats["rules"]["whoami_discovery"]["alerts"]
    assert counts["wasm"] == counts["lua"] > 0


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal, as `kestrel run`'s progress line requires."""

    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_progress_line_and_a_pipe_does_not(tmp_path, monkeypatch, capsys):
    args = [
        "run",
        "--rules",
        str(REPO / "rules" / "eql"),
        "--events",
        str(REPO / "examples" / "events.ndjson"),
        "--alerts",
        str(tmp_path / "alerts.ndjson"),
    ]
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(args) == 0
    line = terminal.getvalue().split("\n")[0]
    assert line.startswith("\r") and " MB (" in line and " events/s " in line and line.endswith(" alerts")
    monkeypatch.undo()
    assert main(args) == 0
    assert "events/s" not in capsys.readouterr().err


def test_a_tail_rules_alerts_are_written_at_the_end_of_the_input(tmp_path, capsys):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "last_two.eql").write_text("process where true | tail 2\n")
    (rules / "first_one.eql").write_text("process where true | head 1\n")
    events = tmp_path / "events.ndjson"
    events.write_text(
        "".join(
            json.dumps({"@timestamp": 1_767_600_000_000 + n, "event": {"category": ["process"]}, "n": n}) + "\n" for n in range(5)
        )
    )
    alerts = tmp_path / "alerts.ndjson"
    assert main(["run", "--rules", str(rules), "--events", str(events), "--alerts", str(alerts)]) == 0
    written = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert [(a["rule"]["id"], a["events"][0]["n"]) for a in written] == [("first_one", 0), ("last_two", 3), ("last_two", 4)]
    capsys.readouterr()
