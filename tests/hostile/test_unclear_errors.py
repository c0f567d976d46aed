"""Finding 16: inputs that ended in raw Python exceptions or cryptic core errors.

A str with a lone surrogate (UnicodeEncodeError), a missing alerts directory
(FileNotFoundError and a CLI traceback), a directory passed as events
(IsADirectoryError) and a maxspan beyond range ("malformed IR JSON") are now
KestrelError subclasses with a clear message; the CLI prints one line and
exits with its documented code.
"""

from hostile_support import RULES, one_line_error, process_event, result, run_cli, run_scenario

RULE = RULES / "eql" / "whoami_discovery.eql"


def test_python_api_errors_are_kestrel_errors_that_say_what_and_where(tmp_path):
    (tmp_path / "huge_maxspan.eql").write_text(
        "sequence by host.id with maxspan=9999999999d\n  [process where true]\n  [process where true]\n"
    )
    process = run_scenario(
        """
        import kestrel
        good = sys.argv[1]

        def outcome(call):
            try:
                call()
                return None
            except kestrel.KestrelError as error:
                return [type(error).__name__, str(error)]

        engine = kestrel.Engine()
        loaded = engine.load(sys.argv[2])
        report({
            "str": outcome(lambda: engine.process(good + "\\n" + '{"process": {"name": "x\\udc80"}}\\n')),
            "dicts": outcome(lambda: engine.process([{"process": {"args": ["ok", "x\\udc80"]}}])),
            "dict_problems": engine.problems,
            "directory": outcome(lambda: engine.process_file(sys.argv[2])),
            "alerts_dir": outcome(lambda: kestrel.Engine(sinks=[sys.argv[2] + "/missing/alerts.ndjson"])),
            "maxspan": [[f.line, f.column, f.reason] for f in loaded.failures],
        })
        """,
        process_event(1),
        str(tmp_path),
    )
    found = result(process)
    assert found["str"] == [
        "EventInputError",
        "<events>: line 2, column 24: a lone surrogate (U+DC80) is not Unicode "
        "text; pass the raw bytes instead, or decode them with errors='replace'",
    ]
    # A dict is one event among others: its text that is not Unicode makes it a located record.
    assert found["dicts"] is None
    [problem] = found["dict_problems"]
    assert problem.startswith("<events>:1: malformed_json: the event could not be written as JSON") and "surrogate" in problem
    assert found["directory"] == ["EventInputError", f"{tmp_path}: is a directory, not an events file"]
    assert found["alerts_dir"] == [
        "EngineError",
        f"{tmp_path}/missing/alerts.ndjson: cannot open for alerts: No such file or directory",
    ]
    [[line, column, reason]] = found["maxspan"]
    assert (line, column) == (1, 26) and reason.startswith("E061 maxspan 9999999999d is too long")


def test_the_cli_prints_one_line_and_the_documented_exit_code(tmp_path):
    events = tmp_path / "events.ndjson"
    events.write_text(process_event(1) + "\n")
    missing_dir = run_cli("run", "--rules", str(RULE), "--events", str(events), "--alerts", str(tmp_path / "no" / "a.ndjson"))
    assert missing_dir.returncode == 2
    assert f"kestrel run: {tmp_path / 'no' / 'a.ndjson'}: cannot open for alerts" in one_line_error(missing_dir)
    directory = run_cli("run", "--rules", str(RULE), "--events", str(tmp_path), "--json")
    assert directory.returncode == 3
    assert f"kestrel run: {tmp_path}: is a directory, not an events file" in one_line_error(directory)
