"""Every rule source, through the API and through `kestrel list` / `kestrel run`."""

import json
import shutil

import pytest
from engine_support import RULES, event, ndjson

import kestrel
from kestrel.cli import main


def test_eql_file_alert_carries_the_rule_and_the_event(certutil):
    engine = kestrel.Engine()
    report = engine.load(RULES / "eql" / "certutil_download.eql")
    assert report.ok and [r["id"] for r in engine.rules()] == ["certutil_download"]
    [alert] = engine.process([certutil, event("process", process={"name": "cmd.exe"})])
    assert alert["kind"] == "event" and alert["@timestamp"] == "2026-01-05T08:00:00.000Z"
    assert alert["rule"]["id"] == "certutil_download" and alert["rule"]["runtime"] == "wasm"
    assert alert["rule"]["name"].startswith("CertUtil used as a downloader")
    assert alert["events"] == [certutil]
    assert alert["captures"]["process.name"] == "certutil.exe"


def test_eql_text_and_ndjson_bytes(bad_dns):
    engine = kestrel.Engine()
    engine.load('network where dns.question.name == "evil.example"', rule_id="dns")
    alerts = engine.process(ndjson([bad_dns, bad_dns]).encode())
    assert [a["rule"]["id"] for a in alerts] == ["dns", "dns"]


def test_detection_rules_toml_metadata_goes_into_the_alert(tmp_path):
    toml = RULES / "detection-rules" / "credential_access_gdb_process_hooking.toml"
    engine = kestrel.Engine()
    assert engine.load(toml).ok
    gdb = event("process", host={"id": "h1", "os": {"type": "linux"}}, process={"name": "gdb", "args": ["gdb", "-p", "42"]})
    gdb["event"]["action"] = "exec"
    [alert] = engine.process([gdb])
    rule = alert["rule"]
    assert rule["id"] == "66c058f3-99f4-4d18-952b-43348f2577a0"
    assert rule["name"] == "Linux Process Hooking via GDB"
    assert (rule["severity"], rule["risk_score"]) == ("low", 21)
    assert "Tactic: Credential Access" in rule["tags"]
    assert rule["threat"][0]["framework"] == "MITRE ATT&CK"


def load_beside_a_good_rule(directory, name, text):
    """Load `directory` holding file `name` (`text`) and a good rule; only the good rule loads."""
    (directory / name).write_text(text)
    shutil.copy(RULES / "eql" / "whoami_discovery.eql", directory)
    engine = kestrel.Engine()
    report = engine.load(directory)
    assert [r.id for r in report.rules] == ["whoami_discovery"]
    return engine, report


def test_non_eql_toml_rules_are_skipped_and_counted(tmp_path):
    engine, report = load_beside_a_good_rule(
        tmp_path, "kuery.toml", '[rule]\nname = "k"\nlanguage = "kuery"\nquery = "process.name : x"\n'
    )
    assert [str(s) for s in report.skipped] == [f"{tmp_path / 'kuery.toml'}: language 'kuery' is not EQL"]
    assert engine.stats()["rules_skipped"] == 1


def test_packages_of_every_entry_kind(tmp_path, certutil):
    eql_package = tmp_path / "certutil_pkg"
    eql_package.mkdir()
    (eql_package / "rule.eql").write_text((RULES / "eql" / "certutil_download.eql").read_text())
    (eql_package / "manifest.json").write_text(
        json.dumps({"id": "pkg-certutil", "version": "2", "entry": "rule.eql", "severity": "high", "risk_score": 73})
    )
    shutil.copytree(RULES / "lua_example_rule", tmp_path / "lua_example_rule")
    shutil.copytree(RULES / "wasm_example_rule", tmp_path / "wasm_example_rule")
    engine = kestrel.Engine()
    report = engine.load(tmp_path)
    assert report.ok
    runtimes = {r["id"]: (r["runtime"], r["source"]) for r in engine.rules()}
    assert runtimes == {
        "pkg-certutil": ("wasm", "package"),
        "lua_example_rule": ("lua", "package"),
        "wasm-example-pid-over-1000": ("wasm", "package"),
    }
    suspicious = event("process", process={"name": "suspicious.exe", "pid": 4242})
    alerts = engine.process([certutil, suspicious])
    fired = sorted((a["rule"]["id"], a["events"][0]["process"]["name"]) for a in alerts)
    assert fired == [
        ("lua_example_rule", "suspicious.exe"),
        ("pkg-certutil", "certutil.exe"),
        ("wasm-example-pid-over-1000", "certutil.exe"),
        ("wasm-example-pid-over-1000", "suspicious.exe"),
    ]
    pkg_alert = next(a for a in alerts if a["rule"]["id"] == "pkg-certutil")
    assert (pkg_alert["rule"]["version"], pkg_alert["rule"]["severity"], pkg_alert["rule"]["risk_score"]) == ("2", "high", 73)


def test_jsonl_corpus_rules(tmp_path, bad_dns):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        json.dumps(
            {"rule_id": "r1", "name": "bad dns", "severity": "high", "query": 'network where dns.question.name == "evil.example"'}
        )
        + "\n"
        + "{not json\n"
        + json.dumps({"rule_id": "r2", "query": "process where process.name == "})
        + "\n"
    )
    engine = kestrel.Engine()
    report = engine.load(corpus)
    assert [r.id for r in report.rules] == ["r1"]
    assert [(f.location, f.line) for f in report.failures] == [(str(corpus), 2), (f"{corpus}:3", None)]
    assert "E003" in report.failures[1].reason
    assert engine.process([bad_dns])[0]["rule"]["severity"] == "high"


