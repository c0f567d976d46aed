"""Semantic analysis and lowering: AST + schema -> IR.

One walk resolves fields against the schema, type-checks operators and
function calls, enforces Elasticsearch's restrictions (no field-to-field
comparison, constant lists and patterns, sequence limits) and emits the
unoptimised IR.  The lowering is deliberately naive (`x in (a, b)` becomes an
`or` of equalities, `x : ("a*", "b")` an `or` of single-pattern matches);
`optimize.py` turns those into hash sets and multi-pattern matchers, so each
rewrite can be tested for preserving meaning on its own.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Callable, Dict, List, Tuple, Union, cast

from kestrel.compiler import ast, ir
from kestrel.compiler.diagnostics import EqlError, EqlSemanticError, error_at
from kestrel.compiler.functions import signature
from kestrel.compiler.lucene_regex import RegexTranslationError, translate
from kestrel.compiler.options import CompileOptions
from kestrel.compiler.schema_protocol import NUMERIC_TYPES, STRING_TYPES, SchemaLike

MAX_RUNS = 100
MAX_SAMPLE_FILTERS = 5
#: Alias and multi-field chains are followed this far (the schema's own bound).
MAX_SOURCE_HOPS = 8
#: How deep an expression may nest, counted in compiled (IR) levels: the
#: passes after parsing walk expressions recursively, and the core's IR
#: loader refuses more than 256 levels. Most operators are one level; `!=`,
#: a list (`in (...)`, `: (...)`) and `not in` add one more each. A chain of
#: one operator (`a or b or c ...`) is one level however long it is.
MAX_EXPRESSION_DEPTH = 128
#: How many nodes an expression may expand to once every shared operand is
#: counted at each of its uses: `f(x) in (a, b)` tests `f(x)` once per value,
#: and nesting such tests multiplies the work an event costs to evaluate.
#: A list of N strings on a field is about 2N.
MAX_EXPRESSION_NODES = 1_000_000
#: The longest maxspan, in nanoseconds: the sequence engine keeps times as
#: signed 64-bit nanoseconds (about 292 years).
MAX_MAXSPAN_NS = 2**63 - 1
_DAY_NS = 86_400 * 10**9
#: Filters (steps and `until`) of one sequence: the sequence engine's bound
#: (MAX_FILTERS in rust/kestrel-seq).
MAX_SEQUENCE_FILTERS = 64

_COMPARISONS = {"==": "eq", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
_ARITHMETIC = {"+": "add", "-": "sub", "*": "mul", "/": "div", "%": "mod"}
_RETURN_TYPES = {"string": "string", "number": "number", "integer": "number", "boolean": "bool"}
# Static types that can stand for anything at run time.
_LOOSE = frozenset({"unknown", "null", "timestamp"})


@dataclass(frozen=True)
class _Typed:
    """A lowered expression with its static type and whether it reads a field."""

    node: ir.Node
    type: str
    has_field: bool
    #: Reads a lower-cased multi-field (`.caseless`): its string tests
    #: compare case-insensitively, as Elasticsearch normalises both the
    #: indexed value and the query's terms.
    caseless: bool = False


def static_type(schema_type: str) -> str:
    base = schema_type.split(":", 1)[0]  # a date type may carry its format
    if base in NUMERIC_TYPES:
        return "number"
    if base in STRING_TYPES or base == "version":
        return "string"
    if base in ("timestamp", "date_nanos"):
        return "timestamp"
    if base == "bool":
        return base
    return "unknown"


def _literal_static_type(value: Union[str, int, float, bool, None]) -> str:
    kind = ir.literal_type(value)
    return {"i64": "number", "u64": "number", "f64": "number"}.get(kind, kind)


def _caseless(left: _Typed, right: _Typed) -> bool:
    """A comparison with a `.caseless` field and a string compares case-insensitively."""
    return (left.caseless and right.type == "string") or (right.caseless and left.type == "string")


def _compatible(left: str, right: str) -> bool:
    return left in _LOOSE or right in _LOOSE or left == right


class Lowering:
    """Lowers one parsed query; create a new instance per query."""

    def __init__(self, source: str, schema: SchemaLike, options: CompileOptions) -> None:
        self.source = source
        self.schema = schema
        self.options = options

    # ---- errors --------------------------------------------------------------
    def _error(self, code: str, message: str, node: object) -> EqlError:
        return error_at(EqlSemanticError, code, message, self.source, getattr(node, "span", None))

    # ---- queries ----------------------------------------------------------------
    def rule(self, query: ast.Query) -> ir.Rule:
        pipes = tuple(self._pipe(pipe) for pipe in query.pipes)
        body = query.body
        if isinstance(body, ast.EventQuery):
            return ir.Rule("event", (self._event(body),), pipes=pipes)
        if isinstance(body, ast.Sequence):
            return self._sequence(body, pipes)
        return self._sample(body, pipes)

    def _pipe(self, pipe: ast.Pipe) -> ir.Pipe:
        return ir.Pipe(pipe.name, pipe.count)  # the parser checked the count

    def _event(self, query: ast.EventQuery, *, by: Tuple[ir.FieldRef, ...] = (), runs: int = 1, missing: bool = False) -> ir.Step:
        category = query.category
        if category is not None and self.options.strict and category not in self.options.categories:
            raise self._error("E045", f"unknown event category `{category}`", query)
        condition = self.expr(query.condition)
        self._require_boolean(condition, query.condition)
        return ir.Step(category, condition.node, by, runs, missing)

    def _step(self, step: ast.Step) -> ir.Step:
        runs = 1 if step.runs is None else step.runs
        if not 1 <= runs <= MAX_RUNS:
            where = step.runs_span if step.runs_span.line else step.span
            raise error_at(EqlSemanticError, "E040", f"runs={runs} is outside 1..{MAX_RUNS}", self.source, where)
        return self._event(step.query, by=self._keys(step.by), runs=runs, missing=step.missing)

    def _keys(self, fields: Tuple[ast.Field, ...]) -> Tuple[ir.FieldRef, ...]:
        refs = []
        for key in fields:
            load, _ = self._load(key)
            refs.append(ir.FieldRef(load.field, load.path, load.type, load.optional))
        return tuple(refs)

    def _sequence(self, seq: ast.Sequence, pipes: Tuple[ir.Pipe, ...]) -> ir.Rule:
        steps = tuple(self._step(step) for step in seq.steps)
        if any(step.missing for step in seq.steps) and seq.maxspan is None:
            first_missing = next(step for step in seq.steps if step.missing)
            raise self._error("E039", "missing-event steps `![...]` require `with maxspan`", first_missing)
        if all(step.missing for step in steps):
            raise self._error("E044", "a sequence needs at least one positive step", seq)
        if sum(step.runs for step in steps) < 2:
            raise self._error("E043", "a sequence needs at least two steps", seq)
        until = None
        if seq.until is not None:
            if seq.until.missing or seq.until.runs is not None:
                raise self._error("E056", "an `until` step cannot be a missing event or have runs", seq.until)
            until = self._step(seq.until)
        self._check_key_counts(seq.steps + ((seq.until,) if seq.until else ()))
        maxspan_ns = None
        if seq.maxspan is not None:
            maxspan_ns = seq.maxspan.nanoseconds
            if maxspan_ns <= 0:
                raise self._error("E051", "maxspan must be positive", seq.maxspan)
            if maxspan_ns > MAX_MAXSPAN_NS:
                raise self._error(
                    "E061",
                    f"maxspan {seq.maxspan.value}{seq.maxspan.unit} is too long: at most {MAX_MAXSPAN_NS // _DAY_NS:,}d (64-bit nanoseconds)",
                    seq.maxspan,
                )
        return ir.Rule("sequence", steps, self._keys(seq.by), maxspan_ns, until, pipes)

    def _sample(self, sample: ast.Sample, pipes: Tuple[ir.Pipe, ...]) -> ir.Rule:
        if len(sample.steps) > MAX_SAMPLE_FILTERS:
            raise self._error(
                "E041",
                f"a sample takes at most {MAX_SAMPLE_FILTERS} filters, got {len(sample.steps)}",
                sample.steps[MAX_SAMPLE_FILTERS],
            )
        for step in sample.steps:
            if step.missing or step.runs is not None:
                raise self._error("E042", "sample filters cannot be missing events or have runs", step)
        self._check_key_counts(sample.steps)
        steps = tuple(self._step(step) for step in sample.steps)
        return ir.Rule("sample", steps, self._keys(sample.by), None, None, pipes)

    def _check_key_counts(self, steps: Tuple[ast.Step, ...]) -> None:
        counts = {len(step.by) for step in steps}
        if len(counts) > 1:
            expected = len(steps[0].by)
            odd = next(step for step in steps if len(step.by) != expected)
            raise self._error("E050", f"every step needs the same number of join keys ({expected})", odd)

    # ---- expressions ---------------------------------------------------------------
    def expr(self, node: ast.Expr) -> _Typed:
        method: Callable[[ast.Expr], _Typed] = getattr(self, "_" + type(node).__name__)
        return method(node)

    def _Literal(self, node: ast.Literal) -> _Typed:
        return _Typed(ir.Literal(node.value), _literal_static_type(node.value), False)

    def _Field(self, node: ast.Field) -> _Typed:
        load, caseless = self._load(node)
        return _Typed(load, static_type(load.type), True, caseless)

    def _load(self, node: ast.Field) -> Tuple[ir.LoadField, bool]:
        """The field's load, and whether it reads a lower-cased multi-field.

        An alias or a multi-field (`process.executable.caseless`) loads the
        field it reads; a multi-field keeps its own type's semantics.
        """
        info = self.schema.lookup(node.path)
        if info is None:
            if self.options.strict and not node.optional:
                raise self._error("E030", f"unknown field `{node.path}` (strict mode)", node)
            info = self.schema.resolve(node.path)
        if getattr(info, "inexact", False):
            message = f"`{node.path}` is analysed text with no keyword multi-field, so it has no exact value to compare (map one, as Elasticsearch requires)"
            raise self._error("E057", message, node)
        field_type, caseless = info.type, bool(getattr(info, "lowercase", False))
        for _ in range(MAX_SOURCE_HOPS):
            reads = getattr(info, "reads", None)
            if not reads:
                break
            info = self.schema.resolve(reads)
            caseless = caseless or bool(getattr(info, "lowercase", False))
        if field_type == "unknown":
            field_type = info.type
        return ir.LoadField(info.id, info.path, field_type, node.optional), caseless

    def _Logical(self, node: ast.Logical) -> _Typed:
        operands: List[ir.Node] = []
        for side in _chain(node):
            typed = self.expr(side)
            self._require_boolean(typed, side)
            child = typed.node
            # Flatten `a and (b and c)` into one n-ary node.
            if isinstance(child, ir.Logical) and child.op == node.op:
                operands.extend(child.operands)
            else:
                operands.append(child)
        return _Typed(ir.Logical(node.op, tuple(operands)), "bool", False)

    def _Not(self, node: ast.Not) -> _Typed:
        typed = self.expr(node.operand)
        self._require_boolean(typed, node.operand)
        return _Typed(ir.Not(typed.node), "bool", typed.has_field)

    def _require_boolean(self, typed: _Typed, node: ast.Expr) -> None:
        if typed.type not in ("bool", "unknown", "null"):
            raise self._error("E048", f"expected a condition, got a {typed.type} expression", node)

    def _Comparison(self, node: ast.Comparison) -> _Typed:
        left, right = self.expr(node.left), self.expr(node.right)
        if left.has_field and right.has_field:
            raise self._error("E034", "a field cannot be compared to another field (Elasticsearch restriction)", node)
        if node.op in ("==", "!="):
            if right.type == "null" and isinstance(right.node, ir.Literal):
                result: ir.Node = ir.IsNull(left.node)
            elif left.type == "null" and isinstance(left.node, ir.Literal):
                result = ir.IsNull(right.node)
            else:
                self._require_compatible(left, right, node)
                result = ir.Compare("eq", left.node, right.node, _caseless(left, right))
            if node.op == "!=":
                result = ir.Not(result)
        else:
            self._require_compatible(left, right, node)
            if "bool" in (left.type, right.type):
                raise self._error("E035", f"`{node.op}` cannot order booleans", node)
            result = ir.Compare(_COMPARISONS[node.op], left.node, right.node, _caseless(left, right))
        return _Typed(result, "bool", left.has_field or right.has_field)

    def _require_compatible(self, left: _Typed, right: _Typed, node: ast.Expr) -> None:
        if not _compatible(left.type, right.type):
            raise self._error("E035", f"cannot compare a {left.type} with a {right.type}", node)

    def _PatternMatch(self, node: ast.PatternMatch) -> _Typed:
        operand = self.expr(node.operand)
        values = [self._constant(pattern, "E036", "patterns must be literals") for pattern in node.patterns]
        for pattern, value in zip(node.patterns, values):
            if value is None or (node.kind != "seq" and not isinstance(value, str)):
                raise self._error("E036", f"`{_operator_text(node)}` needs string patterns", pattern)
        if operand.type == "bool":
            raise self._error("E035", f"`{_operator_text(node)}` cannot match a boolean", node)
        insensitive = node.case_insensitive or operand.caseless
        if node.kind == "regex":
            # The loop above let only string patterns through to a regex.
            translated = tuple(self._translate_regex(cast(str, value), pattern) for value, pattern in zip(values, node.patterns))
            result: ir.Node = ir.RegexMatch(operand.node, cast(Tuple[str, ...], tuple(values)), translated, insensitive)
            return _Typed(result, "bool", operand.has_field)
        alternatives: List[ir.Node] = []
        for value in values:
            if isinstance(value, str):
                alternatives.append(ir.WildcardMatch(operand.node, (value,), insensitive))
            else:  # `:` against a number or boolean literal is plain equality
                alternatives.append(ir.Compare("eq", operand.node, ir.Literal(value), False))
        return _Typed(_any_of(alternatives), "bool", operand.has_field)

    def _translate_regex(self, value: str, pattern: ast.Expr) -> str:
        try:
            return translate(value)
        except RegexTranslationError as exc:
            code = "E052" if exc.unsupported else "E038"
            span = getattr(pattern, "span", ast.NO_SPAN)
            # Point into the literal when it is on one line: +1 skips the quote.
            located = ast.Span(span.start, span.end, span.line, span.column + 1 + exc.offset) if span.line else span
            raise error_at(EqlSemanticError, code, f"regex {value!r}: {exc}", self.source, located) from None

    def _Membership(self, node: ast.Membership) -> _Typed:
        operand = self.expr(node.operand)
        alternatives: List[ir.Node] = []
        for value_node in node.values:
            value = self._constant(value_node, "E037", "`in` lists take constants only")
            if value is None:
                alternatives.append(ir.IsNull(operand.node))
                continue
            if not _compatible(operand.type, _literal_static_type(value)):
                raise self._error("E035", f"cannot look for a {_literal_static_type(value)} in a {operand.type}", value_node)
            case_insensitive = (node.case_insensitive or operand.caseless) and isinstance(value, str)
            alternatives.append(ir.Compare("eq", operand.node, ir.Literal(value), case_insensitive))
        result = _any_of(alternatives)
        if node.negated:
            result = ir.Not(result)
        return _Typed(result, "bool", operand.has_field)

    def _constant(self, node: ast.Expr, code: str, message: str) -> Union[str, int, float, bool, None]:
        if not isinstance(node, ast.Literal):
            raise self._error(code, message, node)
        return node.value

    def _Arithmetic(self, node: ast.Arithmetic) -> _Typed:
        left, right = self.expr(node.left), self.expr(node.right)
        for typed, side in ((left, node.left), (right, node.right)):
            self._require_numeric(typed, side, node.op)
        result = ir.Arithmetic(_ARITHMETIC[node.op], (left.node, right.node))
        return _Typed(result, "number", left.has_field or right.has_field)

    def _Negate(self, node: ast.Negate) -> _Typed:
        operand = self.expr(node.operand)
        self._require_numeric(operand, node.operand, "-")
        return _Typed(ir.Arithmetic("neg", (operand.node,)), "number", operand.has_field)

    def _require_numeric(self, typed: _Typed, node: ast.Expr, op: str) -> None:
        if typed.type not in ("number", "unknown", "null"):
            raise self._error("E047", f"`{op}` needs numbers, got a {typed.type}", node)

    def _FunctionCall(self, node: ast.FunctionCall) -> _Typed:
        sig = signature(node.name)
        if sig is None:
            raise self._error("E031", f"unknown function `{node.name}`", node)
        if node.case_insensitive and not sig.case_insensitive_ok:
            raise self._error("E055", f"`{node.name}` has no case-insensitive form", node)
        if not sig.accepts_count(len(node.args)):
            raise self._error("E032", f"`{node.name}` takes {sig.arity_text()} arguments, got {len(node.args)}", node)
        args = []
        for index, arg in enumerate(node.args):
            typed = self.expr(arg)
            kind = sig.kind_of_arg(index)
            if min(index, len(sig.params) - 1) in sig.constant:
                self._constant(arg, "E053", f"argument {index + 1} of `{node.name}` must be a constant")
            if not _accepts(kind, typed):
                raise self._error(
                    "E033", f"argument {index + 1} of `{node.name}` must be {_KIND_TEXT[kind]}, got a {typed.type}", arg
                )
            args.append(typed)
        if node.name == "cidrMatch":
            self._check_cidrs(cast(Tuple[ast.Literal, ...], node.args[1:]))  # checked to be constants above
        insensitive = node.case_insensitive or (sig.case_insensitive_ok and any(a.caseless for a in args))
        call = ir.FunctionCall(node.name, tuple(a.node for a in args), insensitive)
        return _Typed(call, _RETURN_TYPES[sig.returns], any(a.has_field for a in args))

    def _check_cidrs(self, blocks: Tuple[ast.Literal, ...]) -> None:
        for block in blocks:
            value = block.value
            if value is None:
                continue
            try:
                # `_accepts` let only string (or null) constants through; host
                # bits may be set (`10.6.48.157/8`), as Elasticsearch allows.
                ipaddress.ip_network(cast(str, value), strict=False)
            except ValueError:
                raise self._error("E033", f"{value!r} is not a CIDR block", block) from None


_KIND_TEXT = {
    "string": "a string",
    "ip": "an IP address",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean",
    "any": "a value",
}


def _accepts(kind: str, typed: _Typed) -> bool:
    if typed.type in ("unknown", "null") or kind == "any":
        return True
    if kind in ("string", "ip"):
        return typed.type in ("string", "timestamp")
    if kind == "integer":
        if isinstance(typed.node, ir.Literal):
            return isinstance(typed.node.value, int) and not isinstance(typed.node.value, bool)
        return typed.type == "number"
    if kind == "number":
        return typed.type == "number"
    return typed.type == "bool"


def _chain(node: ast.Logical) -> List[ast.Expr]:
    """The operands of a chain of one operator (`a or b or c`), in order.

    The grammar builds a chain left-deep, one node per operator; walking it
    with a loop keeps a chain of thousands of terms from recursing once per term.
    """
    operands: List[ast.Expr] = []
    pending: List[ast.Expr] = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, ast.Logical) and item.op == node.op:
            pending += (item.right, item.left)
        else:
            operands.append(item)
    return operands


def _any_of(alternatives: List[ir.Node]) -> ir.Node:
    if len(alternatives) == 1:
        return alternatives[0]
    return ir.Logical("or", tuple(alternatives))


def _operator_text(node: ast.PatternMatch) -> str:
    if node.kind == "seq":
        return ":"
    return node.kind + ("~" if node.case_insensitive else "")


def lower(query: ast.Query, source: str, schema: SchemaLike, options: CompileOptions) -> ir.Rule:
    """Check `query` against `schema` and lower it to an (unoptimised) IR rule."""
    check_size(query, source)
    return Lowering(source, schema, options).rule(query)


def check_size(query: ast.Query, source: str = "") -> None:
    """Refuse a query too big to compile and evaluate safely: a sequence of more
    than :data:`MAX_SEQUENCE_FILTERS` filters, or an expression deeper than
    :data:`MAX_EXPRESSION_DEPTH` or larger than :data:`MAX_EXPRESSION_NODES`.

    The walk is a loop, safe on any tree the parser builds (the parser keeps
    its stack on the heap), and it runs before any pass that recurses, so a
    hostile rule gets a located error instead of a RecursionError or a hang.

    Raises:
        EqlSemanticError: E059 at the first filter past the limit, E058 at
            the first node too deep, E060 at the smallest subexpression too large.
    """
    body = query.body
    if isinstance(body, ast.EventQuery):
        conditions = [body.condition]
    else:
        steps = body.steps + ((body.until,) if isinstance(body, ast.Sequence) and body.until else ())
        if isinstance(body, ast.Sequence) and len(steps) > MAX_SEQUENCE_FILTERS:
            message = f"a sequence takes at most {MAX_SEQUENCE_FILTERS} filters (steps and `until`), got {len(steps)}"
            raise error_at(EqlSemanticError, "E059", message, source, steps[MAX_SEQUENCE_FILTERS].span)
        conditions = [step.query.condition for step in steps]
    for condition in conditions:
        _check_expression(condition, source)


def _check_expression(root: ast.Expr, source: str) -> None:
    # Post-order with an explicit stack: depth is counted on the way down,
    # the expanded size on the way back up.
    sizes: Dict[int, int] = {}
    stack: List[Tuple[ast.Expr, int, bool]] = [(root, _levels(root, None), False)]
    while stack:
        node, depth, finished = stack.pop()
        children = _expression_children(node)
        if not finished:
            if depth > MAX_EXPRESSION_DEPTH:
                message = (
                    f"the expression nests more than {MAX_EXPRESSION_DEPTH} levels deep once compiled "
                    "(`!=`, lists and `not in` count two or three); simplify it"
                )
                raise error_at(EqlSemanticError, "E058", message, source, getattr(node, "span", None))
            stack.append((node, depth, True))
            stack += [(child, depth + _levels(child, node), False) for child in children]
            continue
        size = _expanded_size(node, [sizes.pop(id(child)) for child in children])
        if size > MAX_EXPRESSION_NODES:
            message = (
                f"the expression expands to more than {MAX_EXPRESSION_NODES:,} nodes "
                "(an operand tested against a list counts once per value); simplify it"
            )
            raise error_at(EqlSemanticError, "E060", message, source, getattr(node, "span", None))
        sizes[id(node)] = size


def _expression_children(node: ast.Expr) -> Tuple[ast.Expr, ...]:
    if isinstance(node, ast.BinaryOp):
        return (node.left, node.right)
    if isinstance(node, (ast.Not, ast.Negate)):
        return (node.operand,)
    if isinstance(node, ast.FunctionCall):
        return node.args
    if isinstance(node, ast.PatternMatch):
        return (node.operand, *node.patterns)
    if isinstance(node, ast.Membership):
        return (node.operand, *node.values)
    return ()


def _levels(node: ast.Expr, parent: "ast.Expr | None") -> int:
    """The IR levels `node` lowers to (see `Lowering`): 0 for a link of its parent's chain."""
    if isinstance(node, ast.Logical):
        return 0 if isinstance(parent, ast.Logical) and parent.op == node.op else 1
    if isinstance(node, ast.Comparison):
        return 2 if node.op == "!=" else 1
    if isinstance(node, ast.Membership):
        return 1 + (len(node.values) > 1) + node.negated
    if isinstance(node, ast.PatternMatch):
        return 1 + (node.kind != "regex" and len(node.patterns) > 1)
    return 1


def _expanded_size(node: ast.Expr, sizes: List[int]) -> int:
    """IR nodes `node` lowers to, a shared operand counted at each use; `sizes` are its children's."""
    if isinstance(node, ast.Membership):
        return 2 + sum(1 + sizes[0] + value for value in sizes[1:])
    if isinstance(node, ast.PatternMatch) and node.kind != "regex":
        return 1 + sum(1 + sizes[0] + pattern for pattern in sizes[1:])
    return 1 + (isinstance(node, ast.Comparison) and node.op == "!=") + sum(sizes)


def event_fields(schema: SchemaLike, options: CompileOptions) -> ir.EventFields:
    """Resolve the category/timestamp/tiebreaker fields named in the options."""

    def ref(path: str) -> ir.FieldRef:
        info = schema.resolve(path)
        return ir.FieldRef(info.id, info.path, info.type)

    tiebreaker = ref(options.tiebreaker_field) if options.tiebreaker_field else None
    return ir.EventFields(ref(options.category_field), ref(options.timestamp_field), options.timestamp_unit, tiebreaker)
