"""`kestrel bench --compare eql`: Kestrel and the `eql` package's PythonEngine, same queries, same events.

Three kinds of case, all in this process over the same events:

* single predicates, chosen where the two engines' semantics agree:
  numeric comparisons, `==` on exact strings whose case matches the data
  (Kestrel's `==` is case-sensitive as Elasticsearch's, eql's is not), `in`
  on numbers, and `:` wildcards without `?` (eql takes `?` literally);
* the 3-step `sequence by process.entity_id with maxspan=5m`: Kestrel's side
  runs on `kestrel.runtime.sequence` when this build has it, and is reported
  as not available otherwise;
* the corpus: every event rule of the production corpus that both engines
  accept, timed together on the same (small) stream, each rule's matches
  compared. A rule that uses a construct the engines read differently (see
  :data:`DIVERGENT`) may differ for that reason alone: such rules are listed
  as known semantic differences, not failures.

A case *agrees* when the match sets are equal (event indices; for sequences,
tuples of indices), known semantic differences aside. When they are not, the
report says RESULTS DIFFER: a speedup on wrong answers is not a speedup.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import kestrel
from kestrel.bench import eql_engine, table
from kestrel.bench.events import Events
from kestrel.bench.timing import best_seconds


def shared_dir() -> Path:
    """The shared reference data: $KESTREL_SHARED, else ``shared/`` beside a source checkout."""
    override = os.environ.get("KESTREL_SHARED")
    return Path(override) if override else Path(__file__).resolve().parents[4] / "shared"


def default_corpus() -> Path:
    """The rule corpus of the ``corpus`` case: $KESTREL_CORPUS, else the shared data's."""
    override = os.environ.get("KESTREL_CORPUS")
    return Path(override) if override else shared_dir() / "corpus" / "elastic_eql_rules.jsonl"


#: 20 wildcard patterns over the command line, none with `?`: the wildcard
#: workload of `--compare eql` and of benches/ (suspicious-PowerShell and LOLBin rules).
COMMAND_LINE_PATTERNS = (
    "*-enc*",
    "*-e *",
    "*frombase64*",
    "*-nop*",
    "*-w hidden*",
    "*downloadstring*",
    "*invoke-expression*",
    "*iex(*",
    "*bypass*",
    "*-urlcache*",
    "*/transfer*",
    "*mshta*",
    "*regsvr32*/i:*",
    "*rundll32*javascript*",
    "*certutil*-decode*",
    "*bitsadmin*",
    "*wmic*process*call*",
    "*\\\\192.168.*",
    "*.hta*",
    "*whoami /all*",
)

#: name -> (query, why the two engines agree on it).
PREDICATES = {
    "pid_gt_1000": ("process where process.pid > 1000", "numeric comparison"),
    "name_eq_exact": ('process where process.name == "cmd.exe"', "== on an exact string (the data's case)"),
    "port_in_numbers": ("network where destination.port in (22, 445, 3389, 4444)", "in on numbers"),
    "file_ext_and_size": ('file where file.extension == "ps1" and file.size > 5000000', "exact string and number"),
    "cmdline_20_wildcards": (
        "process where process.command_line : (" + ", ".join(json.dumps(p) for p in COMMAND_LINE_PATTERNS) + ")",
        ": wildcards without ?",
    ),
}

#: Numeric conditions only, so the steps mean the same to both engines.
SEQUENCE = (
    "sequence by process.entity_id with maxspan=5m\n"
    "  [process where process.pid > 30000]\n"
    "  [file where file.size > 1000000]\n"
    "  [network where destination.port in (443, 4444)]"
)

#: Distinct `process.entity_id`s of the generated stream: enough events per
#: entity within 5 minutes for the sequence to complete now and then.
ENTITIES = 50

#: Constructs the engines read differently (conformance/README.md), as
#: (reason, pattern over the query text). Corpus rules using them are not compared.
DIVERGENT = (
    ("regex (eql anchors at the start only)", re.compile(r"\bregex~?\b")),
    ("? in a pattern (eql takes it literally)", re.compile(r'"[^"\n]*\?[^"\n]*"')),
    ("case-sensitive ==, !=, in (eql ignores case)", re.compile(r'(==|!=)\s*"[^"]*[A-Za-z]|\bin\s*\(\s*"')),
    ("string ordering (eql ignores case)", re.compile(r'[<>]=?\s*"')),
)


