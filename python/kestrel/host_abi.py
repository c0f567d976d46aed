"""Host API v1's C ABI, described for ctypes and for LuaJIT's FFI.

The Rust core exports one table of C function pointers (``struct
HostApiV1``, documented in ``rules/README.md``). This module holds its layout
once, as a list of (name, C declaration) pairs, and builds from it both a
ctypes view (used by tests and tools) and the C declaration text that the Lua
runtime hands to ``ffi.cdef``.
"""

from __future__ import annotations

import ctypes as C

from kestrel import _core

_BATCH = C.c_void_p
_CTX = C.c_void_p
_U32 = C.c_uint32
_TRI = C.c_int32

_STR_OP = C.CFUNCTYPE(_TRI, _CTX, _BATCH, _U32, _U32, _U32, C.c_int32)
_ID_OP = C.CFUNCTYPE(_TRI, _CTX, _BATCH, _U32, _U32, _U32)
_TEXT_OP = C.CFUNCTYPE(_TRI, _CTX, _U32, C.c_char_p, _U32)

#: (field, ctypes type, C declaration) in table order. The table only ever grows at the end.
LAYOUT: list[tuple[str, object, str]] = [
    ("abi_version", C.c_uint32, "uint32_t abi_version"),
    ("struct_size", C.c_uint32, "uint32_t struct_size"),
    (
        "event_get_i64",
        C.CFUNCTYPE(C.c_int64, _BATCH, _U32, _U32, C.POINTER(C.c_int32)),
        "int64_t (*event_get_i64)(const void *batch, uint32_t ev, uint32_t field, int32_t *is_null)",
    ),
    (
        "event_get_u64",
        C.CFUNCTYPE(C.c_uint64, _BATCH, _U32, _U32, C.POINTER(C.c_int32)),
        "uint64_t (*event_get_u64)(const void *batch, uint32_t ev, uint32_t field, int32_t *is_null)",
    ),
    (
        "event_get_f64",
        C.CFUNCTYPE(C.c_double, _BATCH, _U32, _U32, C.POINTER(C.c_int32)),
        "double (*event_get_f64)(const void *batch, uint32_t ev, uint32_t field, int32_t *is_null)",
    ),
    (
        "event_get_bool",
        C.CFUNCTYPE(_TRI, _BATCH, _U32, _U32),
        "int32_t (*event_get_bool)(const void *batch, uint32_t ev, uint32_t field)",
    ),
    (
        "event_get_str",
        C.CFUNCTYPE(C.c_void_p, _BATCH, _U32, _U32, C.POINTER(C.c_uint32)),
        "const char *(*event_get_str)(const void *batch, uint32_t ev, uint32_t field, uint32_t *len)",
    ),
    (
        "event_is_null",
        C.CFUNCTYPE(C.c_int32, _BATCH, _U32, _U32),
        "int32_t (*event_is_null)(const void *batch, uint32_t ev, uint32_t field)",
    ),
    *[
        (
            name,
            _STR_OP,
            f"int32_t (*{name})(const void *ctx, const void *batch, uint32_t ev, uint32_t field, uint32_t lit, int32_t ci)",
        )
        for name in ("str_eq", "str_contains", "str_starts_with", "str_ends_with")
    ],
    *[
        (name, _ID_OP, f"int32_t (*{name})(const void *ctx, const void *batch, uint32_t ev, uint32_t field, uint32_t id)")
        for name in ("glob_match_field", "re_match_field", "set_contains")
    ],
    *[
        (name, _TEXT_OP, f"int32_t (*{name})(const void *ctx, uint32_t id, const char *text, uint32_t len)")
        for name in ("glob_match", "re_match")
    ],
    ("alert_emit", C.CFUNCTYPE(C.c_int32, _CTX, _U32), "int32_t (*alert_emit)(const void *ctx, uint32_t ev)"),
    (
        "match_emit",
        C.CFUNCTYPE(C.c_int32, _CTX, _U32, _U32),
        "int32_t (*match_emit)(const void *ctx, uint32_t filter, uint32_t ev)",
    ),
    (
        "eval_node",
        C.CFUNCTYPE(_TRI, _CTX, _BATCH, _U32, _U32),
        "int32_t (*eval_node)(const void *ctx, const void *batch, uint32_t ev, uint32_t node)",
    ),
]


class HostApiV1(C.Structure):
    """ctypes view of the table; field names match the C struct."""

    _fields_ = [(name, ctype) for name, ctype, _ in LAYOUT]  # type: ignore[misc]


def c_declaration() -> str:
    """The C text of ``struct HostApiV1``, for ``ffi.cdef``."""
    body = "".join(f"  {decl};\n" for _, _, decl in LAYOUT)
    return f"typedef struct HostApiV1 {{\n{body}}} HostApiV1;\n"


def table() -> HostApiV1:
    """The live table exported by the core, checked against this layout."""
    api = HostApiV1.from_address(_core.host_api_v1_address())
    if api.abi_version != _core.HOST_ABI_VERSION or api.struct_size < C.sizeof(HostApiV1):
        raise RuntimeError(
            f"Host API table mismatch: core says v{api.abi_version} with {api.struct_size} bytes, "
            f"this module expects v{_core.HOST_ABI_VERSION} with {C.sizeof(HostApiV1)} bytes"
        )
    return api
