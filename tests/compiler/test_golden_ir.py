"""Golden IR documents: the JSON contract with the Rust loader, byte for byte.

Compiled against an empty schema, so FieldIds are assigned in order of
appearance and do not depend on the ECS field list.  After an intended IR
change, regenerate with `KESTREL_UPDATE_GOLDEN=1 pytest tests/compiler/test_golden_ir.py`
and review the diff (and bump `ir_version` if the meaning changed).
"""

from __future__ import annotations

import os

import pytest
from eql_test_data import HERE

import kestrel
from kestrel.compiler import compile

GOLDEN = HERE / "golden"
QUERIES = {
    "event_patterns": 'process where process.name : ("cmd.exe", "*powershell*", "pwsh?.exe") and '
    'process.args in~ ("-enc", "-e") and not process.parent.name regex "(svchost|services)\\\\.exe" and ?user.id != null',
    "event_functions": 'network where cidrMatch(source.ip, "10.0.0.0/8", "192.168.0.0/16") and '
    'length(process.command_line) > 2 * 100 and startsWith~(process.name, "py") | head 10',
    "sequence_full": "sequence by host.id with maxspan=5m "
    '[process where event.type == "start"] by process.entity_id with runs=2 '
    "![network where destination.port == 443] by process.entity_id "
    '[file where file.extension : "exe"] by process.entity_id '
    'until [process where event.type == "end"] by process.entity_id | tail 3',
    "sample": 'sample by host.id [process where process.name == "a"] [file where ?file.size > 1.5]',
}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_golden_ir(name):
    document = compile(QUERIES[name], schema=kestrel.Schema.empty()).ir_json(indent=2) + "\n"
    path = GOLDEN / f"{name}.json"
    if os.environ.get("KESTREL_UPDATE_GOLDEN"):
        path.write_text(document, encoding="utf-8")
    assert document == path.read_text(encoding="utf-8")