@dataclass
class CaseResult:
    case: str
    kind: str  #: predicate, sequence or corpus
    events: int
    rules: int = 1
    kestrel_ns_per_event: Optional[float] = None  #: None: not available in this build
    eql_ns_per_event: Optional[float] = None
    kestrel_matches: Optional[int] = None
    eql_matches: Optional[int] = None
    agrees: Optional[bool] = None  #: None: nothing to compare against
    note: str = ""
    matched_rules: int = 0  #: rules with a match on either side (agreement on no match at all says little)
    differing: list[str] = field(default_factory=list)  #: rules whose matches differ, unexplained
    #: rules whose matches differ where the engines' semantics differ: (rule, reason)
    explained: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ratio(self) -> Optional[float]:
        if self.kestrel_ns_per_event and self.eql_ns_per_event:
            return self.eql_ns_per_event / self.kestrel_ns_per_event
        return None


@dataclass
class Plan:
    """The compiled cases, made before any event is decoded (compiling may add fields to the schema)."""

    predicates: list[tuple[str, str, Any, str]] = field(default_factory=list)  #: (case, query, compiled, note)
    sequence: Optional[tuple[str, Any]] = None
    corpus: list[tuple[str, str, Any]] = field(default_factory=list)  #: (rule name, query, compiled)
    parsed: dict[str, Any] = field(default_factory=dict)  #: query -> eql's parse of it
    corpus_excluded: dict[str, int] = field(default_factory=dict)  #: reason -> rules


CASES = ("predicates", "sequence", "corpus")


def divergence(query: str, list_fields: frozenset[str] = frozenset()) -> Optional[str]:
    """Why the engines may read `query` differently, or None.

    `list_fields` are the paths that hold lists in the events (see
    :func:`kestrel.bench.eql_engine.list_fields`).
    """
    for path in sorted(list_fields):
        if re.search(r"(?<![\w.])" + re.escape(path) + r"(?!\w)", query):
            return f"multi-valued field {path} (eql compares the whole list, Kestrel each element)"
    for reason, pattern in DIVERGENT:
        if pattern.search(query):
            return reason
    return None


def plan(
    schema: kestrel.Schema, cases: tuple[str, ...] = CASES, corpus_path: Optional[Path] = None, corpus_limit: Optional[int] = None
) -> Plan:
    out = Plan()
    if "predicates" in cases:
        for name, (query, note) in PREDICATES.items():
            out.predicates.append((name, query, kestrel.compile(query, schema=schema), note))
    if "sequence" in cases:
        out.sequence = (SEQUENCE, kestrel.compile(SEQUENCE, schema=schema))
    if "corpus" in cases:
        excluded: dict[str, int] = {}
        path = corpus_path if corpus_path is not None else default_corpus()
        if not path.is_file():
            raise kestrel.KestrelError(
                f"the corpus case needs a rule corpus (JSON lines); there is none at {path} (pass --corpus)"
            )
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record.get("query_kind") != "event":
                continue
            try:
                parsed = eql_engine.parse(record["query"])
            except Exception as error:  # eql's parse errors share no base class worth naming
                reason = f"eql cannot parse it ({type(error).__name__})"
                excluded[reason] = excluded.get(reason, 0) + 1
                continue
            try:
                compiled = kestrel.compile(record["query"], schema=schema)
            except kestrel.KestrelError:
                excluded["Kestrel cannot compile it"] = excluded.get("Kestrel cannot compile it", 0) + 1
                continue
            out.corpus.append((record["name"], record["query"], compiled))
            out.parsed[record["query"]] = parsed
            if corpus_limit is not None and len(out.corpus) >= corpus_limit:
                break
        out.corpus_excluded = excluded
    return out


