"""Per-rule result limits: `size` (the most results a rule returns) and
`max_samples_per_key` (the samples one join key yields), given to
`Engine.load` or set in a rule's own file."""

import json

import pytest

import kestrel

BASE_MS = 1_767_600_000_000
SAMPLE = "sample by user.name [process where true] [file where true]"


def ev(n, category, user="u1"):
    return {"@timestamp": BASE_MS + n * 1000, "event": {"category": [category]}, "user": {"name": user}, "n": n}


#: Three process/file pairs for u1, then one for u2.
EVENTS = [ev(n, "process" if n % 2 == 0 else "file") for n in range(6)] + [ev(6, "process", "u2"), ev(7, "file", "u2")]


def samples(alerts):
    return [[event["n"] for event in alert["events"]] for alert in alerts]


def run(target, **limits):
    engine = kestrel.Engine()
    report = engine.load(target, strict=True, **limits)
    return samples(engine.process(EVENTS) + engine.flush()), engine, report


def test_one_sample_per_key_by_default_as_in_elasticsearch():
    found, _, _ = run(SAMPLE)
    assert found == [[0, 1], [6, 7]]


def test_max_samples_per_key_lets_a_key_yield_more_samples():
    found, _, _ = run(SAMPLE, max_samples_per_key=2)
    assert found == [[0, 1], [2, 3], [6, 7]]
    found, _, _ = run(SAMPLE, max_samples_per_key=5)
    assert found == [[0, 1], [2, 3], [4, 5], [6, 7]]


def test_size_caps_the_results_of_any_kind_of_rule():
    found, engine, _ = run(SAMPLE, max_samples_per_key=5, size=2)
    assert found == [[0, 1], [2, 3]]
    # One batch held all four samples: two passed, two were dropped.
    assert engine.stats()["rules"]["rule-1"]["pipes"]["stages"] == [{"op": "head", "count": 2, "passed": 2, "dropped": 2}]
    assert run("process where true", size=3)[0] == [[0], [2], [4]]
    # After the query's own pipes: the last two, then at most one of them.
    assert run("process where true | tail 2", size=1)[0] == [[4]]
    assert run("process where true", size=0)[0] == []


def test_a_rule_files_limits(tmp_path):
    eql = tmp_path / "pairs.eql"
    eql.write_text(f"// Process and file pairs per user\n// max_samples_per_key: 3\n// size: 3\n{SAMPLE}\n")
    found, engine, _ = run(eql)
    assert found == [[0, 1], [2, 3], [4, 5]]
    assert engine.rules()[0]["id"] == "pairs" and engine._rules[0].name == "Process and file pairs per user"

    toml = tmp_path / "pairs.toml"
    toml.write_text(
        '[metadata]\ncreation_date = "2026/01/01"\n\n[rule]\nrule_id = "pairs-toml"\nname = "pairs"\n'
        f'language = "eql"\ntype = "eql"\nmax_samples_per_key = 2\nsize = 2\nquery = """\n{SAMPLE}\n"""\n'
    )
    assert run(toml)[0] == [[0, 1], [2, 3]]

    corpus = tmp_path / "rules.jsonl"
    corpus.write_text(json.dumps({"rule_id": "pairs-jsonl", "query": SAMPLE, "max_samples_per_key": 2}) + "\n")
    assert run(corpus)[0] == [[0, 1], [2, 3], [6, 7]]

    package = tmp_path / "package"
    package.mkdir()
    (package / "rule.eql").write_text(SAMPLE + "\n")
    manifest = {"id": "pairs-pkg", "version": "1", "kind": "sample", "entry": "rule.eql", "max_samples_per_key": 2, "size": 1}
    (package / "manifest.json").write_text(json.dumps(manifest))
    assert run(package)[0] == [[0, 1]]


def test_load_arguments_override_a_files_limits(tmp_path):
    eql = tmp_path / "pairs.eql"
    eql.write_text(f"// max_samples_per_key: 3\n{SAMPLE}\n")
    assert run(eql, max_samples_per_key=1)[0] == [[0, 1], [6, 7]]
    assert run(eql, size=1)[0] == [[0, 1]]


def test_load_arguments_reach_every_rule_of_a_directory_and_survive_a_reload(tmp_path):
    (tmp_path / "pairs.eql").write_text(SAMPLE + "\n")
    (tmp_path / "processes.eql").write_text("process where true\n")
    engine = kestrel.Engine()
    engine.load(tmp_path, strict=True, max_samples_per_key=2, size=2)
    alerts = engine.process(EVENTS[:6])
    by_rule = {rule: samples([a for a in alerts if a["rule"]["id"] == rule]) for rule in ("pairs", "processes")}
    assert by_rule == {"pairs": [[0, 1], [2, 3]], "processes": [[0], [2]]}
    result = engine.reload()
    assert result.ok and result.unchanged == ["pairs", "processes"]
    assert engine._rules[0].pipes == (("head", 2),)


def test_bad_limits_given_to_load_raise():
    engine = kestrel.Engine()
    with pytest.raises(kestrel.EngineError, match=r"`size` must be a whole number >= 0, not -1"):
        engine.load(SAMPLE, size=-1)
    with pytest.raises(kestrel.EngineError, match=r"`max_samples_per_key` must be a whole number >= 1, not 0"):
        engine.load(SAMPLE, max_samples_per_key=0)
    with pytest.raises(kestrel.EngineError, match=r"`size` must be a whole number >= 0, not '3'"):
        engine.load(SAMPLE, size="3")
    assert engine.rules() == []


def test_bad_limits_in_a_rule_file_fail_that_rule_and_say_where(tmp_path):
    eql = tmp_path / "bad.eql"
    eql.write_text(f"// size: lots\n{SAMPLE}\n")
    report = kestrel.Engine().load(eql)
    assert [str(f) for f in report.failures] == [f"{eql}:1: `size` must be a whole number >= 0, not 'lots'"]

    sequence = tmp_path / "sequence.eql"
    sequence.write_text("// max_samples_per_key: 2\nsequence [process where true] [file where true]\n")
    report = kestrel.Engine().load(sequence)
    assert [f.reason for f in report.failures] == ["`max_samples_per_key` applies to sample rules only, not to a sequence rule"]
    # Given to load, it applies to the sample rules among those loaded and leaves the others be.
    assert kestrel.Engine().load("sequence [process where true] [file where true]", max_samples_per_key=2).ok

    package = tmp_path / "package"
    package.mkdir()
    (package / "rule.eql").write_text(SAMPLE)
    (package / "manifest.json").write_text(json.dumps({"id": "p", "version": "1", "entry": "rule.eql", "size": True}))
    report = kestrel.Engine().load(package)
    [failure] = report.failures
    assert failure.location == str(package / "manifest.json")
    assert failure.reason.endswith("manifest.json: key 'size': must be a whole number >= 0, not true")
