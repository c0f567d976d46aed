"""Host API v1, called through its real C ABI table (as LuaJIT's FFI will)."""

import ctypes as C
import json

import pytest

import kestrel
from kestrel import EventBatch, HostContext, Schema
from kestrel.host_abi import HostApiV1, c_declaration, table

TRUE, FALSE, NULL = 1, 0, -1


@pytest.fixture(scope="module")
def api() -> HostApiV1:
    return table()


@pytest.fixture(scope="module")
def setup():
    schema = Schema.default()
    events = [
        {
            "process": {
                "pid": 4242,
                "name": "CMD.EXE",
                "args": ["a", "-ENC", "x"],
                "interactive": True,
                "executable": "C:\\Windows\\System32\\cmd.exe",
                "command_line": "powershell -enc ZQB4AA==",
            },
            "host": {"uptime": 12},
            "user": {"name": "Ярослав"},
            "custom": {"ratio": 0.5, "big": 2**63 + 5},
        },
        {"process": {"pid": -1, "name": "bash", "interactive": False}, "user": {"name": "root"}},
        {"file": {"path": "/tmp/x"}},
    ]
    batch = EventBatch.from_dicts([json.loads(json.dumps(e)) for e in events], schema=schema)
    fid = {
        p: schema.lookup(p).id
        for p in [
            "process.pid",
            "process.name",
            "process.args",
            "process.interactive",
            "process.executable",
            "process.command_line",
            "user.name",
            "custom.ratio",
            "custom.big",
            "file.path",
        ]
    }
    return batch, fid


def call_get(fn, batch, ev, field):
    flag = C.c_int32(7)
    value = fn(batch._address(), ev, field, C.byref(flag))
    return None if flag.value else value


def get_str(api, batch, ev, field):
    n = C.c_uint32(0)
    ptr = api.event_get_str(batch._address(), ev, field, C.byref(n))
    return None if not ptr else C.string_at(ptr, n.value).decode()


def test_table_header(api):
    assert api.abi_version == kestrel._core.HOST_ABI_VERSION == 1
    assert api.struct_size == C.sizeof(HostApiV1)
    assert "int64_t (*event_get_i64)" in c_declaration()


def test_numeric_getters(api, setup):
    b, f = setup
    assert call_get(api.event_get_i64, b, 0, f["process.pid"]) == 4242
    assert call_get(api.event_get_i64, b, 1, f["process.pid"]) == -1
    assert call_get(api.event_get_i64, b, 2, f["process.pid"]) is None
    assert call_get(api.event_get_u64, b, 0, f["process.pid"]) == 4242
    assert call_get(api.event_get_u64, b, 1, f["process.pid"]) is None  # negative does not fit
    assert call_get(api.event_get_u64, b, 0, f["custom.big"]) == 2**63 + 5
    assert call_get(api.event_get_i64, b, 0, f["custom.big"]) is None  # above i64
    assert call_get(api.event_get_f64, b, 0, f["custom.ratio"]) == 0.5
    assert call_get(api.event_get_f64, b, 0, f["process.pid"]) == 4242.0
    assert call_get(api.event_get_i64, b, 0, f["process.name"]) is None  # a string is not a number


def test_bool_and_null(api, setup):
    b, f = setup
    a = b._address()
    assert [api.event_get_bool(a, ev, f["process.interactive"]) for ev in range(3)] == [TRUE, FALSE, NULL]
    assert [api.event_is_null(a, ev, f["file.path"]) for ev in range(3)] == [1, 1, 0]
    assert api.event_is_null(a, 0, 999_999) == 1  # an id the batch never saw


def test_string_getter_reads_the_arena_in_place(api, setup):
    b, f = setup
    assert get_str(api, b, 0, f["process.name"]) == "CMD.EXE"
    assert get_str(api, b, 0, f["user.name"]) == "Ярослав"
    assert get_str(api, b, 2, f["process.name"]) is None
    assert get_str(api, b, 0, f["process.args"]) == "a"  # first element of an array


def test_out_of_range_handles_are_null_not_crashes(api, setup):
    b, f = setup
    assert call_get(api.event_get_i64, b, 10_000, f["process.pid"]) is None
    assert call_get(api.event_get_i64, b, 0xFFFFFFFF, f["process.pid"]) is None
    flag = C.c_int32(0)
    assert api.event_get_i64(None, 0, 0, C.byref(flag)) == 0 and flag.value == 1
    ctx = HostContext(literals=["x"])
    assert api.str_eq(ctx._address(), b._address(), 0, f["process.name"], 99, 0) == NULL  # bad literal id
    assert api.str_eq(None, b._address(), 0, f["process.name"], 0, 0) == NULL


@pytest.mark.parametrize(
    ("op", "literal", "ci", "expected"),
    [
        ("str_eq", "CMD.EXE", 0, [TRUE, FALSE, NULL]),
        ("str_eq", "cmd.exe", 0, [FALSE, FALSE, NULL]),
        ("str_eq", "cmd.exe", 1, [TRUE, FALSE, NULL]),
        ("str_eq", "BASH", 1, [FALSE, TRUE, NULL]),
        ("str_contains", "MD.", 0, [TRUE, FALSE, NULL]),
        ("str_contains", "md.e", 1, [TRUE, FALSE, NULL]),
        ("str_starts_with", "cmd", 1, [TRUE, FALSE, NULL]),
        ("str_starts_with", "cmd", 0, [FALSE, FALSE, NULL]),
        ("str_ends_with", ".exe", 1, [TRUE, FALSE, NULL]),
        ("str_ends_with", "sh", 0, [FALSE, TRUE, NULL]),
    ],
)
def test_string_operations(api, setup, op, literal, ci, expected):
    b, f = setup
    ctx = HostContext(literals=[literal])
    got = [getattr(api, op)(ctx._address(), b._address(), ev, f["process.name"], 0, ci) for ev in range(3)]
    assert got == expected


