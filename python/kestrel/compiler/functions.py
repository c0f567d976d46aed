"""The signatures of the 16 Elasticsearch EQL functions.

Names are case-insensitive in queries (production rules write `cidrmatch` and
`startswith~`); the AST and IR carry the canonical camelCase spelling.
Runtime behaviour lives in `function_semantics.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple


@dataclass(frozen=True)
class Signature:
    """How a function is called and what it returns.

    `params` lists argument kinds ("string", "number", "integer", "boolean",
    "ip", "any"); when `variadic` is true the last kind repeats.  `constant`
    holds indexes of arguments that must be literals.
    """

    name: str
    params: Tuple[str, ...]
    required: int
    returns: str
    variadic: bool = False
    case_insensitive_ok: bool = False
    constant: Tuple[int, ...] = ()

    def arity_text(self) -> str:
        if self.variadic:
            return f"at least {self.required}"
        if self.required == len(self.params):
            return str(self.required)
        return f"{self.required} to {len(self.params)}"

    def accepts_count(self, count: int) -> bool:
        if self.variadic:
            return count >= self.required
        return self.required <= count <= len(self.params)

    def kind_of_arg(self, index: int) -> str:
        return self.params[min(index, len(self.params) - 1)]


_SIGNATURES = (
    Signature("add", ("number", "number"), 2, "number"),
    Signature("between", ("string", "string", "string", "boolean"), 3, "string", case_insensitive_ok=True, constant=(3,)),
    Signature("cidrMatch", ("ip", "string"), 2, "boolean", variadic=True, constant=(1,)),
    Signature("concat", ("any",), 1, "string", variadic=True),
    Signature("divide", ("number", "number"), 2, "number"),
    Signature("endsWith", ("string", "string"), 2, "boolean", case_insensitive_ok=True),
    Signature("indexOf", ("string", "string", "integer"), 2, "integer", case_insensitive_ok=True),
    Signature("length", ("string",), 1, "integer"),
    Signature("modulo", ("number", "number"), 2, "number"),
    Signature("multiply", ("number", "number"), 2, "number"),
    Signature("number", ("string", "integer"), 1, "number", constant=(1,)),
    Signature("startsWith", ("string", "string"), 2, "boolean", case_insensitive_ok=True),
    Signature("string", ("any",), 1, "string"),
    Signature("stringContains", ("string", "string"), 2, "boolean", case_insensitive_ok=True),
    Signature("substring", ("string", "integer", "integer"), 2, "string"),
    Signature("subtract", ("number", "number"), 2, "number"),
)

SIGNATURES: Dict[str, Signature] = {sig.name: sig for sig in _SIGNATURES}
_BY_LOWER = {name.lower(): name for name in SIGNATURES}


def canonical_function_name(name: str) -> str:
    """`cidrmatch` -> `cidrMatch`; unknown names are returned unchanged."""
    return _BY_LOWER.get(name.lower(), name)


def signature(name: str) -> Optional[Signature]:
    return SIGNATURES.get(name)
