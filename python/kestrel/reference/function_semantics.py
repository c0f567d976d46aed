"""Scalar semantics of the EQL functions and arithmetic, per the Elasticsearch reference.

These are the executable specification the backends are compared against.
Values are Python None (null), bool, int, float and str.  Every function
returns None when a required argument is None.  A call that Elasticsearch
would reject at run time (a string passed to `add`, an integer division by
zero, an unparsable `number`) raises :class:`EvalError`; the interpreter turns
that into null.

Integers are 64-bit as in Java: results of integer arithmetic wrap.  Strings
are indexed by code point (Java counts UTF-16 units; the two differ only for
characters outside the Basic Multilingual Plane).
"""

from __future__ import annotations

import ipaddress
import math
import re
from decimal import Decimal
from typing import Any, Callable, Dict, Optional, Sequence, Union, cast, overload


class EvalError(ValueError):
    """A value Elasticsearch would reject at run time."""


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def wrap_i64(value: int) -> int:
    """Two's-complement wrap, as Java's `long` arithmetic does."""
    return ((value + 2**63) % 2**64) - 2**63


def _numbers(name: str, *values: object) -> None:
    for value in values:
        if not is_number(value):
            raise EvalError(f"{name} needs numbers, got {value!r}")


def _integer_result(value: float) -> float:
    return wrap_i64(value) if isinstance(value, int) else value


# ---- arithmetic ---------------------------------------------------------------


#: A binary operation as callers see it: operands of any type, null when either is null.
_Arithmetic = Callable[[Any, Any], Optional[float]]


def _numeric(name: str) -> Callable[[Callable[[float, float], float]], _Arithmetic]:
    """Decorate a binary operation with null propagation and number checks."""

    def decorate(operation: Callable[[float, float], float]) -> _Arithmetic:
        def apply(left: Any, right: Any) -> Optional[float]:
            if left is None or right is None:
                return None
            _numbers(name, left, right)
            return operation(left, right)

        apply.__name__ = operation.__name__
        apply.__doc__ = operation.__doc__
        return apply

    return decorate


@_numeric("add")
def add(left: float, right: float) -> float:
    return _integer_result(left + right)


@_numeric("subtract")
def subtract(left: float, right: float) -> float:
    return _integer_result(left - right)


@_numeric("multiply")
def multiply(left: float, right: float) -> float:
    return _integer_result(left * right)


@_numeric("divide")
def divide(left: float, right: float) -> float:
    """Integer operands divide like Java: truncated toward zero."""
    if isinstance(left, int) and isinstance(right, int):
        if right == 0:
            raise EvalError("integer division by zero")
        quotient = abs(left) // abs(right)
        return wrap_i64(quotient if (left >= 0) == (right >= 0) else -quotient)
    if right == 0:
        if left == 0 or math.isnan(left):
            return math.nan
        return math.copysign(math.inf, left) * math.copysign(1.0, right)
    return left / right


@_numeric("modulo")
def modulo(left: float, right: float) -> float:
    """Java's `%`: the result takes the sign of the dividend."""
    if isinstance(left, int) and isinstance(right, int):
        if right == 0:
            raise EvalError("integer modulo by zero")
        # Two integers never divide to null.
        return left - right * int(cast(float, divide(left, right)))
    # Java gives NaN where Python's fmod raises: an infinite dividend.
    if right == 0 or math.isinf(left):
        return math.nan
    return math.fmod(left, right)


def negate(value: Any) -> Optional[float]:
    if value is None:
        return None
    _numbers("negation", value)
    return _integer_result(-value)


# ---- strings -------------------------------------------------------------------


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise EvalError(f"{name} needs a string, got {value!r}")
    return value


def _fold(value: str, case_insensitive: bool) -> str:
    return value.lower() if case_insensitive else value


def between(source: object, left: object, right: object, greedy: object = False, case_insensitive: bool = False) -> Optional[str]:
    if source is None or left is None or right is None or greedy is None:
        return None
    source, left, right = _text("between", source), _text("between", left), _text("between", right)
    if not isinstance(greedy, bool):
        raise EvalError("between's greedy argument must be a boolean")
    haystack = _fold(source, case_insensitive)
    start = haystack.find(_fold(left, case_insensitive))
    if start < 0:
        return ""
    start += len(left)
    needle = _fold(right, case_insensitive)
    end = haystack.rfind(needle) if greedy else haystack.find(needle, start)
    if end < start:
        return ""
    return source[start:end]


def starts_with(source: object, prefix: object, case_insensitive: bool = False) -> Optional[bool]:
    if source is None or prefix is None:
        return None
    source, prefix = _text("startsWith", source), _text("startsWith", prefix)
    return _fold(source, case_insensitive).startswith(_fold(prefix, case_insensitive))


def ends_with(source: object, suffix: object, case_insensitive: bool = False) -> Optional[bool]:
    if source is None or suffix is None:
        return None
    source, suffix = _text("endsWith", source), _text("endsWith", suffix)
    return _fold(source, case_insensitive).endswith(_fold(suffix, case_insensitive))


def string_contains(source: object, substring: object, case_insensitive: bool = False) -> Optional[bool]:
    """An empty substring is never contained (Elasticsearch's rule)."""
    if source is None or substring is None:
        return None
    source, substring = _text("stringContains", source), _text("stringContains", substring)
    if not substring:
        return False
    return _fold(substring, case_insensitive) in _fold(source, case_insensitive)


