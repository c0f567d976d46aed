"""Finding 20: a reload that failed with an unexpected exception was only kept in
``last_error``; ``on_reload`` was not called, so ``kestrel run --watch`` said nothing.

Every failed reload now reaches ``on_reload``. The exception here is a real
one: a rule corpus dropped into the watched directory that does not fit in
the memory the process has left, so the reload raises MemoryError.
"""

import json

from hostile_support import process_event, result, run_scenario


def test_a_reload_that_raises_is_reported_and_the_old_rules_keep_running(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "pid.eql").write_text("process where process.pid == 4242\n")
    # About 40 MB: reading it takes twice that, more than the child leaves itself.
    record = json.dumps({"query": 'process where process.name : "' + "x" * 400 + '"'}) + "\n"
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(record * (40_000_000 // len(record)))
    process = run_scenario(
        """
        import os, queue, resource, kestrel
        rules, corpus, event = sys.argv[1:4]
        engine = kestrel.Engine()
        engine.load(rules)
        results = queue.Queue()
        watcher = engine.watch(interval=0.05, on_reload=results.put)
        with open("/proc/self/status") as status:
            used = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmData:"))
        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        resource.setrlimit(resource.RLIMIT_DATA, (used + (48 << 20), hard))
        os.rename(corpus, os.path.join(rules, "corpus.jsonl"))
        failed = results.get(timeout=15)
        watcher.stop()
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))
        report({"ok": failed.ok, "failures": [str(f) for f in failed.failures],
                "last_reload_is_it": engine.last_reload is failed, "failed_reloads": watcher.failed_reloads,
                "last_error": watcher.last_error, "rules": [r["id"] for r in engine.rules()],
                "alerts": len(engine.process(event))})
        """,
        str(rules),
        str(corpus),
        process_event(4242) + "\n",
    )
    found = result(process)
    assert found["ok"] is False and found["failed_reloads"] == 1 and found["last_reload_is_it"]
    [failure] = found["failures"]
    assert failure == f"{rules}: the reload raised MemoryError" and found["last_error"] == "MemoryError"
    assert found["rules"] == ["pid"] and found["alerts"] == 1
