"""Running one hostile scenario in a child process, under a time and a memory limit.

A hostile input that regresses may hang, exhaust memory or crash the
interpreter; in the test process itself that would stop the whole suite.
Each scenario therefore runs in a fresh Python (``sys.executable -c``) that
first caps its own memory with ``resource.setrlimit``, and the parent kills
it when its time is up. The test then checks the documented outcome from
what the child printed and its exit status.

The cap is ``RLIMIT_DATA`` (heap and private writable mappings), not
``RLIMIT_AS``: wasmtime reserves large address ranges for every module
instance it could grow, which counts against the address space and would
make a Wasm rule fail to load long before any real memory is used.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Optional, Sequence

import pytest

#: Bytes of heap a scenario may use: far above what any of them needs, far
#: below what a runaway read or allocation would take.
MEMORY_LIMIT = 2 << 30
#: Seconds a scenario may take before it counts as a hang (each takes ~1 s).
TIME_LIMIT = 20.0

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "rules"

_PRELUDE = """\
import resource
resource.setrlimit(resource.RLIMIT_DATA, ({limit}, {limit}))
import json, sys
def report(value):
    # The last line of stdout carries the scenario's findings for the parent.
    print("RESULT " + json.dumps(value, default=str), flush=True)
"""


def run_scenario(
    code: str,
    *args: str,
    timeout: float = TIME_LIMIT,
    memory: int = MEMORY_LIMIT,
    cwd: Optional[Path] = None,
    stdin: Optional[bytes] = None,
) -> subprocess.CompletedProcess:
    """Run `code` (Python source; `sys.argv[1:]` is `args`) in a limited child.

    The code may call ``report(value)`` to hand JSON-able findings back
    (see :func:`result`). A child still running after `timeout` seconds is
    killed and the test fails, naming the hang.
    """
    script = _PRELUDE.format(limit=memory) + textwrap.dedent(code)
    try:
        return subprocess.run(
            [sys.executable, "-c", script, *args],
            capture_output=True,
            timeout=timeout,
            cwd=cwd or REPO,
            input=stdin,
        )
    except subprocess.TimeoutExpired as expired:
        tail = (expired.stderr or b"")[-2000:].decode(errors="replace")
        pytest.fail(f"the scenario hung: still running after {timeout:g} s\n{tail}")


def run_cli(*argv: str, timeout: float = TIME_LIMIT, cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    """``kestrel ARGV...`` in a limited child (see :func:`run_scenario`)."""
    code = "from kestrel.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    return run_scenario(code, *argv, timeout=timeout, cwd=cwd)


def result(process: subprocess.CompletedProcess) -> Any:
    """What the child passed to ``report()``; fails the test if it ended without reporting."""
    stdout = process.stdout.decode(errors="replace")
    for line in reversed(stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    stderr = process.stderr.decode(errors="replace")
    pytest.fail(f"the scenario ended (status {process.returncode}) without a result\n{stdout[-2000:]}\n{stderr[-3000:]}")


def one_line_error(process: subprocess.CompletedProcess) -> str:
    """The CLI's stderr, checked to hold no Python traceback; returns it."""
    stderr = process.stderr.decode(errors="replace")
    assert "Traceback" not in stderr, stderr
    return stderr


def write_package(directory: Path, manifest: dict, files: Sequence[tuple] = ()) -> Path:
    """A rule package: `manifest` as manifest.json, then (name, text or bytes) files."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    for name, content in files:
        path = directory / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return directory


#: One process event of category "process", as NDJSON, with the given pid.
def process_event(pid: int, name: str = "cmd.exe") -> str:
    return json.dumps(
        {
            "@timestamp": "2026-01-01T00:00:00Z",
            "event": {"category": ["process"]},
            "host": {"id": "h1"},
            "process": {"pid": pid, "name": name},
        }
    )
