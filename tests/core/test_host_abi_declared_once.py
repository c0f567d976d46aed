"""Host API v1 is declared once, in the core; everything else is checked against it.

The core declares the C table's fields (``HOST_API_V1_FIELDS``) and the Wasm
imports (``WASM_IMPORTS``, itself checked against the linker by a Rust test).
Python's ctypes view and LuaJIT's ``cdef`` are built from the first; these
tests hold the documentation and the Lua binding to both.
"""

import re
from pathlib import Path

from kestrel import _core
from kestrel.host_abi import LAYOUT, c_declaration

REPO = Path(__file__).resolve().parents[2]
ABI_DOC = (REPO / "rules" / "README.md").read_text(encoding="utf-8")
FFI_BINDING = (REPO / "python" / "kestrel" / "runtime" / "lua" / "host_ffi.lua").read_text(encoding="utf-8")
C_FIELDS = _core.host_api_v1_fields()
FUNCTIONS = [name for name, _ in C_FIELDS[2:]]


def test_the_python_layout_and_cdef_are_the_cores():
    assert [(name, decl) for name, _, decl in LAYOUT] == C_FIELDS
    for _, decl in C_FIELDS:
        assert f"  {decl};\n" in c_declaration()


def test_the_documented_c_struct_lists_the_cores_fields_in_order():
    block = ABI_DOC[ABI_DOC.index("typedef struct HostApiV1 {") : ABI_DOC.index("} HostApiV1;")]
    documented = re.findall(r"\(\*(\w+)\)|uint32_t (\w+);", block)
    assert [a or b for a, b in documented] == [name for name, _ in C_FIELDS]


def test_the_documented_wasm_imports_are_the_cores():
    section = ABI_DOC[ABI_DOC.index("### For Wasm") : ABI_DOC.index("### For LuaJIT FFI")]
    documented, previous = [], None
    for row in re.findall(r"^\| (`[^|]+) \| ([^|]+) \|", section, flags=re.MULTILINE):
        names, signature = re.findall(r"`(\w+)`", row[0]), row[1].strip()
        signature = previous if signature == "same" else signature.strip("`")
        documented += [(name, signature) for name in names]
        previous = signature
    assert sorted(documented) == sorted(_core.wasm_imports())


def test_the_lua_ffi_binding_reads_every_function_of_the_table():
    for name in FUNCTIONS:
        assert f"api.{name}" in FFI_BINDING, name