def _kestrel_event_rules(compiled: list[Any], events: Events, schema: kestrel.Schema, repeats: int) -> tuple[float, list[set]]:
    """(best seconds for every rule over every batch, matches per rule as global event indices)."""
    from kestrel.runtime.wasm import WasmPredicate

    predicates = [WasmPredicate.from_compiled(c, schema, rule_id=f"bench{i}") for i, c in enumerate(compiled)]
    offsets = [0]
    for batch in events.batches:
        offsets.append(offsets[-1] + len(batch))
    found = [
        {offsets[b] + i for b, batch in enumerate(events.batches) for i in p.evaluate(batch)} for p in predicates
    ]  # also the warm-up

    def one_pass() -> None:
        for batch in events.batches:
            for p in predicates:
                p.evaluate(batch)

    return best_seconds(one_pass, repeats=repeats), found


def _sequence_ids(match: Any) -> tuple:
    """A sequence match as the tuple of its events' indices (their ingest sequence numbers:
    batches are decoded with `first_seq` at their first event's index)."""
    return tuple(-1 if seq is None else int(seq) for seq in match.seqs)


def _kestrel_sequence(compiled: Any, events: Events, schema: kestrel.Schema, repeats: int) -> tuple[float, set]:
    """(best seconds, matches) of `kestrel.runtime.sequence`."""
    from kestrel.runtime.sequence import SequenceRule

    def one_pass(rule: Any) -> list[Any]:
        matches: list[Any] = []
        for batch in events.batches:
            matches += rule.process(batch)
        return matches + rule.flush()

    found = {_sequence_ids(m) for m in one_pass(SequenceRule(compiled, schema, rule_id="bench_sequence"))}
    # Fresh state for every timed pass, built outside the timed region.
    seconds = best_seconds(one_pass, repeats=repeats, setup=lambda: SequenceRule(compiled, schema, rule_id="bench_sequence"))
    return seconds, found


def _compare_event_case(
    name: str,
    kind: str,
    rules: list[tuple[str, str, Any]],
    events: Events,
    schema: kestrel.Schema,
    eql_events: list[Any],
    index: dict[int, int],
    repeats: int,
    list_fields: frozenset[str],
    parsed: dict[str, Any],
) -> CaseResult:
    """Time `rules` (name, query, compiled) on both engines and compare each rule's matches.

    Rules eql fails to run on these events are dropped from both sides
    before timing, and counted in the note.
    """
    runs = [eql_engine.QueryRun(parsed.get(query) or eql_engine.parse(query), index) for _, query, _ in rules]
    errors = eql_engine.matches(runs, eql_events)
    kept = [i for i, error in enumerate(errors) if error is None]
    runs = [runs[i] for i in kept]
    rules = [rules[i] for i in kept]
    n = events.count
    seconds, ours = _kestrel_event_rules([c for _, _, c in rules], events, schema, repeats)
    eql_seconds = eql_engine.best_seconds(runs, eql_events, repeats=min(repeats, 3))
    result = CaseResult(
        name,
        kind,
        n,
        rules=len(rules),
        kestrel_ns_per_event=seconds / n * 1e9,
        eql_ns_per_event=eql_seconds / n * 1e9,
        kestrel_matches=sum(map(len, ours)),
        eql_matches=sum(len(r.found) for r in runs),
    )
    for (rule, query, _), found, run_ in zip(rules, ours, runs):
        result.matched_rules += bool(found or run_.found)
        if found != run_.found:
            # Predicates are chosen to mean the same to both: any difference is a failure.
            reason = divergence(query, list_fields) if kind == "corpus" else None
            if reason is None:
                result.differing.append(rule)
            else:
                result.explained.append((rule, reason))
    result.agrees = not result.differing
    failed = len(errors) - len(kept)
    if failed:
        result.note = f"{failed} rules eql could not run on these events left out"
    return result


