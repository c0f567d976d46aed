"""Reference semantics of fields typed by an Elasticsearch mapping.

`date` and `date_nanos` fields compare as instants (milliseconds or
nanoseconds), `ip` fields as addresses, `version` fields by Semantic
Versioning precedence. The production implementation is the core's
(`kestrel-ir`'s `typed.rs`); this one is written independently from the
Elasticsearch documentation so the IR interpreter can check it.

A value that does not read as the field's type cannot be compared, and the
comparison is false.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import re
from typing import Any, Dict, Optional, Tuple

from kestrel.compiler import ir

_TYPED = ("timestamp", "date", "date_nanos", "ip", "version")

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2})?)?"
)
_EPOCH_UNITS = {"epoch_millis": 10**6, "epoch_second": 10**9}
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def field_kind(node: ir.Node) -> Optional[str]:
    """The typed kind of a field load (`ip`, `timestamp:epoch_second`...), or None."""
    if isinstance(node, ir.LoadField) and node.type.split(":", 1)[0] in _TYPED:
        return node.type
    return None


def compare_typed(kind: str, cmp: str, left: Any, right: Any) -> Optional[bool]:
    """`left cmp right` under the kind's semantics; None when either side is null."""
    if left is None or right is None:
        return None
    a, b = typed_key(kind, left), typed_key(kind, right)
    if a is None or b is None:
        return False
    # The keys are ints or tuples, typed Any: each comparison gives a bool.
    results: Dict[str, bool] = {
        "eq": a == b,
        "ne": a != b,
        "lt": a < b,
        "le": a <= b,
        "gt": a > b,
        "ge": a >= b,
    }
    return results[cmp]


def typed_key(kind: str, value: Any) -> Any:
    """A totally ordered key for `value` read as `kind`, or None when it does not read."""
    base, _, date_format = kind.partition(":")
    if base == "ip":
        return _address(value)
    if base == "version":
        return _version_key(value) if isinstance(value, str) else None
    return _instant(value, date_format, nanos=base == "date_nanos")


def _address(value: Any) -> Optional[int]:
    if not isinstance(value, str):
        return None
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv4Address):
        return 0xFFFF_0000_0000 | int(address)
    return int(address)


def _instant(value: Any, date_format: str, nanos: bool) -> Optional[int]:
    parts = [p.strip() for p in date_format.split("||")] if date_format.strip() else ["strict_date_optional_time", "epoch_millis"]
    epoch = next((_EPOCH_UNITS[p] for p in parts if p in _EPOCH_UNITS), None)
    iso = any(p not in _EPOCH_UNITS for p in parts)
    unit = epoch or _EPOCH_UNITS["epoch_millis"]
    ns: Optional[int]
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        ns = value * unit
    elif isinstance(value, float):
        ns = int(value * unit)
    elif isinstance(value, str):
        text = value.strip()
        if epoch is not None and re.fullmatch(r"-?[\d.]+", text):
            try:
                ns = int(float(text) * unit) if "." in text else int(text) * unit
            except ValueError:
                ns = None
        elif iso:
            ns = _iso_nanos(text)
        else:
            ns = None
    else:
        ns = None
    if ns is None:
        return None
    return ns if nanos else ns // 10**6 * 10**6


def _iso_nanos(text: str) -> Optional[int]:
    match = _ISO.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    try:
        moment = _dt.datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), tzinfo=_dt.timezone.utc
        )
    except ValueError:
        return None
    offset = 0
    if sign:
        offset = (int(off_h) * 3600 + int(off_m or 0) * 60) * (1 if sign == "+" else -1)
    delta = moment - _EPOCH
    seconds = delta.days * 86400 + delta.seconds - offset
    frac = int((fraction or "0")[:9].ljust(9, "0"))
    return seconds * 10**9 + frac


def _version_key(text: str) -> Tuple[Any, ...]:
    """Valid versions first, by precedence; then the rest by text; ties by text."""
    parsed = _parse_version(text)
    if parsed is None:
        return (1, (), (), text.encode())
    main, pre = parsed
    # A release sorts after its pre-releases.
    pre_key = (1,) if pre is None else (0, tuple((0, int(p)) if p.isdigit() else (1, p.encode()) for p in pre))
    return (0, main, pre_key, text.encode())


def _parse_version(text: str) -> Optional[Tuple[Tuple[int, ...], Optional[Tuple[str, ...]]]]:
    identifier = re.compile(r"[0-9A-Za-z-]+")
    head, plus, build = text.partition("+")
    if plus and not all(identifier.fullmatch(p) for p in build.split(".")):
        return None
    main_text, dash, pre_text = head.partition("-")
    pre = tuple(pre_text.split(".")) if dash else None
    if pre is not None and not all(identifier.fullmatch(p) for p in pre):
        return None
    main = main_text.split(".")
    if not all(p.isdigit() and p.isascii() for p in main):
        return None
    return tuple(int(p) for p in main), pre
