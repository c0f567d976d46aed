"""The public face of the Wasm backend: kestrel.compile(...).wat / .wasm / .evaluate / .capture."""

import json
from pathlib import Path

import kestrel

SNAPSHOTS = Path(__file__).parent / "snapshots"
EVENTS = [
    {"event": {"category": ["process"]}, "process": {"pid": 4242, "name": "CMD.exe", "command_line": "cmd /c whoami"}},
    {"event": {"category": ["process"]}, "process": {"pid": 12, "name": "bash"}},
    {"event": {"category": ["file"]}, "process": {"pid": 5000, "name": "cmd.exe"}},
]


def test_evaluate_and_capture_on_a_batch():
    rule = kestrel.compile('process where process.name : "cmd.exe" and process.pid > 1000')
    batch = kestrel.EventBatch.from_dicts(EVENTS)
    matches = rule.evaluate(batch)
    assert matches == [0]  # event 2 has the name and pid, but it is a file event
    assert len(matches) == 1 and 0 in matches and list(matches) == [0] and matches.tolist() == [0]
    assert matches.bitmap(3) == b"\x01"
    assert rule.capture(batch, 0) == {"process.name": "CMD.exe", "process.pid": 4242}


def test_sequence_filters_are_numbered_steps_then_until():
    rule = kestrel.compile(
        'sequence by host.id [process where process.pid > 1000] [file where true] until [process where process.name == "bash"]'
    )
    batch = kestrel.EventBatch.from_dicts(EVENTS)
    assert [rule.evaluate(batch, k).tolist() for k in range(3)] == [[0], [2], [1]]


def test_the_binary_is_valid_wasm():
    wasm = kestrel.compile("process where process.pid > 1000").wasm
    assert wasm[:4] == b"\0asm"


def test_captures_as_json_equal_the_captured_values():
    # Alerts carry captures written in the core; they must read back as the
    # values `capture` gives, for every type a field can hold.
    rule = kestrel.compile(
        'process where process.name : "cmd.exe" and process.pid > 1000 and process.args : "/c" '
        'and ?process.code_signature.trusted == true and ?process.cpu_usage >= 0.5 and ?process.title != "x"'
    )
    events = [
        {
            "event": {"category": ["process"]},
            "process": {
                "pid": 4242,
                "name": "CMD.exe",
                "args": ["cmd.exe", "/c", 'é"\\\n'],
                "code_signature": {"trusted": True},
                "cpu_usage": 1.5,
            },
        },
        {"event": {"category": ["process"]}, "process": {"pid": 5000, "name": "cmd.exe", "args": ["/c"]}},
    ]
    batch = kestrel.EventBatch.from_dicts(events)
    predicate = rule._wasm_for(batch.schema)
    written = predicate.rule.capture_json(batch, [0, 1])
    assert [json.loads(w) for w in written] == [rule.capture(batch, 0), rule.capture(batch, 1)]
    assert json.loads(written[0])["process.args"] == ["cmd.exe", "/c", 'é"\\\n']