def run(plan_: Plan, events: Events, schema: kestrel.Schema, *, repeats: int = 5) -> list[CaseResult]:
    """Every planned case. `events` must have been loaded with `dicts=True`."""
    assert events.dicts is not None, "the comparison needs the events as dicts too"
    eql_events, index = eql_engine.prepare(events.dicts)
    lists = frozenset(eql_engine.list_fields(events.dicts))
    results = []
    for name, query, compiled, note in plan_.predicates:
        result = _compare_event_case(
            name, "predicate", [(name, query, compiled)], events, schema, eql_events, index, repeats, lists, plan_.parsed
        )
        result.note = note
        results.append(result)
    if plan_.sequence is not None:
        query, compiled = plan_.sequence
        runs = [eql_engine.QueryRun(eql_engine.parse(query), index)]
        eql_engine.matches(runs, eql_events)
        eql_seconds = eql_engine.best_seconds(runs, eql_events, repeats=min(repeats, 3))
        result = CaseResult(
            "sequence_3_steps_by_entity_5m",
            "sequence",
            events.count,
            eql_ns_per_event=eql_seconds / events.count * 1e9,
            eql_matches=len(runs[0].found),
        )
        seconds, found = _kestrel_sequence(compiled, events, schema, repeats)
        result.kestrel_ns_per_event = seconds / events.count * 1e9
        result.kestrel_matches = len(found)
        result.agrees = found == runs[0].found
        results.append(result)
    if plan_.corpus:
        result = _compare_event_case(
            "corpus_event_rules", "corpus", plan_.corpus, events, schema, eql_events, index, repeats, lists, plan_.parsed
        )
        left_out = sum(plan_.corpus_excluded.values())
        result.note = "; ".join(
            filter(
                None,
                [
                    f"{result.rules} event rules of the corpus, timed together; {left_out} left out before the run",
                    result.note,
                    f"{result.matched_rules} rules matched on either side",
                ],
            )
        )
        results.append(result)
    return results


def report(results: list[CaseResult], events: Events, plan_: Plan) -> str:
    rows = []
    for r in results:
        if r.agrees is None:
            agree = "n/a"
        else:
            agree = "yes" if r.agrees else "NO"
        rows.append(
            [
                r.case,
                r.rules,
                "not available" if r.kestrel_ns_per_event is None else table.ns(r.kestrel_ns_per_event),
                "-" if r.kestrel_ns_per_event is None else table.rate(1e9 / r.kestrel_ns_per_event),
                table.ns(r.eql_ns_per_event),
                table.rate(1e9 / r.eql_ns_per_event) if r.eql_ns_per_event else "-",
                "-" if r.ratio is None else f"{r.ratio:,.0f}x",
                "-" if r.kestrel_matches is None else r.kestrel_matches,
                "-" if r.eql_matches is None else r.eql_matches,
                agree,
            ]
        )
    text = f"Kestrel (Wasm) vs eql {_eql_version()} PythonEngine, same process, {events.description}\n"
    text += table.render(
        ["case", "rules", "kestrel ns/ev", "kestrel ev/s", "eql ns/ev", "eql ev/s", "ratio", "kestrel hits", "eql hits", "agree"],
        rows,
        numeric=[False, True, True, True, True, True, True, True, True, False],
    )
    for r in results:
        if r.note:
            text += f"{r.case}: {r.note}\n"
    for reason, count in sorted(plan_.corpus_excluded.items(), key=lambda kv: -kv[1]):
        text += f"corpus: left out {count} rules: {reason}\n"
    for r in results:
        reasons: dict[str, int] = {}
        for _, reason in r.explained:
            reasons[reason] = reasons.get(reason, 0) + 1
        for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
            text += f"{r.case}: {count} rules differ where the engines' semantics differ, not compared: {reason}\n"
    text += (
        "compared only where the semantics agree: eql ignores case in ==, != and in and in string ordering, "
        "takes ? in patterns literally, and anchors regex at the start only\n"
    )
    for r in results:
        if r.agrees is False:
            which = f" ({', '.join(r.differing[:10])}{' ...' if len(r.differing) > 10 else ''})" if r.kind == "corpus" else ""
            text += f"RESULTS DIFFER: {r.case}: Kestrel {r.kestrel_matches} matches, eql {r.eql_matches}{which}\n"
    return text


def as_json(results: list[CaseResult], events: Events, plan_: Plan) -> dict[str, Any]:
    return {
        "events": events.count,
        "source": events.description,
        "eql_version": _eql_version(),
        "cases": [dict(asdict(r), ratio=r.ratio) for r in results],
        "corpus_excluded": plan_.corpus_excluded,
        "agrees": all(r.agrees is not False for r in results),
    }


def _eql_version() -> str:
    import eql

    return str(getattr(eql, "__version__", "?"))
