"""A watched rules directory: a change under the rule paths reloads the engine."""

import os
import queue
import shutil
import subprocess
import sys
import threading
import time

import pytest
from engine_support import RULES

import kestrel
from kestrel.engine.watch import RuleWatcher


@pytest.fixture
def rules_dir(tmp_path):
    directory = tmp_path / "rules"
    directory.mkdir()
    shutil.copy(RULES / "eql" / "certutil_download.eql", directory)
    return directory


def _touch_later(path, text):
    """Write `text` with a modification time surely after the last snapshot
    (coarse filesystem clocks could otherwise hide a same-size rewrite)."""
    path.write_text(text)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


def test_a_poll_reloads_only_after_a_change(rules_dir, certutil):
    engine = kestrel.Engine()
    engine.load(rules_dir)
    watcher = RuleWatcher(engine, interval=60)
    assert watcher.poll() is None
    shutil.copy(RULES / "eql" / "dns_known_bad_domain.eql", rules_dir)
    result = watcher.poll()
    assert result.ok and result.added == ["dns_known_bad_domain"] and result.unchanged == ["certutil_download"]
    assert watcher.poll() is None
    _touch_later(rules_dir / "certutil_download.eql", 'process where process.name == "certutil.exe"')
    assert watcher.poll().changed == ["certutil_download"]
    assert [a["rule"]["id"] for a in engine.process([certutil])] == ["certutil_download"]
    assert watcher.reloads == 2


def test_a_broken_change_keeps_the_running_rules_until_it_is_fixed(rules_dir, certutil):
    engine = kestrel.Engine()
    engine.load(rules_dir)
    seen = []
    watcher = RuleWatcher(engine, interval=60, on_reload=seen.append)
    (rules_dir / "half_written.eql").write_text("process where process.name ==")
    assert not watcher.poll().ok
    assert [a["rule"]["id"] for a in engine.process([certutil])] == ["certutil_download"]
    _touch_later(rules_dir / "half_written.eql", 'process where process.name == "x.exe"')
    assert watcher.poll().ok
    assert [r.ok for r in seen] == [False, True]
    assert (watcher.reloads, watcher.failed_reloads) == (1, 1)
    assert {r["id"] for r in engine.rules()} == {"certutil_download", "half_written"}


def test_engine_watch_reloads_in_the_background_until_close(rules_dir):
    engine = kestrel.Engine()
    engine.load(rules_dir)
    reloaded = threading.Event()
    # A poll may catch the copy half-written and fail; wait for the good one.
    engine.watch(interval=0.05, on_reload=lambda result: result.ok and reloaded.set())
    shutil.copy(RULES / "eql" / "dns_known_bad_domain.eql", rules_dir)
    assert reloaded.wait(timeout=10)
    assert {r["id"] for r in engine.rules()} == {"certutil_download", "dns_known_bad_domain"}
    engine.close()
    reloaded.clear()
    shutil.copy(RULES / "eql" / "whoami_discovery.eql", rules_dir)
    time.sleep(0.3)
    assert not reloaded.is_set()


def _read_until(stream, text, timeout):
    """The lines `stream` gives up to and including the first holding `text`;
    fails after `timeout` seconds without it."""
    lines: "queue.Queue[str]" = queue.Queue()

    def read():
        for line in stream:
            lines.put(line)
            if text in line:
                return

    threading.Thread(target=read, daemon=True).start()
    seen = []
    deadline = time.monotonic() + timeout
    while not seen or text not in seen[-1]:
        try:
            seen.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            pytest.fail(f"no {text!r} within {timeout} s; read {seen}")
    return seen


def test_kestrel_run_watch_reloads_rules_while_reading_stdin(rules_dir, certutil, bad_dns):
    import json

    run = subprocess.Popen(
        [sys.executable, "-m", "kestrel", "run", "--rules", str(rules_dir), "--events", "-", "--watch", "0.05"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert run.stderr.readline().startswith("kestrel run: watching 1 rule path(s)")
        shutil.copy(RULES / "eql" / "dns_known_bad_domain.eql", rules_dir)
        # stdin is still open, so the run is live: the event goes in only
        # once the reload has been reported.
        reported = _read_until(run.stderr, "rules reloaded:", timeout=60)
        run.stdin.write(json.dumps(bad_dns) + "\n")
        out, err = run.communicate(timeout=60)
    finally:
        run.kill()
    assert run.returncode == 0, err
    assert "rules reloaded: 1 added, 0 removed, 0 changed, 1 unchanged" in reported[-1]
    assert [json.loads(line)["rule"]["id"] for line in out.splitlines()] == ["dns_known_bad_domain"]