def test_a_failing_rule_is_reported_with_file_line_and_column_and_the_rest_load(tmp_path):
    _, report = load_beside_a_good_rule(tmp_path, "bad.eql", "// a comment\nprocess where\n  process.name = 'x'\n")
    [failure] = report.failures
    assert (failure.location, failure.line, failure.column) == (str(tmp_path / "bad.eql"), 3, 16)
    assert str(failure).startswith(f"{tmp_path / 'bad.eql'}:3:16: E00")
    with pytest.raises(kestrel.RuleLoadError, match="bad.eql:3:16") as caught:
        kestrel.Engine().load(tmp_path, strict=True)
    assert caught.value.failures == [failure]


def test_duplicate_rule_ids_fail(tmp_path):
    engine = kestrel.Engine()
    assert engine.load(RULES / "eql" / "whoami_discovery.eql").ok
    again = engine.load(RULES / "eql" / "whoami_discovery.eql")
    assert "duplicate rule id 'whoami_discovery'" in again.failures[0].reason
    assert len(engine.rules()) == 1


SIGMA = """title: Whoami Execution
id: 502b42de-4306-40b4-9596-6f590c81f073
status: test
level: medium
tags: [attack.discovery, attack.t1033]
logsource: {category: process_creation, product: windows}
detection:
  selection:
    Image|endswith: '\\\\whoami.exe'
  condition: selection
"""


def _has_pysigma():
    try:
        import sigma.backends.elasticsearch  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _has_pysigma(), reason="pySigma is an optional extra (kestrel[sigma])")
def test_sigma_rules_through_pysigma(tmp_path):
    (tmp_path / "whoami.yml").write_text(SIGMA)
    engine = kestrel.Engine()
    assert engine.load(tmp_path).ok
    [rule] = engine.rules()
    assert (rule["id"], rule["categories"], rule["source"]) == ("502b42de-4306-40b4-9596-6f590c81f073", ["process"], "sigma")
    hit = event("process", process={"name": "whoami.exe", "executable": "C:\\Windows\\System32\\WHOAMI.EXE"})
    [alert] = engine.process([hit, event("process", process={"executable": "C:\\Windows\\cmd.exe"})])
    assert alert["rule"]["severity"] == "medium" and "attack.t1033" in alert["rule"]["tags"]
    assert alert["rule"]["threat"][0]["technique"] == [{"id": "T1033"}]


SIGMA_CASELESS = r"""
title: Headless browser started from a shell
id: 0c1f3bd4-3a62-4a5e-9bd4-7e3c3c2f6b10
logsource:
  category: process_creation
  product: windows
detection:
  selection:
    Image|endswith: '\chrome.exe'
    ParentImage|endswith: ['\cmd.exe', '\powershell.exe']
  condition: selection
level: low
"""


@pytest.mark.skipif(not _has_pysigma(), reason="pySigma is an optional extra (kestrel[sigma])")
def test_sigma_rules_on_caseless_multi_fields_match(tmp_path):
    # pySigma writes `process.parent.executable.caseless like~ (...)`: the
    # multi-field must read its parent's value, whatever operator is used.
    (tmp_path / "headless.yml").write_text(SIGMA_CASELESS)
    engine = kestrel.Engine()
    assert engine.load(tmp_path).ok
    parent = {"executable": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\POWERSHELL.EXE"}
    hit = event("process", process={"executable": "C:\\Program Files\\Google\\Chrome\\CHROME.EXE", "parent": parent})
    miss = event(
        "process",
        process={"executable": "C:\\Program Files\\Google\\Chrome\\chrome.exe", "parent": {"executable": "C:\\explorer.exe"}},
    )
    assert len(engine.process([hit, miss])) == 1


@pytest.mark.skipif(_has_pysigma(), reason="pySigma is installed")
def test_sigma_rules_are_skipped_with_a_message_without_pysigma(tmp_path):
    (tmp_path / "whoami.yml").write_text(SIGMA)
    report = kestrel.Engine().load(tmp_path)
    assert report.ok and not report.rules
    assert "pip install 'kestrel[sigma]'" in report.skipped[0].reason


def test_cli_list_shows_every_source(tmp_path, capsys):
    status = main(["list", str(RULES), "--json"])
    listing = json.loads(capsys.readouterr().out)
    assert status == 0
    sources = {r["source"] for r in listing["rules"]}
    assert sources == {"eql", "toml", "package"}
    nltest = next(r for r in listing["rules"] if r["id"] == "84da2554-e12a-11ec-b896-f661ea17fbcd")
    assert (nltest["kind"], nltest["runtime"], nltest["categories"]) == ("event", "wasm", ["process"])
    (tmp_path / "bad.eql").write_text("process where")
    assert main(["list", str(tmp_path)]) == 2
    assert "FAILED" in capsys.readouterr().out


def test_cli_run_over_mixed_sources(tmp_path, capsys, certutil, bad_dns):
    shutil.copy(RULES / "eql" / "certutil_download.eql", tmp_path)
    shutil.copy(RULES / "detection-rules" / "credential_access_gdb_process_hooking.toml", tmp_path)
    shutil.copytree(RULES / "wasm_example_rule", tmp_path / "pkg")
    events = tmp_path / "events.ndjson"
    events.write_text(ndjson([certutil, bad_dns]))
    assert main(["run", "--rules", str(tmp_path), "--events", str(events)]) == 0
    out, err = capsys.readouterr()
    alerts = [json.loads(line) for line in out.splitlines()]
    assert sorted(a["rule"]["id"] for a in alerts) == ["certutil_download", "wasm-example-pid-over-1000"]
    assert "3 rules loaded, 0 skipped, 0 failed; 2 alerts" in err
