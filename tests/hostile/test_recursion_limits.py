"""Finding 12: 500 terms chained by or/and/not/+, a 200-step sequence or 500
nested calls raised a raw RecursionError that aborted the whole load.

Chains of one operator are flat and compile; what nests or repeats beyond
the compiler's limits fails with a located EqlError, for that rule only.
"""

from hostile_support import process_event, result, run_scenario


def _shared(levels: int) -> str:
    # Each level tests the one below once per list value: 2^levels evaluations.
    condition = "process.pid not in (1, 2)"
    for _ in range(levels):
        condition = f"({condition}) not in (true, null)"
    return "process where " + condition


RULES = {
    "or_chain": "process where " + " or ".join(f"process.pid == {n}" for n in range(500)),
    "and_chain": "process where " + " and ".join(f"process.pid != {n}" for n in range(500)),
    "nots": "process where " + "not " * 500 + "process.pid == 1",
    "pluses": "process where process.pid == " + " + ".join(["1"] * 500),
    "calls": "process where length(" + "concat(" * 500 + "process.name" + ")" * 500 + ") > 1",
    "steps": "sequence by host.id " + " ".join(f"[process where process.pid == {n}]" for n in range(200)),
    "shared": _shared(40),
}


def test_oversized_rules_fail_alone_with_located_errors(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    for name, query in RULES.items():
        (rules / f"{name}.eql").write_text(query + "\n")
    process = run_scenario(
        """
        import kestrel
        engine = kestrel.Engine()
        loaded = engine.load(sys.argv[1])
        failures = {f.location.rsplit("/", 1)[-1]: [f.line, f.column, f.reason.split()[0]] for f in loaded.failures}
        report({"rules": sorted(r["id"] for r in engine.rules()), "failures": failures,
                "alerts": sorted(a["rule"]["id"] for a in engine.process(sys.argv[2]))})
        """,
        str(rules),
        process_event(499) + "\n",
    )
    found = result(process)
    assert found["rules"] == ["and_chain", "or_chain"]
    assert found["alerts"] == ["or_chain"]
    located = {name: (line, column > 1, code) for name, (line, column, code) in found["failures"].items()}
    assert located == {
        "nots.eql": (1, True, "E058"),
        "pluses.eql": (1, True, "E058"),
        "calls.eql": (1, True, "E058"),
        "steps.eql": (1, True, "E059"),
        "shared.eql": (1, True, "E060"),
    }
