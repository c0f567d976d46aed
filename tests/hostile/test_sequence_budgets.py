"""Finding 19 (budgets): with workers=N the sequence budgets held per worker.

The memory budget and the rule quota are totals over every partition that
holds a rule's state, and restoring a partition from a snapshot replaces
its share of them rather than adding to it.
"""

import pytest

from hostile_support import result, run_scenario

RULE = 'sequence by host.id with maxspan=1h [process where process.name == "a.exe"] [process where process.name == "b.exe"]'

SCENARIO = """
import kestrel
rule, workers, option = sys.argv[1], int(sys.argv[2]), sys.argv[3]
options = {"state_memory_budget": "256KB"} if option == "budget" else {"quotas": {"rule": 300}}
engine = kestrel.Engine(workers=workers, **options)
engine.load(rule, rule_id="seq")
starts = [{"@timestamp": "2026-01-01T00:%02d:%02dZ" % (i // 60 % 60, i % 60), "event": {"category": ["process"]},
           "host": {"id": f"h{i}"}, "process": {"name": "a.exe", "command_line": "x" * 200}} for i in range(3000)]
engine.process(starts)
state = engine.stats()["rules"]["seq"]["state"]
found = {"partials": state["partials"], "bytes": state["state_bytes"], "partitions": state["partitions"]}
if workers:
    # Restore every partition from its own snapshot, twice. Restored evidence
    # is a private copy of each event's JSON, so the first round may cost
    # more bytes (and evict under the budget); the second must change nothing.
    rounds = []
    for _ in range(2):
        for p in range(state["partitions"]):
            engine.restore_partition(p, engine.snapshot_partition(p))
        after = engine.stats()["rules"]["seq"]["state"]
        rounds.append((after["partials"], after["state_bytes"]))
    found["rounds"] = rounds
    more = [dict(e, host={"id": "late" + e["host"]["id"]}) for e in starts[:50]]
    engine.process(more)
    found["after_more"] = engine.stats()["rules"]["seq"]["state"]["partials"]
report(found)
"""


@pytest.mark.parametrize("option", ["budget", "quota"])
def test_budgets_are_totals_over_partitions_and_survive_restores(option):
    single = result(run_scenario(SCENARIO, RULE, "0", option))
    parallel = result(run_scenario(SCENARIO, RULE, "2", option))
    assert parallel["partitions"] == 2
    if option == "quota":
        assert single["partials"] == parallel["partials"] == 300
    else:
        # Per partition it would be twice the budget; concurrent admissions
        # may overshoot the total by a partial match or two.
        assert parallel["bytes"] <= (256 << 10) * 1.02
        assert abs(parallel["partials"] - single["partials"]) <= 8
    # A restored partition replaces its share of the totals: a restore that
    # added it a second time would evict nearly everything for new state.
    first, second = parallel["rounds"]
    assert first == second
    if option == "quota":
        assert first[0] == parallel["after_more"] == 300
    else:
        assert first[1] <= (256 << 10) * 1.02
        # New starts evict the least recently used to make room, one for one
        # or better (restored state costs more bytes), never wholesale.
        assert parallel["after_more"] >= first[0] - 4
