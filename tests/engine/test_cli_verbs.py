"""`kestrel test` on the bundled packages, `--help` examples, `python -m kestrel`."""

import json
import shutil
import subprocess
import sys

import pytest
from engine_support import REPO, RULES

from kestrel.cli import COMMANDS, main


def test_kestrel_test_passes_on_the_bundled_packages(capsys):
    assert main(["test", str(RULES)]) == 0
    out = capsys.readouterr().out
    assert "PASS  " + str(RULES / "lua_example_rule") in out
    assert "PASS  " + str(RULES / "wasm_example_rule") in out


def test_kestrel_test_fails_when_the_alerts_differ(tmp_path, capsys):
    package = tmp_path / "pkg"
    shutil.copytree(RULES / "wasm_example_rule", package)
    expected = json.loads((package / "tests" / "expected.json").read_text())
    expected["alerts"].pop()
    (package / "tests" / "expected.json").write_text(json.dumps(expected))
    assert main(["test", str(package)]) == 1
    assert '"event": 2' in capsys.readouterr().out


def test_kestrel_test_without_packages_is_a_usage_error(tmp_path, capsys):
    assert main(["test", str(tmp_path)]) == 2


@pytest.mark.parametrize("verb", ["check", "run", "list", "test", "compile"])
def test_every_verb_has_examples_in_its_help(verb, capsys):
    assert verb in COMMANDS
    with pytest.raises(SystemExit) as done:
        main([verb, "--help"])
    assert done.value.code == 0
    assert "example" in capsys.readouterr().out


def test_python_dash_m_kestrel():
    result = subprocess.run(
        [sys.executable, "-m", "kestrel", "list", str(RULES / "eql")], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0 and "certutil_download" in result.stdout
