"""`kestrel bench`: rule-set budgets, the comparison with the eql package, regressions between runs, benches' budget check.

The budget tests time real rules, but only in the direction that cannot
flake: a rule built to be slow (a Lua loop of 20,000 steps per event) is
hundreds of times over a budget a normal rule stays far under.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from kestrel.bench import compare
from kestrel.bench.budget import over_budget
from kestrel.cli import main

from support.shared_paths import CORPUS, require

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
needs_eql = pytest.mark.skipif(
    importlib.util.find_spec("eql") is None, reason="the optional `compare` extra (eql) is not installed"
)
FAST_RULE = REPO / "rules" / "eql" / "outbound_4444.eql"

SLOW_LUA = """
function pred_eval(event)
    local pid = kestrel.event_get_i64(event, 1)
    local x = 0
    for i = 1, 20000 do
        x = (x + i * pid) % 7919
    end
    return x == -1
end
"""


@pytest.fixture
def slow_package(tmp_path) -> Path:
    """A hand-written Lua package (sandboxed: interpreted, instruction-budgeted) that loops per event."""
    directory = tmp_path / "slow_loop"
    directory.mkdir()
    (directory / "predicate.lua").write_text(SLOW_LUA)
    manifest = {
        "id": "slow_loop",
        "name": "busy loop",
        "version": "1",
        "runtime": "lua",
        "kind": "event",
        "entry": "predicate.lua",
        "fields": {"1": "process.pid"},
        "categories": ["process"],
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def bench(capsys, *args: str) -> tuple[int, str, str]:
    status = main(["bench", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_a_slow_rule_exceeds_the_budget_and_fails_the_run(slow_package, capsys):
    status, out, _ = bench(
        capsys, "--rules", str(slow_package), str(FAST_RULE), "--events-count", "400", "--budget-ns", "20000", "--repeats", "1"
    )
    assert status == 1
    rows = [line.split() for line in out.splitlines()[3:] if line and not line.startswith(("OVER", "sequence"))]
    assert rows[0][:2] == ["slow_loop", "lua"] and rows[0][-1] == "OVER"  # slowest first
    assert {(r[0], r[1], r[-1]) for r in rows[1:]} == {("outbound_4444", "wasm", "ok"), ("outbound_4444", "lua", "ok")}
    assert "OVER BUDGET slow_loop [lua]: " in out and "is over its budget of 20000 ns/event" in out


def test_within_budget_exits_zero_and_reports_json(capsys):
    status, out, _ = bench(
        capsys,
        "--rules",
        str(FAST_RULE),
        str(REPO / "rules" / "eql" / "execution_then_outbound.eql"),
        "--events-count",
        "400",
        "--budget-ns",
        "1000000",
        "--repeats",
        "1",
        "--json",
    )
    assert status == 0
    report = json.loads(out)
    assert report["events"] == 400 and report["over_budget"] == [] and report["failed"] == []
    by_key = {(r["rule"], r["runtime"]): r for r in report["results"]}
    assert set(by_key) == {
        (rule, runtime) for rule in ("outbound_4444", "execution_then_outbound") for runtime in ("wasm", "lua")
    }
    assert all(r["ns_per_event"] > 0 and r["events_per_s"] > 0 for r in report["results"])
    # Both runtimes see the same events and must find the same matches.
    assert by_key["outbound_4444", "wasm"]["matches"] == by_key["outbound_4444", "lua"]["matches"] > 0
    assert by_key["execution_then_outbound", "wasm"]["measured"] == "filters"
    assert [r["ns_per_event"] for r in report["results"]] == sorted((r["ns_per_event"] for r in report["results"]), reverse=True)


def test_user_events_file_and_runtime_choice(tmp_path, capsys):
    events = tmp_path / "events.ndjson"
    hit = {
        "event": {"category": ["network"], "action": "connection_attempted"},
        "destination": {"port": 4444, "ip": "203.0.113.9"},
    }
    miss = dict(hit, destination={"port": 443, "ip": "203.0.113.9"})
    events.write_text("\n".join(json.dumps(e) for e in [hit, miss, hit]) + "\n")
    status, out, _ = bench(
        capsys, "--rules", str(FAST_RULE), "--events", str(events), "--runtime", "wasm", "--json", "--repeats", "1"
    )
    assert status == 0
    (result,) = json.loads(out)["results"]
    assert (result["runtime"], result["matches"]) == ("wasm", 2)


def test_a_rule_that_does_not_compile_is_reported_and_fails(tmp_path, capsys):
    broken = tmp_path / "broken.eql"
    broken.write_text("process where process.pid >")
    status, out, _ = bench(capsys, "--rules", str(broken), str(FAST_RULE), "--events-count", "100", "--repeats", "1")
    assert status == 2
    assert f"FAILED  {broken}" in out


@needs_eql
def test_compare_eql_end_to_end(capsys):
    require(CORPUS)
    status, out, err = bench(
        capsys,
        "--compare",
        "eql",
        "--events-count",
        "600",
        "--cases",
        "predicates,sequence,corpus",
        "--corpus-limit",
        "12",
        "--repeats",
        "1",
    )
    assert status == 0, err
    lines = out.splitlines()
    assert lines[1].split()[:3] == ["case", "rules", "kestrel"]
    rows = {
        line.split()[0]: line
        for line in lines[3:]
        if line.split() and line.split()[0] in set(compare.PREDICATES) | {"sequence_3_steps_by_entity_5m", "corpus_event_rules"}
    }
    assert set(rows) == set(compare.PREDICATES) | {"sequence_3_steps_by_entity_5m", "corpus_event_rules"}
    assert "RESULTS DIFFER" not in out + err
    for name in compare.PREDICATES:
        assert rows[name].split()[-1] == "yes"


@needs_eql
def test_compare_eql_json_has_positive_rates_and_equal_matches(capsys):
    status, out, _ = bench(
        capsys, "--compare", "eql", "--events-count", "600", "--cases", "predicates,sequence", "--repeats", "1", "--json"
    )
    assert status == 0
    report = json.loads(out)
    assert report["agrees"] is True and report["events"] == 600
    cases = {c["case"]: c for c in report["cases"]}
    for name in compare.PREDICATES:
        case = cases[name]
        assert case["kestrel_ns_per_event"] > 0 and case["eql_ns_per_event"] > 0 and case["ratio"] > 0
        assert case["agrees"] is True and case["kestrel_matches"] == case["eql_matches"]
    assert sum(cases[n]["kestrel_matches"] for n in compare.PREDICATES) > 0  # agreement on nothing proves nothing
    sequence = cases["sequence_3_steps_by_entity_5m"]
    assert sequence["eql_ns_per_event"] > 0
    if sequence["kestrel_ns_per_event"] is None:  # a build without kestrel.runtime.sequence
        assert sequence["agrees"] is None and "not available" in sequence["note"]
    else:
        assert sequence["agrees"] is True and sequence["kestrel_matches"] == sequence["eql_matches"]


@needs_eql
def test_compare_says_so_loudly_when_results_differ(monkeypatch, capsys):
    # eql's == ignores case, Kestrel's (as Elasticsearch's) does not: the engines disagree on this query.
    monkeypatch.setattr(
        compare, "PREDICATES", {"name_eq_upper": ('process where process.name == "CMD.EXE"', "deliberately divergent")}
    )
    status, out, err = bench(capsys, "--compare", "eql", "--events-count", "600", "--cases", "predicates", "--repeats", "1")
    assert status == 1
    assert "RESULTS DIFFER: name_eq_upper: Kestrel 0 matches, eql " in out
    assert "RESULTS DIFFER" in err


@needs_eql
def test_the_corpus_case_without_a_corpus_is_a_clear_error(capsys, tmp_path):
    missing = tmp_path / "no-corpus.jsonl"
    status, _, err = bench(capsys, "--compare", "eql", "--cases", "corpus", "--corpus", str(missing), "--repeats", "1")
    assert status == 2
    assert f"there is none at {missing} (pass --corpus)" in err


def test_corpus_divergences_are_named():
    assert compare.divergence('process where process.name regex "a.*"') is not None
    assert compare.divergence('file where file.path : "?:\\\\Windows\\\\*"') is not None
    assert "multi-valued" in compare.divergence('process where event.type == "start"', frozenset({"event.type"}))
    assert compare.divergence("process where process.pid > 4") is None


def benchmark_json(path: Path, medians: dict[str, float]) -> str:
    document = {
        "machine_info": {},
        "datetime": "2026-01-01T00:00:00",
        "benchmarks": [
            {
                "name": name.split("::")[-1],
                "fullname": name,
                "group": "predicate-wasm",
                "stats": {"median": median, "min": median},
                "extra_info": {"ns_per_event": median * 1e9 / 65536},
            }
            for name, median in medians.items()
        ],
    }
    path.write_text(json.dumps(document))
    return str(path)


def test_diff_finds_a_regression_beyond_the_threshold(tmp_path, capsys):
    old = benchmark_json(tmp_path / "old.json", {"b::fast": 0.001, "b::steady": 0.002, "b::gone": 0.001})
    new = benchmark_json(tmp_path / "new.json", {"b::fast": 0.0013, "b::steady": 0.00201, "b::added": 0.001})
    status, out, _ = bench(capsys, "--diff", old, new, "--threshold", "10")
    assert status == 1
    assert "REGRESSION b::fast: " in out and "+30.0%" in out
    assert "REGRESSION b::steady" not in out
    assert "only in old: b::gone" in out and "only in new: b::added" in out
    status, out, _ = bench(capsys, "--diff", old, new, "--threshold", "50")
    assert status == 0 and "REGRESSION" not in out.replace("REGRESSION\n", "")


def test_diff_compares_ns_per_event_of_untimed_runs(tmp_path, capsys):
    # A --benchmark-disable run has no stats: extra_info's ns_per_event is compared instead.
    def untimed(path: Path, ns: float) -> str:
        path.write_text(
            json.dumps({"benchmarks": [{"name": "t", "fullname": "b::t", "stats": None, "extra_info": {"ns_per_event": ns}}]})
        )
        return str(path)

    status, out, _ = bench(capsys, "--diff", untimed(tmp_path / "a.json", 20.0), untimed(tmp_path / "b.json", 40.0), "--json")
    assert status == 1
    report = json.loads(out)
    assert report["regressions"] == 1 and report["changes"][0]["metric"] == "ns_per_event"


def test_budget_check_message_names_benchmark_budget_and_value():
    assert over_budget("test_x", 999.0, 1000) is None
    assert over_budget("test_x", 5000.0, None) is None
    assert over_budget("test_x", 1234.5, 1000, group="predicate-wasm") == (
        "test_x: 1234.5 ns/event is over its budget of 1000 ns/event (predicate-wasm)"
    )


def test_benches_budget_fixture_fails_a_benchmark_over_budget(pytester):
    # The real benches/conftest.py and a budgets.toml with a tiny budget, in a scratch project.
    shutil.copy(REPO / "benches" / "conftest.py", pytester.path / "conftest.py")
    (pytester.path / "budgets.toml").write_text("[predicate-wasm]\ndefault = 10\n[predicate-lua]\nslow_one = 5\n")
    pytester.makepyfile(
        test_budget="""
        import pytest

        @pytest.mark.benchmark(group="predicate-wasm")
        def test_over(benchmark, budget):
            benchmark(lambda: None)
            budget(250.0, matches=3, agrees_with_reference=True)

        @pytest.mark.benchmark(group="predicate-wasm")
        def test_under(benchmark, budget):
            benchmark(lambda: None)
            budget(2.0, matches=3, agrees_with_reference=True)
    """
    )
    result = pytester.runpytest_inprocess("--benchmark-disable", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_over: 250.0 ns/event is over its budget of 10 ns/event (predicate-wasm)*"])


def test_bench_table_is_generated_between_the_markers(tmp_path):
    import runpy

    script = runpy.run_path(str(REPO / "scripts" / "bench_table.py"))
    results = {
        "datetime": "2026-01-02T03:04:05",
        "machine_info": {"cpu": {"brand_raw": "Test CPU", "count": 2}, "python_version": "3.11"},
        "benchmarks": [
            {
                "name": "test_a",
                "group": "predicate-wasm",
                "extra_info": {"ns_per_event": 20.0, "eql_ns_per_event": 2000.0, "agrees_with_reference": True},
            },
            {"name": "test_b", "group": "compile", "extra_info": {"ns_per_event": None}},
        ],
    }
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench-table:start -->\nold table\n<!-- bench-table:end -->\noutro\n")
    script["write"](readme, script["table"](results))
    text = readme.read_text()
    assert "old table" not in text and text.startswith("intro\n") and text.endswith("outro\n")
    assert (
        "| predicate-wasm: `test_a` | 20.0 ns/event (50.0M/s) | 2,000 ns/event | 100x | yes | Test CPU, 2 cores, Python 3.11 | 2026-01-02 |"
        in text
    )
    assert "test_b" not in text