def test_unicode_case_folding(api, setup):
    b, f = setup
    ctx = HostContext(literals=["ярослав", "ЯРОС", "СЛАВ"])
    a, c = b._address(), ctx._address()
    assert api.str_eq(c, a, 0, f["user.name"], 0, 1) == TRUE
    assert api.str_eq(c, a, 0, f["user.name"], 0, 0) == FALSE
    assert api.str_starts_with(c, a, 0, f["user.name"], 1, 1) == TRUE
    assert api.str_ends_with(c, a, 0, f["user.name"], 2, 1) == TRUE


def test_arrays_match_if_any_element_matches(api, setup):
    b, f = setup
    ctx = HostContext(literals=["-enc"], sets=[(["-ENC"], False)])
    a, c = b._address(), ctx._address()
    assert api.str_eq(c, a, 0, f["process.args"], 0, 1) == TRUE
    assert api.str_eq(c, a, 0, f["process.args"], 0, 0) == FALSE
    assert api.set_contains(c, a, 0, f["process.args"], 0) == TRUE


@pytest.mark.parametrize(
    ("patterns", "ci", "field", "expected"),
    [
        (["*\\cmd.exe"], True, "process.executable", TRUE),  # `*` at the start
        (["*\\cmd.exe"], False, "process.executable", TRUE),
        (["*\\CMD.EXE"], False, "process.executable", FALSE),
        (["C:\\Windows\\*"], True, "process.executable", TRUE),  # `*` at the end
        (["?:\\Windows\\*"], True, "process.executable", TRUE),  # `?` is one character
        (["??:\\Windows\\*"], True, "process.executable", FALSE),
        (["*System32*"], False, "process.executable", TRUE),  # both ends
        (["*system32*"], False, "process.executable", FALSE),
        (["*-enc*", "*-e *", "*frombase64*"], True, "process.command_line", TRUE),
        (["*frombase64*", "*-nop*"], True, "process.command_line", FALSE),
        (["cmd.exe"], True, "process.name", TRUE),  # no wildcard: equality
        (["*"], False, "process.name", TRUE),
        (["ярос*"], True, "user.name", TRUE),  # Unicode folding in patterns
    ],
)
def test_wildcards_on_fields(api, setup, patterns, ci, field, expected):
    b, f = setup
    ctx = HostContext(globs=[(patterns, ci)])
    assert api.glob_match_field(ctx._address(), b._address(), 0, f[field], 0) == expected


def test_wildcards_on_text_with_non_ascii(api):
    ctx = HostContext(globs=[(["Яр?слав"], False), (["ЯР*"], True), (["*ß"], True)])
    c = ctx._address()

    def m(i, text):
        raw = text.encode()
        return api.glob_match(c, i, raw, len(raw))

    assert m(0, "Ярослав") == TRUE
    assert m(0, "Ярославв") == FALSE
    assert m(1, "ярослав") == TRUE
    assert m(2, "STRAß") == TRUE
    assert m(5, "x") == NULL  # bad glob id
    bad = b"\xff\xfe"
    assert api.glob_match(c, 0, bad, 2) == NULL  # not UTF-8


def test_regex_is_anchored_and_case_mode_is_explicit(api, setup):
    b, f = setup
    ctx = HostContext(regexes=[("cmd\\.exe", False), ("CMD", False), ("cmd\\.exe", True), (".*System32.*", False)])
    a, c = b._address(), ctx._address()
    assert api.re_match_field(c, a, 0, f["process.name"], 0) == FALSE  # case-sensitive
    assert api.re_match_field(c, a, 0, f["process.name"], 1) == FALSE  # anchored: no partial match
    assert api.re_match_field(c, a, 0, f["process.name"], 2) == TRUE
    assert api.re_match_field(c, a, 0, f["process.executable"], 3) == TRUE
    assert api.re_match_field(c, a, 2, f["process.name"], 2) == NULL
    text = b"cmd.exe"
    assert api.re_match(c, 2, text, len(text)) == TRUE


def test_bad_regex_is_a_pattern_error():
    with pytest.raises(kestrel.PatternError, match="invalid regex"):
        HostContext(regexes=[("(unclosed", False)])


def test_sets_are_hashed_in_both_case_modes(api, setup):
    b, f = setup
    ctx = HostContext(sets=[(["bash", "sh", "zsh"], False), (["CMD.exe", "pwsh.exe"], True), (["cmd.exe"], False)])
    a, c = b._address(), ctx._address()
    assert [api.set_contains(c, a, ev, f["process.name"], 0) for ev in range(3)] == [FALSE, TRUE, NULL]
    assert api.set_contains(c, a, 0, f["process.name"], 1) == TRUE
    assert api.set_contains(c, a, 0, f["process.name"], 2) == FALSE


def test_alert_emit_collects_event_indexes(api):
    ctx = HostContext()
    assert api.alert_emit(ctx._address(), 3) == 0
    assert api.alert_emit(ctx._address(), 9) == 0
    assert ctx.take_emitted() == [3, 9]
    assert ctx.take_emitted() == []
    assert api.alert_emit(None, 1) == -1


def test_match_emit_fills_a_core_owned_buffer(api):
    ctx = HostContext()
    assert api.match_emit(ctx._address(), 0, 5) == 0
    assert api.match_emit(ctx._address(), 2, 7) == 0
    assert ctx.take_matches() == [(0, 5), (2, 7)]
    assert api.match_emit(None, 0, 1) == -1


def test_eval_node_without_an_evaluator_is_null(api, setup):
    b, _ = setup
    assert api.eval_node(HostContext()._address(), b._address(), 0, 0) == NULL
