"""`compile()`: text -> CompiledRule, the pipeline's single entry point."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, cast

from kestrel.compiler import ast, ir
from kestrel.compiler.ir_json import program_to_dict, program_to_json
from kestrel.compiler.lower import event_fields, lower
from kestrel.compiler.metadata import Metadata, collect
from kestrel.compiler.optimize import optimize_rule
from kestrel.compiler.options import CompileOptions
from kestrel.compiler.parser import parse
from kestrel.compiler.schema_protocol import SchemaLike

if TYPE_CHECKING:
    from kestrel.runtime.wasm import WasmPredicate


class CompiledRule:
    """An EQL rule checked against a schema and lowered to IR.

    Attributes:
        source: the query text as given.
        ast: the parsed :class:`kestrel.compiler.ast.Query` (None once
            :meth:`without_syntax_tree` dropped it).
        ir: the :class:`kestrel.compiler.ir.Program` (rule descriptor,
            predicates, event-field bindings, schema identity).
        metadata: categories, fields and prefilter literals
            (:class:`kestrel.compiler.metadata.Metadata`).
        options: the :class:`CompileOptions` used.
    """

    def __init__(
        self,
        source: str,
        tree: Optional[ast.Query],
        program: ir.Program,
        metadata: Metadata,
        options: CompileOptions,
        schema: Optional[SchemaLike] = None,
    ) -> None:
        self.source = source
        self.ast = tree
        self.ir = program
        self.metadata = metadata
        self.options = options
        self.schema = schema
        self._wasm_instances: list[Tuple[Any, WasmPredicate]] = []

    @property
    def kind(self) -> str:
        """ "event", "sequence" or "sample"."""
        return self.ir.rule.kind

    @property
    def categories(self) -> Tuple[str, ...]:
        """Event categories the rule's filters name; see also `metadata.any_category`."""
        return self.metadata.categories

    @property
    def required_fields(self) -> Tuple[str, ...]:
        """Paths of the fields the rule reads without `?` (sorted)."""
        return self.metadata.required_fields

    def ir_dict(self) -> Dict[str, Any]:
        """The versioned IR document (see docs/ir.md) as a dict."""
        return program_to_dict(self.ir, self.metadata)

    def ir_json(self, *, indent: Optional[int] = None) -> str:
        """The versioned IR document as JSON text."""
        return program_to_json(self.ir, self.metadata, indent=indent)

    @property
    def wat(self) -> str:
        """The rule as a WebAssembly text module (deterministic; see rules/README.md)."""
        from kestrel.compiler.wasm import generate_wat

        return generate_wat(self)

    @property
    def wasm(self) -> bytes:
        """The rule as a validated WebAssembly binary."""
        from kestrel.compiler.wasm import compile_wasm

        return compile_wasm(self)

    def evaluate(self, batch: Any, filter: int = 0) -> Any:
        """Indices of the events of `batch` that pass filter `filter` (0 for an
        event query; steps, then `until`, for sequences), evaluated by the
        rule's Wasm module in the core. Returns a `kestrel.Matches`."""
        return self._wasm_for(batch.schema).evaluate(batch, filter)

    def capture(self, batch: Any, index: int) -> Dict[str, Any]:
        """The fields the rule reads, `{path: value}`, for event `index` of `batch`."""
        return self._wasm_for(batch.schema).capture(batch, index)

    def _wasm_for(self, schema: Any) -> WasmPredicate:
        # One loaded instance per schema the rule meets: field ids are only
        # meaningful within one schema's registry.
        from kestrel.runtime.wasm import WasmPredicate

        for known, predicate in self._wasm_instances:
            if known.same_as(schema):
                return predicate
        predicate = WasmPredicate.from_compiled(self, schema)
        self._wasm_instances.append((schema, predicate))
        return predicate

    def without_syntax_tree(self) -> "CompiledRule":
        """A copy without the parsed query, for holders that live long.

        Everything past parsing works from the IR. The syntax tree is the
        larger half of a compiled rule's Python objects, and an engine with
        a thousand rules that kept it would make every full pass of Python's
        cycle collector several times slower.
        """
        return CompiledRule(self.source, None, self.ir, self.metadata, self.options, self.schema)

    def __repr__(self) -> str:
        return f"<CompiledRule {self.kind} categories={list(self.categories)}>"


def compile(text: str, *, schema: Optional[SchemaLike] = None, options: Optional[CompileOptions] = None) -> CompiledRule:
    """Compile EQL `text` against `schema` (ECS 9.5.0 when omitted).

    Unknown fields are auto-assigned FieldIds in `schema` (which is mutated)
    unless `options.strict` is set.

    Raises:
        EqlSyntaxError: the text is not valid EQL.
        EqlSemanticError: the query is valid EQL but rejected (types, limits,
            unknown names in strict mode).
    """
    options = options or CompileOptions()
    if schema is None:
        schema = _default_schema()
    tree = parse(text)
    rule = lower(tree, text, schema, options)
    if options.optimize:
        rule = optimize_rule(rule)
    program = ir.Program(rule, event_fields(schema, options), getattr(schema, "name", ""), getattr(schema, "version", ""))
    return CompiledRule(text, tree, program, collect(rule), options, schema)


_PRISTINE_DEFAULT: Optional[Any] = None


def _default_schema() -> SchemaLike:
    """A fresh ECS schema: a copy of one pristine `Schema.default()`.

    Copying is ~40x cheaper than building the default schema again, and it
    matters: the corpus benchmark compiles 1,024 rules, each with a fresh schema.
    """
    global _PRISTINE_DEFAULT
    from kestrel import Schema  # the Rust extension; imported late to keep parsing usable without it

    if _PRISTINE_DEFAULT is None:
        _PRISTINE_DEFAULT = Schema.default()
    copy = getattr(_PRISTINE_DEFAULT, "copy", None)
    return cast(SchemaLike, copy() if copy is not None else Schema.default())
