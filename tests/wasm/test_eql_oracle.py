"""The `eql` package (Elastic's Python EQL) as a second oracle, on the event queries of its own legacy suite.

Every event query of eql's `test_queries.toml` that Elasticsearch's syntax
accepts is compiled to Wasm and run over the same Endgame events; the ids must
equal eql's expected ids. Where they cannot, Kestrel deliberately follows
Elasticsearch, and each such case is a strict xfail naming the difference:

* eql compares strings case-insensitively (one global switch), so its
  `>=`/`<=` on strings and `between()` ignore case; Elasticsearch's are
  case-sensitive.
* eql's legacy `==` treats `*` as a wildcard; Elasticsearch's `==` is plain
  equality (wildcards belong to `:` and `like`).

Queries with `| head` / `| tail` run through `kestrel.Engine`, which applies
pipes. Queries in legacy syntax that Elasticsearch rejects (`=`, single quotes,
legacy functions, the `join`/`unique`/`count` forms) are skipped with the
compiler's error code.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import kestrel

from support.conformance import (
    ENDGAME_ENGINE,
    ENDGAME_OPTIONS,
    alert_ids,
    endgame_file_events,
    endgame_fixture,  # noqa: F401 (the `endgame` fixture)
    has_pipes,
    run_engine,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

eql = pytest.importorskip("eql")

SUITE = Path(eql.__file__).parent / "etc" / "test_queries.toml"
LEGACY_PIPES = re.compile(r"\|\s*(unique|count|filter|sort|window|unique_count)\b")
CASE = "eql compares strings case-insensitively; Elasticsearch's ordering and between() are case-sensitive"
WILDCARD_EQ = "eql's legacy == treats * as a wildcard; Elasticsearch's == is plain equality"


def _event_queries():
    with open(SUITE, "rb") as handle:
        cases = tomllib.load(handle)["queries"]
    for case in cases:
        text = case["query"]
        if text.lstrip().startswith(("sequence", "join", "sample")) or LEGACY_PIPES.search(text):
            continue
        yield case


def _deviation(text: str):
    if re.search(r'==\s*"[^"]*[*%]', text):
        return WILDCARD_EQ
    if re.search(r"[<>]=?\s*\"|between\(", text):
        return CASE
    return None


CASES = list(_event_queries())


@pytest.mark.parametrize("case", CASES, ids=[f"q{i}" for i in range(len(CASES))])
def test_legacy_event_query(case, endgame, request):
    schema, batch, ids = endgame
    try:
        rule = kestrel.compile(case["query"], schema=schema, options=ENDGAME_OPTIONS)
    except kestrel.EqlError as error:
        pytest.skip(f"legacy syntax Elasticsearch rejects ({error.code})")
    if has_pipes(case):
        # `| head` / `| tail` select among a rule's results: the engine applies them.
        found = alert_ids(run_engine(case["query"], endgame_file_events(), **ENDGAME_ENGINE), "serial_event_id")
    else:
        found = [ids[i] for i in rule.evaluate(batch)]
    if found != case["expected_event_ids"]:
        reason = _deviation(case["query"])
        if reason is not None:
            request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
    assert found == case["expected_event_ids"]


def test_the_suite_is_exercised():
    # Guard against the filter above silently excluding everything.
    assert len(CASES) >= 100
