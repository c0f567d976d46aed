"""Host API v1 for the PUC Lua fallback: Python functions over the C table (ctypes).

LuaJIT reaches the core's C table directly through its FFI; PUC Lua has no
FFI, so on that fallback every host call is a Lua->Python call into these
functions (slow, about a microsecond each, but the same core code and so the
same answers). They are plain functions, handed to the prelude in a table:
rule code never sees them, and no Python object with attributes is exposed.
"""

from __future__ import annotations

import ctypes as C
from typing import Any, Callable, Dict, Optional

from kestrel import HostContext
from kestrel.host_abi import table


def python_host(context: HostContext) -> Dict[str, Callable[..., Any]]:
    """The functions host_python.lua binds, closed over `context` and the current batch."""
    api = table()
    ctx = context._address()
    state: Dict[str, Optional[int]] = {"batch": None}
    flag, length = C.c_int32(0), C.c_uint32(0)

    def getter(fn: Any) -> Callable[[int, int], Any]:
        def get(ev: int, field: int) -> Any:
            value = fn(state["batch"], ev, field, C.byref(flag))
            return None if flag.value else value

        return get

    def get_str(ev: int, field: int) -> Optional[str]:
        pointer = api.event_get_str(state["batch"], ev, field, C.byref(length))
        return None if not pointer else C.string_at(pointer, length.value).decode("utf-8")

    def set_batch(address: Optional[int]) -> None:
        state["batch"] = address

    def text_op(fn: Any) -> Callable[[int, str], int]:
        def match(pattern: int, text: str) -> int:
            raw = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
            return fn(ctx, pattern, raw, len(raw))

        return match

    functions: Dict[str, Callable[..., Any]] = {
        "event_get_i64": getter(api.event_get_i64),
        "event_get_u64": getter(api.event_get_u64),
        "event_get_f64": getter(api.event_get_f64),
        "event_get_str": get_str,
        "event_get_bool": lambda ev, field: api.event_get_bool(state["batch"], ev, field),
        "event_is_null": lambda ev, field: api.event_is_null(state["batch"], ev, field),
        "eval_node": lambda ev, node: api.eval_node(ctx, state["batch"], ev, node),
        "alert_emit": lambda ev: api.alert_emit(ctx, ev),
        "match_emit": lambda filter_index, ev: api.match_emit(ctx, filter_index, ev),
        "re_match": text_op(api.re_match),
        "glob_match": text_op(api.glob_match),
        "set_batch": set_batch,
    }
    for name in (
        "str_eq",
        "str_contains",
        "str_starts_with",
        "str_ends_with",
        "glob_match_field",
        "re_match_field",
        "set_contains",
    ):
        functions[name] = (lambda fn: lambda ev, *args: fn(ctx, state["batch"], ev, *args))(getattr(api, name))
    return functions