_NO_START = object()


def index_of(source: object, substring: object, start: object = _NO_START, case_insensitive: bool = False) -> Optional[int]:
    """A negative start counts as 0; a start past the end gives null."""
    if start is _NO_START:
        start = 0
    if source is None or substring is None or start is None:
        return None
    source, substring = _text("indexOf", source), _text("indexOf", substring)
    if not isinstance(start, int) or isinstance(start, bool):
        raise EvalError("indexOf's start must be an integer")
    start = max(start, 0)
    if start > len(source):
        return None
    found = _fold(source, case_insensitive).find(_fold(substring, case_insensitive), start)
    return None if found < 0 else found


def length(value: object) -> Optional[int]:
    if value is None:
        return None
    return len(_text("length", value))


def substring(source: object, start: Any, end: Any = None) -> Optional[str]:
    """Python slice semantics match Elasticsearch's, negative indexes included."""
    if source is None or start is None:
        return None
    source = _text("substring", source)
    for bound in (start, end):
        if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool)):
            raise EvalError("substring positions must be integers")
    return source[start:end]


@overload
def to_string(value: None) -> None: ...
@overload
def to_string(value: object) -> Optional[str]: ...


def to_string(value: object) -> Optional[str]:
    """`string()`: Java's rendering (`true`, `42.5`, `1.0E10`)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double_text(value)
    return str(value)


def java_double_text(value: float) -> str:
    """Java's Double.toString: plain between 1e-3 and 1e7, else `d.dddE<exp>`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        text = repr(value)
        return text if "." in text else text + ".0"
    # repr's digits are the shortest that round-trip, as Java's are.
    exact = Decimal(repr(abs(value)))
    digits = "".join(map(str, exact.as_tuple().digits)).rstrip("0") or "0"
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exact.adjusted()}"


def concat(*values: object) -> Optional[str]:
    if any(value is None for value in values):
        return None
    # No value is null here, and `to_string` gives text for anything else.
    return "".join(cast(str, to_string(value)) for value in values)


_DECIMAL = re.compile(r"[+-]?[0-9]+\Z")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def number(text: object, base: object = None) -> Union[int, float, None]:
    """`number("0x1f")` auto-detects hex; an explicit null base means the default."""
    if text is None:
        return None
    text = _text("number", text).strip()
    if base is not None and (not isinstance(base, int) or isinstance(base, bool) or not 2 <= base <= 36):
        raise EvalError("number's base must be an integer from 2 to 36")
    sign = ""
    body = text
    if body[:1] in "+-" and body:
        sign, body = body[0], body[1:]
    if body[:2].lower() == "0x" and base in (None, 16):
        return _parse_int(sign + body[2:], 16)
    if base is None or base == 10:
        if _DECIMAL.match(text):
            return int(text)
        if _FLOAT.match(text):
            return float(text)
        raise EvalError(f"cannot convert {text!r} to a number")
    return _parse_int(text, base)


def _parse_int(text: str, base: int) -> int:
    body = text[1:] if text[:1] in "+-" else text
    if not body or any(char not in _DIGITS[:base] for char in body.lower()):
        raise EvalError(f"cannot read {text!r} in base {base}")
    return int(text, base)


def cidr_match(address: object, *blocks: object) -> Optional[bool]:
    if address is None or any(block is None for block in blocks):
        return None
    try:
        ip = ipaddress.ip_address(_text("cidrMatch", address))
    except ValueError:
        return False
    for block in blocks:
        network = parse_cidr(_text("cidrMatch", block))
        if network.version == ip.version and ip in network:
            return True
    return False


def parse_cidr(block: str) -> Union[ipaddress.IPv4Network, ipaddress.IPv6Network]:
    """A CIDR block; host bits may be set (`10.6.48.157/8`), as Elasticsearch allows."""
    try:
        return ipaddress.ip_network(block, strict=False)
    except ValueError:
        raise EvalError(f"{block!r} is not a CIDR block") from None


#: name -> implementation.  Arguments arrive already evaluated.
FUNCTIONS: Dict[str, Callable[..., object]] = {
    "add": add,
    "between": between,
    "cidrMatch": cidr_match,
    "concat": concat,
    "divide": divide,
    "endsWith": ends_with,
    "indexOf": index_of,
    "length": length,
    "modulo": modulo,
    "multiply": multiply,
    "number": number,
    "startsWith": starts_with,
    "string": to_string,
    "stringContains": string_contains,
    "substring": substring,
    "subtract": subtract,
}

CASE_AWARE = frozenset({"between", "endsWith", "indexOf", "startsWith", "stringContains"})

ARITHMETIC: Dict[str, _Arithmetic] = {"add": add, "sub": subtract, "mul": multiply, "div": divide, "mod": modulo}


def call(name: str, args: Sequence[object], case_insensitive: bool = False) -> object:
    """Apply function `name` to evaluated scalar `args`."""
    function = FUNCTIONS[name]
    if name in CASE_AWARE:
        return function(*args, case_insensitive=case_insensitive)
    return function(*args)


#: Functions returning booleans (the interpreter reduces them over arrays).
BOOLEAN_FUNCTIONS = frozenset({"cidrMatch", "endsWith", "startsWith", "stringContains"})
