"""The EQL compiler: Elasticsearch EQL text -> checked AST -> versioned IR.

Pure Python.  The pipeline is parse (`parser.py`, grammar in `eql.lark`) ->
semantic analysis and lowering (`lower.py`) -> optimisation (`optimize.py`)
-> metadata (`metadata.py`) -> JSON (`ir_json.py`).  The core evaluates the
IR (and folds constants for the optimiser, `constant_eval.py`);
:mod:`kestrel.reference` is the Python reference the tests check it against.

Public API (re-exported from :mod:`kestrel`):

* :func:`parse` -- text to :class:`ast.Query`;
* :func:`compile` -- text to :class:`CompiledRule`;
* :class:`CompileOptions`;
* :class:`EqlError`, :class:`EqlSyntaxError`, :class:`EqlSemanticError`.
"""

from kestrel.compiler.compiled import CompiledRule, compile
from kestrel.compiler.diagnostics import ERROR_CODES, EqlError, EqlSemanticError, EqlSyntaxError
from kestrel.compiler.options import CompileOptions
from kestrel.compiler.parser import parse

__all__ = [
    "CompileOptions",
    "CompiledRule",
    "ERROR_CODES",
    "EqlError",
    "EqlSemanticError",
    "EqlSyntaxError",
    "compile",
    "parse",
]
