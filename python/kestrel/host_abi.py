"""Host API v1's C ABI, described for ctypes and for LuaJIT's FFI.

The Rust core exports one table of C function pointers (``struct
HostApiV1``, documented in ``rules/README.md``) and declares its layout once,
as (name, C declaration) pairs. This module builds from that declaration
both a ctypes view (used by tests and tools) and the C text that the Lua
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

#: The ctypes type of each field. The layout itself (order and C
#: declarations) is declared once, in the core (`HOST_API_V1_FIELDS` in
#: rust/kestrel-host); a field the core has and this map lacks fails here,
#: at import.
CTYPES: dict[str, object] = {
    "abi_version": C.c_uint32,
    "struct_size": C.c_uint32,
    "event_get_i64": C.CFUNCTYPE(C.c_int64, _BATCH, _U32, _U32, C.POINTER(C.c_int32)),
    "event_get_u64": C.CFUNCTYPE(C.c_uint64, _BATCH, _U32, _U32, C.POINTER(C.c_int32)),
    "event_get_f64": C.CFUNCTYPE(C.c_double, _BATCH, _U32, _U32, C.POINTER(C.c_int32)),
    "event_get_bool": C.CFUNCTYPE(_TRI, _BATCH, _U32, _U32),
    "event_get_str": C.CFUNCTYPE(C.c_void_p, _BATCH, _U32, _U32, C.POINTER(C.c_uint32)),
    "event_is_null": C.CFUNCTYPE(C.c_int32, _BATCH, _U32, _U32),
    **{name: _STR_OP for name in ("str_eq", "str_contains", "str_starts_with", "str_ends_with")},
    **{name: _ID_OP for name in ("glob_match_field", "re_match_field", "set_contains")},
    **{name: _TEXT_OP for name in ("glob_match", "re_match")},
    "alert_emit": C.CFUNCTYPE(C.c_int32, _CTX, _U32),
    "match_emit": C.CFUNCTYPE(C.c_int32, _CTX, _U32, _U32),
    "eval_node": C.CFUNCTYPE(_TRI, _CTX, _BATCH, _U32, _U32),
    "column_i64": C.CFUNCTYPE(C.c_int32, _BATCH, _U32, C.POINTER(C.POINTER(C.c_int64)), C.POINTER(C.POINTER(C.c_uint64))),
    "category_mask": C.CFUNCTYPE(C.c_int32, _BATCH, C.c_char_p, _U32, C.POINTER(C.c_uint8), _U32),
    "match_emit_many": C.CFUNCTYPE(C.c_int32, _CTX, _U32, C.POINTER(C.c_uint32), _U32),
    "category_events": C.CFUNCTYPE(C.c_int32, _BATCH, C.c_char_p, _U32, C.POINTER(C.c_uint32), _U32),
    "cmp_i64": C.CFUNCTYPE(_TRI, _BATCH, _U32, _U32, C.c_int32, C.c_int64),
    "cmp_f64": C.CFUNCTYPE(_TRI, _BATCH, _U32, _U32, C.c_int32, C.c_double),
    "column_str": C.CFUNCTYPE(
        C.c_int32,
        _BATCH,
        _U32,
        C.POINTER(C.POINTER(C.c_uint32)),
        C.POINTER(C.POINTER(C.c_uint64)),
        C.POINTER(C.POINTER(C.c_uint8)),
    ),
}

#: (field, ctypes type, C declaration) in table order, from the core's declaration.
LAYOUT: list[tuple[str, object, str]] = [(name, CTYPES[name], decl) for name, decl in _core.host_api_v1_fields()]


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
