"""`kestrel check PATH...`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kestrel.cli import main

from support.shared import SHARED

TOML_DIR = SHARED / "corpus" / "detection-rules-toml"


def run(capsys, *args):
    status = main(list(args))
    return status, capsys.readouterr().out


def test_valid_eql_file(tmp_path, capsys):
    (tmp_path / "ok.eql").write_text('process where process.name : "cmd.exe"\n')
    status, out = run(capsys, "check", str(tmp_path / "ok.eql"))
    assert status == 0
    assert out.strip() == "1 rule checked: 1 ok, 0 failed"


def test_invalid_eql_file_prints_code_position_and_caret(tmp_path, capsys):
    (tmp_path / "bad.eql").write_text('process where\n  process.name = "x"\n')
    status, out = run(capsys, "check", str(tmp_path / "bad.eql"))
    assert status == 1
    lines = out.splitlines()
    assert lines[0].startswith(f"{tmp_path / 'bad.eql'}:2:16: E004 ")
    assert lines[1] == '2 |   process.name = "x"'
    assert lines[2].index("^") == lines[1].index("=")
    assert lines[-1] == "1 rule checked: 0 ok, 1 failed"


def test_detection_rules_toml_directory(capsys):
    status, out = run(capsys, "check", str(TOML_DIR))
    assert status == 0
    assert out.strip() == "19 rules checked: 19 ok, 0 failed"


def test_toml_error_reports_file_line(tmp_path, capsys):
    source = TOML_DIR / "credential_access_gdb_process_hooking.toml"
    text = source.read_text().replace("process where", "process wher", 1)
    (tmp_path / "rule.toml").write_text(text)
    status, out = run(capsys, "check", str(tmp_path / "rule.toml"))
    assert status == 1
    first = out.splitlines()[0]
    line_number = int(first.split(":")[1])
    assert "process wher" in text.splitlines()[line_number - 1]


def test_jsonl_corpus(tmp_path, capsys):
    records = [{"name": "good", "query": "any where true"}, {"name": "bad", "query": "any where x == 'a'"}]
    path = tmp_path / "rules.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    status, out = run(capsys, "check", str(path))
    assert status == 1
    assert f"{path}:2 (bad): query line 1, column 16: E005" in out
    assert out.splitlines()[-1] == "2 rules checked: 1 ok, 1 failed"


def test_unreadable_inputs_fail(tmp_path, capsys):
    (tmp_path / "broken.toml").write_text("[rule\n")
    status, out = run(capsys, "check", str(tmp_path / "broken.toml"), str(tmp_path / "missing.eql"))
    assert status == 1
    assert "invalid TOML" in out and "no such file" in out


def test_strict_flag(tmp_path, capsys):
    (tmp_path / "r.eql").write_text("process where not.in.ecs == 1")
    assert run(capsys, "check", str(tmp_path / "r.eql"))[0] == 0
    status, out = run(capsys, "check", "--strict", str(tmp_path / "r.eql"))
    assert status == 1 and "E030" in out


def test_quiet_prints_only_the_summary(tmp_path, capsys):
    (tmp_path / "bad.eql").write_text("process where x = 1")
    status, out = run(capsys, "check", "-q", str(tmp_path / "bad.eql"))
    assert status == 1 and out.splitlines() == ["1 rule checked: 0 ok, 1 failed"]


def test_requires_a_command(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2


def test_python_dash_m(tmp_path):
    (tmp_path / "ok.eql").write_text("any where true")
    result = subprocess.run([sys.executable, "-m", "kestrel", "check", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "1 rule checked" in result.stdout


def test_console_script(tmp_path):
    # Installed beside the interpreter running the tests (the venv's bin/).
    script = shutil.which("kestrel", path=str(Path(sys.executable).parent))
    assert script is not None, "the kestrel console script is not installed"
    (tmp_path / "ok.eql").write_text("any where true")
    result = subprocess.run([script, "check", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0


REPO = Path(__file__).resolve().parents[1]


def test_rule_packages_are_loaded_as_the_engine_loads_them(capsys):
    status, out = run(capsys, "check", str(REPO / "rules" / "lua_example_rule"), str(REPO / "rules" / "wasm_example_rule"))
    assert status == 0, out
    assert out.strip() == "2 rules checked: 2 ok, 0 failed"


def test_a_broken_package_is_reported_with_its_path(tmp_path, capsys):
    package = tmp_path / "broken"
    shutil.copytree(REPO / "rules" / "lua_example_rule", package)
    (package / "predicate.lua").write_text("function (\n")
    status, out = run(capsys, "check", str(tmp_path))
    assert status == 1
    assert str(package) in out
    assert out.splitlines()[-1] == "1 rule checked: 0 ok, 1 failed"


def test_sigma_files_are_converted_and_checked(tmp_path, capsys):
    pytest.importorskip("sigma.backends.elasticsearch")
    (tmp_path / "whoami.yml").write_text(
        "title: Whoami\nid: 502b42de-4306-40b4-9596-6f590c81f073\nstatus: test\n"
        "logsource: {category: process_creation, product: windows}\n"
        "detection:\n  selection:\n    Image|endswith: '\\\\whoami.exe'\n  condition: selection\n"
    )
    (tmp_path / "broken.yml").write_text("title: Broken\nlogsource: {category: process_creation}\ndetection: {}\n")
    status, out = run(capsys, "check", str(tmp_path))
    assert status == 1
    assert str(tmp_path / "broken.yml") in out
    assert out.splitlines()[-1] == "2 rules checked: 1 ok, 1 failed"


def test_the_bundled_rules_directory_checks_clean(capsys):
    status, out = run(capsys, "check", str(REPO / "rules"))
    assert status == 0, out
    assert out.splitlines()[-1].endswith("ok, 0 failed")


def test_toml_rules_of_other_languages_are_skipped_as_the_engine_skips_them(tmp_path, capsys):
    (tmp_path / "kuery.toml").write_text('[rule]\nlanguage = "kuery"\nquery = "process.name : cmd.exe"\n')
    (tmp_path / "ok.eql").write_text("any where true")
    status, out = run(capsys, "check", str(tmp_path))
    assert status == 0, out
    assert f"skipped {tmp_path / 'kuery.toml'}: language 'kuery' is not EQL" in out
    assert out.splitlines()[-1] == "1 rule checked: 1 ok, 0 failed"
