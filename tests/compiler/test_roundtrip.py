"""Property: rendering an AST and parsing the text gives an equal AST."""

from __future__ import annotations

from eql_test_data import corpus_queries
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kestrel.compiler import ast, parse
from kestrel.compiler.functions import SIGNATURES
from kestrel.compiler.parser import KEYWORDS
from kestrel.compiler.render import render

identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True).filter(lambda s: s not in KEYWORDS)
odd_parts = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=6)
field_paths = st.one_of(
    st.lists(identifiers, min_size=1, max_size=3).map(".".join),
    odd_parts.filter(lambda s: s.strip() == s and s not in KEYWORDS),  # needs backticks
)
fields = st.builds(ast.Field, field_paths, st.booleans())

numbers = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)
literal_values = st.one_of(st.text(max_size=8), numbers, st.booleans(), st.none())
literals = st.builds(ast.Literal, literal_values)
string_literals = st.builds(ast.Literal, st.text(max_size=8))


def _negate(operand):
    return ast.Negate(operand)


def _compound(children):
    return st.one_of(
        st.builds(ast.Comparison, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), children, children),
        st.builds(
            ast.PatternMatch,
            st.just("seq"),
            children,
            st.lists(string_literals, min_size=1, max_size=3).map(tuple),
            st.just(True),
        ),
        st.builds(
            ast.PatternMatch,
            st.sampled_from(["like", "regex"]),
            children,
            st.lists(string_literals, min_size=1, max_size=3).map(tuple),
            st.booleans(),
        ),
        st.builds(ast.Membership, children, st.lists(literals, min_size=1, max_size=3).map(tuple), st.booleans(), st.booleans()),
        st.builds(ast.Logical, st.sampled_from(["and", "or"]), children, children),
        st.builds(ast.Not, children),
        st.builds(ast.Arithmetic, st.sampled_from(["+", "-", "*", "/", "%"]), children, children),
        # Unary minus on a numeric literal parses as a negative literal, so negate anything else.
        children.filter(lambda c: not (isinstance(c, ast.Literal) and type(c.value) in (int, float))).map(_negate),
        st.builds(
            ast.FunctionCall, st.sampled_from(sorted(SIGNATURES)), st.lists(children, max_size=3).map(tuple), st.booleans()
        ),
    )


expressions = st.recursive(st.one_of(literals, fields), _compound, max_leaves=12)
categories = st.one_of(st.none(), identifiers, st.text(min_size=1, max_size=6))
event_queries = st.builds(ast.EventQuery, categories, expressions)
keys = st.lists(fields, max_size=2).map(tuple)
steps = st.builds(ast.Step, event_queries, keys, st.one_of(st.none(), st.integers(1, 100)), st.booleans())
durations = st.builds(ast.Duration, st.integers(1, 10**6), st.sampled_from(ast.TIME_UNITS))
sequences = st.builds(
    ast.Sequence,
    keys,
    st.one_of(st.none(), durations),
    st.lists(steps, min_size=1, max_size=3).map(tuple),
    st.one_of(st.none(), steps),
)
samples = st.builds(ast.Sample, keys, st.lists(steps.map(lambda s: ast.Step(s.query, s.by)), min_size=1, max_size=3).map(tuple))
pipes = st.lists(st.builds(ast.Pipe, st.sampled_from(["head", "tail"]), st.integers(1, 10**6)), max_size=2).map(tuple)
queries = st.builds(ast.Query, st.one_of(event_queries, sequences, samples), pipes)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(queries)
def test_render_then_parse_gives_the_same_ast(query):
    text = render(query)
    assert parse(text) == query, text


def test_corpus_round_trips():
    for rule in corpus_queries():
        tree = parse(rule["query"])
        assert parse(render(tree)) == tree, rule["name"]


def test_render_is_canonical():
    text = 'process where a == 1 and not (b : ("x*", "y") or c in~ (1, -2)) | head 3'
    assert render(parse(text)) == 'process where (a == 1) and (not ((b : ("x*", "y")) or (c in~ (1, -2)))) | head 3'
