"""The intermediate representation: the contract with the Rust core and backends.

In memory, a predicate is a tree of frozen dataclasses; equal subtrees are
equal values, so serialising with a memo table turns the tree into a DAG
(shared nodes are emitted once).  The JSON form (`to_json`) is documented in
docs/ir.md and versioned by :data:`IR_VERSION`.

Every string operation carries an explicit `case_insensitive` flag, and every
field load carries both its FieldId and its path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterator, Optional, Set, Tuple, Type, TypeVar, Union

IR_VERSION = 1

#: Literal value types; they mirror the schema's type names.
LITERAL_TYPES = ("null", "bool", "i64", "u64", "f64", "string")

I64_MAX = 2**63 - 1


def literal_type(value: Union[str, int, float, bool, None]) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "i64" if value <= I64_MAX else "u64"
    if isinstance(value, float):
        return "f64"
    return "string"


@dataclass(frozen=True)
class FieldRef:
    """A field by FieldId and path, with its schema type; `optional` is `?field`."""

    field: int
    path: str
    type: str = "unknown"
    optional: bool = False


@dataclass(frozen=True)
class LoadField(FieldRef):
    """Read a field (a predicate node).  A missing field loads null.

    It has the same data as a FieldRef (the descriptor's join keys), but is a
    distinct type: a LoadField never equals a FieldRef.
    """


@dataclass(frozen=True, eq=False)
class Literal:
    """A constant.  Equality includes the type: `1`, `1.0` and `true` differ."""

    value: Union[str, int, float, bool, None]

    @property
    def type(self) -> str:
        return literal_type(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Literal) and type(self.value) is type(other.value) and self.value == other.value

    def __hash__(self) -> int:
        return hash((type(self.value), self.value))


_T = TypeVar("_T")


def _hash_once(cls: Type[_T]) -> Type[_T]:
    """Cache a node's hash on first use.

    Predicates are DAGs (lowering shares operands), and a dataclass hashes
    its fields anew on every call: hashing a node would walk every path
    below it, exponential in the depth of nested sharing. The cached value
    is left out of pickles, since str hashes differ between processes.
    """
    plain = cls.__hash__

    def __hash__(self: object) -> int:
        cached: Optional[int] = self.__dict__.get("_hash")
        if cached is None:
            cached = plain(self)
            object.__setattr__(self, "_hash", cached)
        return cached

    def __getstate__(self: object) -> Dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if key != "_hash"}

    # Replacing the class's methods is what this decorator is for.
    cls.__hash__ = __hash__  # type: ignore[method-assign]
    cls.__getstate__ = __getstate__  # type: ignore[method-assign]
    return cls


@_hash_once
@dataclass(frozen=True)
class Compare:
    """`cmp` is eq, ne, lt, le, gt or ge; `case_insensitive` applies to strings."""

    cmp: str
    left: "Node"
    right: "Node"
    case_insensitive: bool = False


@_hash_once
@dataclass(frozen=True)
class Logical:
    """N-ary `and`/`or` under three-valued logic."""

    op: str
    operands: Tuple["Node", ...]


@_hash_once
@dataclass(frozen=True)
class Not:
    operand: "Node"


@_hash_once
@dataclass(frozen=True)
class Arithmetic:
    """`op` is add, sub, mul, div, mod (two operands) or neg (one)."""

    op: str
    operands: Tuple["Node", ...]


@_hash_once
@dataclass(frozen=True)
class FunctionCall:
    name: str
    args: Tuple["Node", ...]
    case_insensitive: bool = False


@_hash_once
@dataclass(frozen=True)
class InSet:
    """Membership of `operand` in a hashed set of constants of one type family."""

    operand: "Node"
    values: Tuple[Union[str, int, float, bool], ...]
    case_insensitive: bool = False


@_hash_once
@dataclass(frozen=True)
class WildcardMatch:
    """`operand` matches any of the globs (`*` any run, `?` one character)."""

    operand: "Node"
    patterns: Tuple[str, ...]
    case_insensitive: bool = False


@_hash_once
@dataclass(frozen=True)
class RegexMatch:
    """`operand` matches any regex in full.

    `patterns` are the Lucene sources; `translated` the equivalent patterns in
    the subset shared by Python `re` and Rust `regex` (see lucene_regex.py).
    """

    operand: "Node"
    patterns: Tuple[str, ...]
    translated: Tuple[str, ...]
    case_insensitive: bool = False


@_hash_once
@dataclass(frozen=True)
class IsNull:
    operand: "Node"


Node = Union[Literal, LoadField, Compare, Logical, Not, Arithmetic, FunctionCall, InSet, WildcardMatch, RegexMatch, IsNull]

TRUE = Literal(True)
FALSE = Literal(False)
NULL = Literal(None)


@dataclass(frozen=True)
class Step:
    """One filter: an event query, a sequence step, a sample filter or `until`."""

    category: Optional[str]
    predicate: Node
    by: Tuple[FieldRef, ...] = ()
    runs: int = 1
    missing: bool = False


@dataclass(frozen=True)
class Pipe:
    op: str
    count: int


@dataclass(frozen=True)
class Rule:
    """The rule descriptor.  `kind` is "event", "sequence" or "sample"."""

    kind: str
    steps: Tuple[Step, ...]
    by: Tuple[FieldRef, ...] = ()
    maxspan_ns: Optional[int] = None
    until: Optional[Step] = None
    pipes: Tuple[Pipe, ...] = ()


@dataclass(frozen=True)
class EventFields:
    """Where the engine finds an event's category, timestamp and tiebreaker."""

    category: FieldRef
    timestamp: FieldRef
    timestamp_unit: str = "ms"
    tiebreaker: Optional[FieldRef] = None


@dataclass(frozen=True)
class Program:
    """A compiled rule: descriptor, event-field bindings and schema identity."""

    rule: Rule
    event_fields: EventFields
    schema_name: str = ""
    schema_version: str = ""


def children(node: Node) -> Tuple[Node, ...]:
    """The direct sub-nodes of `node`, in evaluation order."""
    if isinstance(node, (Literal, LoadField)):
        return ()
    if isinstance(node, Compare):
        return (node.left, node.right)
    if isinstance(node, (Logical, Arithmetic)):
        return node.operands
    if isinstance(node, FunctionCall):
        return node.args
    return (node.operand,)  # Not, InSet, WildcardMatch, RegexMatch, IsNull


def walk(node: Node) -> Iterator[Node]:
    """Yield `node` and all its descendants (a shared node once per use)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def distinct_nodes(node: Node) -> Iterator[Node]:
    """Yield `node` and its descendants, each node object once.

    Where :func:`walk` follows every use of a shared subtree, which for
    nested sharing is exponential in its depth, this visits the DAG.
    """
    seen: Set[int] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(reversed(children(current)))


def step_list(rule: Rule) -> Tuple[Step, ...]:
    """All filters of a rule, `until` last."""
    return rule.steps + ((rule.until,) if rule.until is not None else ())
