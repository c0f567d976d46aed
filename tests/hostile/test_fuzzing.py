"""Bounded fuzzing of the public entry points: whatever the input, the
engine and the compiler end in results or a KestrelError, never another
exception, and every input line is accounted for."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kestrel

from hostile_support import RULES

KEYS = [
    "@timestamp",
    "event",
    "category",
    "host",
    "id",
    "process",
    "name",
    "pid",
    "args",
    "command_line",
    "user",
    "file",
    "path",
    "registry",
    "data",
    "strings",
    "dns",
    "question",
    "x",
    "",
    "process.name",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.sampled_from(["process", "network", "2026-01-05T08:00:00Z", "cmd.exe", "h1"]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)),
    max_leaves=25,
)
LINE = st.one_of(
    JSON.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(KEYS), JSON, max_size=6).map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=60).map(lambda b: b.replace(b"\n", b" ")),
    JSON.map(lambda v: json.dumps(v).encode()[:-1]),  # cut short
)

ENGINE = kestrel.Engine(batch_size=7)
ENGINE.load(RULES)
ENGINE.load("sequence by host.id with maxspan=1m [process where true] [process where process.pid > 1]", rule_id="fuzz_seq")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LINE, max_size=30))
def test_any_lines_end_as_alerts_or_counted_records(lines):
    before = ENGINE.stats()
    try:
        alerts = ENGINE.process(b"\n".join(lines) + b"\n")
    except kestrel.KestrelError:
        return  # a located, typed refusal is an answer too
    after = ENGINE.stats()
    # Blank is JSON's whitespace only, as the decoder reads it.
    nonblank = sum(1 for line in lines if line.strip(b" \t\r"))
    received = after["received"] - before["received"]
    assert received == nonblank
    assert after["processed"] - before["processed"] + after["malformed"] - before["malformed"] == received
    assert all(isinstance(alert["rule"]["id"], str) for alert in alerts)


def test_a_line_of_other_whitespace_is_a_counted_record():
    before = ENGINE.stats()
    ENGINE.process(b"\x0b\n\x0c\n \t\r\n\n")
    after = ENGINE.stats()
    assert after["received"] - before["received"] == 2
    assert after["malformed"] - before["malformed"] == 2


TOKENS = [
    "process",
    "where",
    "sequence",
    "by",
    "with",
    "maxspan=1m",
    "until",
    "sample",
    "any",
    "and",
    "or",
    "not",
    "==",
    ":",
    "!=",
    "<",
    ">=",
    "in",
    "like~",
    "regex",
    "(",
    ")",
    "[",
    "]",
    ",",
    "|",
    "head",
    "tail",
    "1",
    '"a*"',
    "'x'",
    "process.name",
    "?user.name",
    "length(",
    "wildcard(",
    "cidrMatch(",
    "true",
    "null",
    "runs=2",
    "!",
    "~",
    "5s",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=14), st.text(max_size=12))
def test_any_query_text_compiles_or_is_refused_with_a_kestrel_error(tokens, tail):
    query = " ".join(tokens) + tail
    try:
        kestrel.compile(query)
    except kestrel.KestrelError:
        pass
