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
    state: Dict[str, Optional[int]] = {"batch": None, "n": 0}
    flag, length = C.c_int32(0), C.c_uint32(0)
    masks: Dict[Any, bytes] = {}

    def getter(fn: Any) -> Callable[[int, int], Any]:
        def get(ev: int, field: int) -> Any:
            value = fn(state["batch"], ev, field, C.byref(flag))
            return None if flag.value else value

        return get

    def get_str(ev: int, field: int) -> Optional[str]:
        pointer = api.event_get_str(state["batch"], ev, field, C.byref(length))
        return None if not pointer else C.string_at(pointer, length.value).decode("utf-8")

    def set_batch(address: Optional[int], n: Optional[int] = None) -> None:
        state["batch"], state["n"] = address, (n or 0) if address else 0
        masks.clear()

    def category_mask(name: Any) -> bytes:
        """One byte per event of the batch, 1 where its categories include `name` (cached per batch)."""
        mask = masks.get(name)
        if mask is None:
            n = state["n"] or 0
            out = (C.c_uint8 * max(n, 1))()
            raw = name.encode("utf-8", "surrogateescape") if isinstance(name, str) else None
            ok = raw is not None and state["batch"] is not None and api.category_mask(state["batch"], raw, len(raw), out, n) == 0
            mask = masks[name] = bytes(out)[:n] if ok else b""
        return mask

    def category_is(ev: Any, name: Any) -> bool:
        mask = category_mask(name)
        return isinstance(ev, int) and 0 <= ev < len(mask) and mask[ev] == 1

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
        "cmp_i64": lambda ev, field, op, rhs: api.cmp_i64(state["batch"], ev, field, op, rhs),
        "cmp_f64": lambda ev, field, op, rhs: api.cmp_f64(state["batch"], ev, field, op, rhs),
        "eval_node": lambda ev, node: api.eval_node(ctx, state["batch"], ev, node),
        "alert_emit": lambda ev: api.alert_emit(ctx, ev),
        "match_emit": lambda filter_index, ev: api.match_emit(ctx, filter_index, ev),
        "re_match": text_op(api.re_match),
        "glob_match": text_op(api.glob_match),
        "set_batch": set_batch,
        "category_is": category_is,
        "category_mask": category_mask,
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
