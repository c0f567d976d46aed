"""`kestrel test`: run each rule package over its tests/events.ndjson and compare with tests/expected.json."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, TextIO

from kestrel.cli import add_verb
from kestrel.cli.exit_codes import EPILOG, FOUND, OK, USAGE
from kestrel.packages.manifest import MANIFEST_FILE

TEST_EXAMPLES = """examples:
  kestrel test rules/
  kestrel test rules/lua_example_rule

A package's tests/ holds events.ndjson and expected.json:
  {"alerts": [{"event": 0, "captures": {...}}, ...]}     (event = line index, from 0)

"""


def add(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "test",
        run_test,
        help="run rule packages' tests",
        description="For every rule package under PATHs that has a tests/ directory, run the package over "
        "tests/events.ndjson and compare its alerts with tests/expected.json.",
        epilog=TEST_EXAMPLES + EPILOG,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="packages or directories holding packages")


def run_test(args: argparse.Namespace, out: TextIO) -> int:
    from kestrel.engine.sources import rule_files

    packages: List[Path] = []
    for raw in args.paths:
        path = Path(raw)
        found = (
            [path] if (path / MANIFEST_FILE).exists() else [p for p in rule_files(path) if p.is_dir()] if path.is_dir() else []
        )
        packages += [p for p in found if (p / "tests" / "events.ndjson").exists()]
    if not packages:
        print("kestrel test: no rule packages with tests/events.ndjson under " + " ".join(args.paths), file=sys.stderr)
        return USAGE
    status = OK
    for package in packages:
        verdict, detail = test_package(package)
        out.write(f"{verdict:5} {package}{': ' + detail if detail else ''}\n")
        status = max(status, {"PASS": OK, "FAIL": FOUND, "ERROR": USAGE}[verdict])
    return status


def test_package(package: Path) -> "tuple[str, str]":
    """("PASS" | "FAIL" | "ERROR", detail) for one package's tests/ directory."""
    from kestrel.engine import Engine
    from kestrel.errors import KestrelError
    from kestrel.files import read_bytes, read_text

    tests = package / "tests"
    expected_file = tests / "expected.json"
    engine = Engine()
    try:
        events_data = read_bytes(tests / "events.ndjson")
        expected = json.loads(read_text(expected_file)).get("alerts", []) if expected_file.exists() else []
        engine.load(package, strict=True)
        alerts = engine.process(events_data) + engine.flush()
    except KestrelError as error:
        return "ERROR", str(error)
    except json.JSONDecodeError as error:
        return "ERROR", f"{expected_file}: not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
    except RecursionError:
        return "ERROR", f"{expected_file}: not valid JSON: nested too deeply to parse"
    positions = _event_positions(events_data)
    got = sorted((_normalise(alert, positions) for alert in alerts), key=_order)
    want = sorted((_normalise_expected(entry) for entry in expected), key=_order)
    if got == want:
        return "PASS", f"{len(got)} alert(s) as expected"
    missing = [w for w in want if w not in got]
    extra = [g for g in got if g not in want]
    return "FAIL", f"missing {json.dumps(missing)}; unexpected {json.dumps(extra)}"


def _event_positions(data: bytes) -> Dict[str, int]:
    """Each test event's position among the file's non-blank lines, keyed by its canonical JSON.

    A line the engine could not decode has a position but no key: the
    engine reported it as an input error, and no alert can point at it.
    """
    positions: Dict[str, int] = {}
    for position, line in enumerate(line for line in data.splitlines() if line.strip()):
        try:
            positions.setdefault(_canonical(json.loads(line)), position)
        except (ValueError, RecursionError):
            continue
    return positions


def _canonical(event: Any) -> str:
    return json.dumps(event, sort_keys=True)


def _normalise(alert: Dict[str, Any], positions: Dict[str, int]) -> Dict[str, Any]:
    found = [positions.get(_canonical(e)) for e in alert["events"] if not e.get("missing")]
    if alert["kind"] == "event":
        return {"event": found[0], "captures": alert["captures"]}
    return {"events": found}


def _normalise_expected(entry: Dict[str, Any]) -> Dict[str, Any]:
    if "events" in entry:
        return {"events": entry["events"]}
    return {"event": entry["event"], "captures": entry.get("captures", {})}


def _order(item: Dict[str, Any]) -> Any:
    return json.dumps(item, sort_keys=True)
