"""`kestrel.Engine`: load rules, feed events, get alerts.

    engine = kestrel.Engine(dedup_window="1m", sinks=["alerts.ndjson"])
    report = engine.load("rules/")            # failures: file, line, column, reason
    alerts = engine.process(events)           # dicts, NDJSON bytes or an EventBatch
    engine.process_file("events.ndjson.gz")   # streamed in bounded batches; alerts go to the sinks
    engine.flush()                            # end of input: pending sequences, `| tail` results
    engine.stats()

Python handles batches, never single events or alerts: a batch is decoded
by the core and handed to the core's pipeline (``kestrel._core.Pipeline``,
``rust/kestrel-engine``) in one call, with the GIL released. The pipeline
selects the rules by the batch's categories and the rule index, splits the
batch by entity over ``workers`` threads, evaluates, orders, pipes and
deduplicates the results, and returns the alerts as JSON lines for the
sinks. Lua rules run in the shell, once per batch each, and their matches
go in with that call.

A rule's results come in Elasticsearch order within each batch: event
rules' by timestamp, then the tiebreaker field, then arrival; sequences and
samples by their first event. Batches follow each other in arrival order, so
a stream fed in time order gives its results in Elasticsearch order. The
query's ``| head`` / ``| tail`` pipes and its ``size`` apply to that
stream, per rule (:mod:`kestrel.engine.pipes`), before deduplication.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, Callable, Deque, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from kestrel._core import EventBatch, NdjsonFile, Pipeline, Schema
from kestrel.compiler import CompiledRule
from kestrel.engine.alerts import AlertBlock
from kestrel.engine.bus import EventBus
from kestrel.engine.config import EngineConfig
from kestrel.engine.reader import Chunk, chunks, is_plain_file, open_events
from kestrel.engine.rule import EngineRule, LuaEvaluator
from kestrel.engine.sinks import Sink, as_sink
from kestrel.engine.sources import LoadContext, LoadFailure, LoadReport, existing_path, is_eql_text, load_target
from kestrel.engine.sources.common import limit_problem
from kestrel.engine.watch import RuleWatcher
from kestrel.errors import EngineError, EventInputError, KestrelError, RuleLoadError, SinkError

#: Input problems kept verbatim for reports (all are counted).
MAX_PROBLEMS = 1000
#: What the per-partition calls return: dicts, or the block of JSON lines.
Alerts = Union[List[Dict[str, Any]], AlertBlock]


@dataclasses.dataclass
class ReloadResult:
    """What a reload did. When `ok` is false the previous rule set is still running."""

    ok: bool
    added: List[str]
    removed: List[str]
    changed: List[str]
    unchanged: List[str]
    report: LoadReport

    @property
    def failures(self) -> List[LoadFailure]:
        return self.report.failures

    @classmethod
    def failed(cls, location: str, reason: str) -> "ReloadResult":
        """A reload that failed before it could report per rule: one failure, nothing swapped."""
        return cls(False, [], [], [], [], LoadReport(failures=[LoadFailure(location, None, None, reason)]))


class Engine:
    """The detection engine. Options are those of :class:`EngineConfig`.

    Args:
        config: an :class:`EngineConfig`; keyword options override its fields.
        sinks: where alerts go: :class:`~kestrel.engine.sinks.Sink` objects,
            callables (called per alert), text streams, or paths (JSON lines;
            ``.bulk`` files get Elasticsearch bulk format).
    """

    def __init__(self, config: Optional[EngineConfig] = None, *, sinks: Iterable[Any] = (), **options: Any) -> None:
        if config is not None and options:
            config = EngineConfig(**{**{f.name: getattr(config, f.name) for f in dataclasses.fields(config)}, **options})
        self.config = config or EngineConfig(**options)
        self.schema = _schema(self.config.schema, self.config.mapping)
        self._sinks: List[Sink] = [as_sink(s) for s in sinks]
        #: (target, rule id, limits) of each load: what a reload loads again.
        self._specs: List[Tuple[Any, Optional[str], Dict[str, int]]] = []
        self._rules: List[EngineRule] = []
        c = self.config
        self._pipeline = Pipeline(
            self.schema,
            partitions=max(c.workers, 1),
            dedup_window_ms=c.dedup_window,
            tiebreaker_field=c.tiebreaker_field,
            entity_field=c.entity_field,
            indexing=c.indexing,
        )
        # Held while a batch runs and while the rule set changes: the Lua
        # rules of a batch are looked up by their place in the set.
        self._rules_lock = threading.RLock()
        self._report = LoadReport()
        self._lock = threading.Lock()  # counters and the alert collector
        self._sink_lock = threading.Lock()
        self._collector: Optional[List[AlertBlock]] = None
        self._seq = 0
        self.problems: List[str] = []
        self._counts = dict.fromkeys(("received", "processed", "malformed", "input_errors", "alerts", "batches"), 0)
        #: Nanoseconds spent reading and decoding input, and in Lua rules.
        self._time_ns = dict.fromkeys(("decode", "lua"), 0)
        self.reloads = 0
        self.last_reload: Optional[ReloadResult] = None
        self._watchers: List[RuleWatcher] = []
        self._worker_errors: List[str] = []
        #: Per sink (by identity): alerts delivered and failed, and its last error.
        self._deliveries: Dict[int, Dict[str, Any]] = {}
        #: Set when a sink failed for good: no more batches are evaluated in this call.
        self._halted: Optional[SinkError] = None
        self._sink_pool: Optional[ThreadPoolExecutor] = None
        # With workers, one thread feeds the pipeline (which runs `workers`
        # threads of its own) while the caller reads and decodes the next batch.
        self._bus = EventBus(
            self._handle,
            threaded=c.workers > 0,
            queue_size=c.queue_size,
            overflow=c.overflow,
            on_error=self._worker_failed,
        )
        # With workers, alerts are written on a thread of their own, in
        # order, while the bus evaluates the next batch: a write (a kernel
        # copy of megabytes) would otherwise leave the pipeline's threads
        # idle. One block waits at most, so a failing sink stops the input
        # as soon as before, give or take a batch.
        self._writes = EventBus(self._write, threaded=c.workers > 0, queue_size=1, on_error=self._worker_failed)

    @classmethod
    def from_config(cls, path: "str | os.PathLike[str]", **options: Any) -> "Engine":
        """An engine configured by a TOML/YAML file, with the rules it lists loaded."""
        config = EngineConfig.load(path)
        engine = cls(config, **options)
        for target in config.rules:
            engine.load(target)
        return engine

    # -- rules ---------------------------------------------------------------

    def load(
        self,
        target: Any,
        *,
        strict: bool = False,
        rule_id: Optional[str] = None,
        size: Optional[int] = None,
        max_samples_per_key: Optional[int] = None,
    ) -> LoadReport:
        """Load rules from a file, a directory (any mix of sources), EQL text
        or a :class:`kestrel.CompiledRule`.

        Failures are reported in the returned :class:`LoadReport` (file,
        line, column, reason) and the other rules still load; with
        `strict`, any failure raises :class:`kestrel.RuleLoadError` and
        nothing from `target` is loaded.

        A compiled rule is compiled again from its source text against the
        engine's schema, with its own options. Its event fields (category
        field, timestamp field and unit, tiebreaker) must be the engine's:
        if one differs the rule is refused with a :class:`kestrel.RuleLoadError`
        naming each differing option, whatever `strict`, as nothing else
        would load from the call.

        `size` and `max_samples_per_key` are Elasticsearch's limits, for
        every rule `target` holds; they override the same keys in a rule's
        own file (a TOML rule's ``[rule]`` table, a package manifest, a
        ``.jsonl`` record, an ``.eql`` file's ``// size: N`` header line).
        `size` is the most results (alerts) a rule raises: a last
        ``| head size`` after the query's own pipes. `max_samples_per_key`
        is how many samples one join key of a sample rule yields (1 by
        default, as in Elasticsearch); other kinds of rule ignore it here,
        and refuse it in their own file. See :mod:`kestrel.engine.pipes`.
        """
        limits = _load_limits(size=size, max_samples_per_key=max_samples_per_key)
        if rule_id is None and (isinstance(target, CompiledRule) or is_eql_text(target)):
            rule_id = f"rule-{len(self._specs) + 1}"
        report = load_target(target, LoadContext(self.schema, self.config, limits=limits), rule_id)
        _check_ids(report, self._rules)
        if report.failures and (strict or isinstance(target, CompiledRule)):
            raise RuleLoadError(_failure_message(report.failures), report.failures)
        self._specs.append((target, rule_id, limits))
        self._install(self._rules + report.rules)
        self._report.failures += report.failures
        self._report.skipped += report.skipped
        return report

    def rules(self) -> List[Dict[str, Any]]:
        """The loaded rules: id, name, kind, runtime, categories, status, source, location."""
        return [rule.describe() for rule in self._rules]

    @property
    def load_report(self) -> LoadReport:
        """Failures and skipped rules of every load and of the last successful reload."""
        return self._report

    def reload(self, targets: Optional[Iterable[Any]] = None) -> ReloadResult:
        """Rebuild the rule set from its sources (or from `targets`) and swap it in.

        The new set is compiled beside the running one; it replaces it
        between batches only if every rule loads. Rules whose sources did not
        change are carried over as they are, so sequence rules keep their
        pending state. A failed reload keeps the old set and says why.
        """
        specs = self._specs if targets is None else [(t, None, {}) for t in targets]
        previous = {rule.fingerprint: rule for rule in self._rules}
        report = LoadReport()
        for target, rule_id, limits in specs:
            context = LoadContext(self.schema, self.config, reuse=previous, limits=limits)
            report.extend(load_target(target, context, rule_id))
        _check_ids(report, [])
        old_ids = {rule.id: rule for rule in self._rules}
        new_ids = {rule.id: rule for rule in report.rules}
        result = ReloadResult(
            ok=report.ok,
            added=sorted(set(new_ids) - set(old_ids)),
            removed=sorted(set(old_ids) - set(new_ids)),
            changed=sorted(i for i in set(new_ids) & set(old_ids) if new_ids[i] is not old_ids[i]),
            unchanged=sorted(i for i in set(new_ids) & set(old_ids) if new_ids[i] is old_ids[i]),
            report=report,
        )
        self.last_reload = result
        if result.ok:
            self._specs = list(specs)
            self._install(report.rules)
            self._report = LoadReport(failures=[], skipped=report.skipped)
            self.reloads += 1
        return result

    def rule_paths(self) -> List[Path]:
        """The files and directories the rules were loaded from (EQL text aside)."""
        return [path for path in (existing_path(t) for t, _, _ in self._specs) if path is not None]

    def watch(self, interval: float = 2.0, on_reload: Optional[Callable[[ReloadResult], Any]] = None) -> RuleWatcher:
        """Watch the rule paths: reload whenever a file under them changes.

        A background thread polls every `interval` seconds until `close()`.
        Each reload behaves as :meth:`reload` (a broken set keeps the old one
        running) and its result goes to `on_reload`.
        """
        watcher = RuleWatcher(self, interval, on_reload).start()
        self._watchers.append(watcher)
        return watcher

    def set_indexing(self, enabled: bool) -> None:
        """Switch rule indexing on or off (between batches), e.g. to measure its effect."""
        with self._rules_lock:
            self.config.indexing = enabled
            self._pipeline.set_indexing(enabled)

    def _install(self, rules: List[EngineRule]) -> None:
        natives = [rule.native(self.schema) for rule in rules]
        with self._rules_lock:
            self._pipeline.set_rules(natives)
            self._rules = list(rules)

    # -- sinks ---------------------------------------------------------------

    def add_sink(self, target: Any) -> Sink:
        sink = as_sink(target)
        self._sinks.append(sink)
        return sink

    # -- events --------------------------------------------------------------

    def process(self, events: Any) -> List[Dict[str, Any]]:
        """Evaluate events and return their alerts (which also go to the sinks).

        `events` is an :class:`EventBatch`, NDJSON (``bytes``/``str``) or an
        iterable of event dicts, cut into batches of ``batch_size`` events.
        Each rule's alerts of a batch are in Elasticsearch order (see the
        module docstring). A ``| head N`` rule stops alerting after its first
        N results, counted across calls; a ``| tail N`` rule's results wait
        for :meth:`flush`.
        """
        collected: List[AlertBlock] = []
        self._collector = collected
        self._halted = None
        try:
            for batch in self._batches(events):
                self._bus.submit(batch)
                if self._halted is not None:
                    break
            self._settle()
        finally:
            self._collector = None
        self._raise_worker_errors()
        return [doc for block in collected for doc in block.docs()]

    def process_file(self, path: "str | os.PathLike[str]", progress: Optional[Callable[[int, int, int], None]] = None) -> int:
        """Stream an NDJSON file (``.gz``/``.zst`` too; ``-`` is stdin); return the alerts raised.

        Alerts go to the sinks. `progress(bytes_read, events_read,
        alerts_so_far)` is called after each batch.

        Raises:
            EventInputError: the file is missing, a directory, or could not
                be read to its end (a truncated or corrupt ``.gz``/``.zst``
                file). Every event read before the damage has been evaluated
                by then, and its alerts written; the error gives the byte
                offset of the damage.
        """
        source = os.fspath(path)
        before, received = self._counts["alerts"], self._counts["received"]
        self._halted = None
        try:
            for batch, first_line, offset in self._file_batches(source):
                self._account(batch, first_line, numbered=self.config.workers > 0)
                self._bus.submit(batch)
                if self._halted is not None:
                    break  # a sink failed for good: stop reading
                if progress is not None:
                    progress(offset, self._counts["received"] - received, self._counts["alerts"] - before)
        finally:
            self._settle()  # what was read is evaluated, even when the input breaks off
        self._raise_worker_errors()
        return self._counts["alerts"] - before

    def flush(self) -> List[Dict[str, Any]]:
        """End of input: settle pending sequences (trailing missing events,
        expiry) and release what ``| tail`` pipes hold; return those alerts.

        A rule's results then come in Elasticsearch order: its sequences by
        their first event, then what its tail stages held (see
        :mod:`kestrel.engine.pipes`). A ``| head`` count survives a flush: a
        rule that emitted its first N results stays quiet afterwards.
        """
        self._settle()
        with self._rules_lock:
            data, count = self._pipeline.flush()
        block = AlertBlock(data, count)
        self._emit(block)
        return block.docs()

    def snapshot(self) -> bytes:
        """Everything a restarted process needs to go on exactly where this
        one stopped: every partition's sequence state, the deduplication
        window, the ingest counters and each rule's pipe counts.

        The blob is versioned and carries each rule's id and fingerprint;
        :meth:`restore` it into an engine with the same rules and workers.
        Batches already submitted are finished first.
        """
        self._settle()
        with self._lock:
            extra = json.dumps({"counts": self._counts, "seq": self._seq}).encode()
        with self._rules_lock:
            return self._pipeline.snapshot(extra)

    def restore(self, blob: bytes) -> None:
        """Continue from a :meth:`snapshot`.

        Raises:
            SnapshotError: the blob is damaged, or was taken from an engine
                with other rules (ids or fingerprints) or another number of
                workers. Nothing is changed then.
        """
        self._settle()
        with self._rules_lock:
            extra = json.loads(self._pipeline.restore(blob))
        with self._lock:
            self._counts.update(extra["counts"])
            self._seq = extra["seq"]

    # -- one partition at a time, for distributed runners ---------------------
    #
    # A runner that spreads partitions over machines (a stream processor's
    # keyed operator) keeps each partition's sequence state itself, moves
    # event time forward on partitions that receive no events, and ends a
    # partition's input. Partitions are numbered 0 to workers - 1 (one when
    # workers is 0) by Kestrel's partition function of the entity key; see
    # docs/engine.md.

    # Each call returns its alerts (which also go to the sinks) as dicts, or
    # with ``block=True`` as one AlertBlock: the JSON lines as they are, for
    # a runner that passes them on without parsing them.

    def advance(self, partition: int, watermark_ns: int, *, block: bool = False) -> Alerts:
        """Event time in `partition` reached `watermark_ns` (epoch ns): windows
        that closed before it expire and trailing missing steps settle.
        Returns their alerts."""
        return self._partition_call(block, self._pipeline.advance, partition, watermark_ns)

    def process_partition(self, partition: int, events: Any, *, block: bool = False) -> Alerts:
        """Evaluate events that all belong to `partition` (a runner keyed
        them there by entity): the event rules, and the sequences joined on
        the entity with `partition`'s state. Sequences joined on anything
        else need every event; they are :meth:`process_cross_entity`'s work.

        `events` is what :meth:`process` takes. Returns the alerts.
        """
        return self._scoped(block, events, partition=partition)

    def process_cross_entity(self, events: Any, *, block: bool = False) -> Alerts:
        """Evaluate only the sequences not joined on the entity (see
        :meth:`cross_entity_rules`), each in its home partition, over events
        a runner sends to one place whole. Returns the alerts."""
        return self._scoped(block, events, cross_entity=True)

    def cross_entity_rules(self) -> List[str]:
        """Ids of the sequences that are not joined on the entity field: a
        runner that keys events by entity must send them every event."""
        with self._rules_lock:
            return [self._rules[position].id for position in self._pipeline.cross_entity_rules()]

    def _scoped(self, block: bool, events: Any, **scope: Any) -> Alerts:
        self._settle()
        self._halted = None
        blocks = [self._evaluate(batch, **scope) for batch in self._batches(events)]
        alerts = AlertBlock(b"".join(b.data for b in blocks), sum(b.count for b in blocks))
        return alerts if block else alerts.docs()

    def next_deadline(self, partition: int) -> Optional[int]:
        """The earliest event time (epoch ns) at which :meth:`advance` has
        work in `partition`, or None when nothing there waits on time."""
        with self._rules_lock:
            return self._pipeline.next_deadline(partition)

    def flush_partition(self, partition: int, *, block: bool = False) -> Alerts:
        """The end of `partition`'s input: its sequences settle. Returns their
        alerts; ``| tail`` results wait for :meth:`flush`."""
        return self._partition_call(block, self._pipeline.flush_partition, partition)

    def snapshot_partition(self, partition: int) -> bytes:
        """`partition`'s sequence state (its rules' ids and fingerprints, and
        a digest, included): what :meth:`restore_partition` takes."""
        self._settle()
        with self._rules_lock:
            return self._pipeline.snapshot_partition(partition)

    def restore_partition(self, partition: int, blob: bytes) -> None:
        """Replace `partition`'s sequence state with a :meth:`snapshot_partition`.

        Raises:
            SnapshotError: the blob is damaged, of another partition or
                partition count, or from other rules. Nothing changes then.
        """
        self._settle()
        with self._rules_lock:
            self._pipeline.restore_partition(partition, blob)

    def _partition_call(self, block: bool, call: Callable[..., Tuple[bytes, int]], *args: Any) -> Alerts:
        self._settle()
        with self._rules_lock:
            data, count = call(*args)
        alerts = AlertBlock(data, count)
        self._emit(alerts)
        return alerts if block else alerts.docs()

    def close(self) -> None:
        """Stop the rule watchers and the workers, and close the sinks."""
        for watcher in self._watchers:
            watcher.stop()
        self._bus.close()
        self._writes.close()
        if self._sink_pool is not None:
            self._sink_pool.shutdown(wait=False)  # a write that timed out may never return
        for sink in self._sinks:
            sink.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def stats(self) -> Dict[str, Any]:
        """Counters of the engine, its rules and its sequence state."""
        with self._rules_lock:
            rules = {rule.id: rule.counters() for rule in self._rules}
            alerts, deduplicated = self._pipeline.totals()
            timings = self._pipeline.timings()
        evictions: Dict[str, int] = {}
        late = state_bytes = partials = 0
        for counters in rules.values():
            seq = counters.get("state")
            if seq is None:
                continue
            late += seq["late"]
            state_bytes += seq["state_bytes"]
            partials += seq["partials"]
            for reason, count in seq["evictions"].items():
                evictions[reason] = evictions.get(reason, 0) + count
        return {
            **self._counts,
            "dropped": self._bus.dropped,
            "late": late,
            "deduplicated": deduplicated,
            "evictions": evictions,
            "state_bytes": state_bytes,
            "partials": partials,
            "rules_loaded": len(rules),
            "rules_failed": len(self._report.failures),
            "rules_skipped": len(self._report.skipped),
            "reloads": self.reloads,
            "indexing": self.config.indexing,
            "workers": self.config.workers,
            # Where the time went: decoding (in the caller's thread), Lua
            # rules, then the pipeline's stages (summed over its threads).
            "time_ms": {name: round(ns / 1e6, 3) for name, ns in [*self._time_ns.items(), *timings]},
            # Per sink: alerts delivered, failed (after retries), last error.
            "sinks": [
                dict(
                    self._deliveries.get(id(sink)) or {"sink": _sink_name(sink), "delivered": 0, "failed": 0, "last_error": None}
                )
                for sink in self._sinks
            ],
            "rules": rules,
        }

    # -- internals -----------------------------------------------------------

    def _decode_options(self) -> Dict[str, Any]:
        c = self.config
        # Only the fields some rule reads are decoded into columns; the
        # rest stay in each event's original JSON, which alerts carry.
        fields = self._pipeline.fields() if c.project_fields else None
        return {
            "schema": self.schema,
            "timestamp_field": c.timestamp_field,
            "timestamp_unit": c.timestamp_unit,
            "category_field": c.category_field,
            "entity_field": c.entity_field,
            "fields": fields,
            "max_line_bytes": c.max_line_bytes,
            "max_string_bytes": c.max_string_bytes,
        }

    def _file_batches(self, source: str) -> Iterator[Tuple[EventBatch, int, int]]:
        """(batch, first line, bytes read) for each chunk of an events file.

        A plain file is read and split by the core; compressed input and
        stdin go through Python's streams. With workers, chunks are decoded
        on that many threads at once (the core releases the GIL), and handed
        on in input order.
        """
        if self.config.workers > 0:
            yield from self._decoded_in_parallel(source)
            return
        if is_plain_file(source):
            reader = NdjsonFile(source, self.config.batch_size, source=source, **self._decode_options())
            while True:
                started = time.perf_counter_ns()
                found = reader.next_batch(self._seq)
                self._time_ns["decode"] += time.perf_counter_ns() - started
                if found is None:
                    return
                yield found
        for chunk in self._file_chunks(source):
            yield self._from_ndjson(chunk.data, source), chunk.first_line, chunk.offset

    def _file_chunks(self, source: str) -> Iterator[Chunk]:
        """The file's undecoded chunks of ``batch_size`` lines."""
        if is_plain_file(source):
            reader = NdjsonFile(source, self.config.batch_size, source=source, max_line_bytes=self.config.max_line_bytes)
            while (found := reader.next_chunk()) is not None:
                yield Chunk(*found)
            return
        with open_events(source) as stream:
            yield from chunks(stream, self.config.batch_size, self.config.max_line_bytes)

    def _decoded_in_parallel(self, source: str) -> Iterator[Tuple[EventBatch, int, int]]:
        workers = self.config.workers
        if is_plain_file(source):
            # The core reads a plain file and decodes `workers` chunks at a
            # time on its own threads: no chunk becomes a Python object.
            reader = NdjsonFile(source, self.config.batch_size, source=source, **self._decode_options())
            while True:
                started = time.perf_counter_ns()
                found, self._seq = reader.next_batches(self._seq, workers)
                self._time_ns["decode"] += time.perf_counter_ns() - started
                if not found:
                    return
                yield from found
        window: Deque[Tuple["Future[EventBatch]", Chunk]] = deque()
        chunks_read = self._file_chunks(source)
        damage: Optional[KestrelError] = None
        with ThreadPoolExecutor(workers, thread_name_prefix="kestrel-decode") as pool:
            while True:
                try:
                    chunk = next(chunks_read, None)
                except KestrelError as error:  # what was read before the damage is still evaluated
                    damage, chunk = error, None
                if chunk is None:
                    break
                # Ingest numbers are given out in input order, a chunk's
                # lines' worth each, before its decoding starts.
                lines = chunk.data.count(b"\n") + (not chunk.data.endswith(b"\n"))
                first_seq, self._seq = self._seq, self._seq + lines
                window.append((pool.submit(self._from_ndjson, chunk.data, source, first_seq), chunk))
                if len(window) > 2 * workers:
                    future, done = window.popleft()
                    yield future.result(), done.first_line, done.offset
            while window:
                future, done = window.popleft()
                yield future.result(), done.first_line, done.offset
        if damage is not None:
            raise damage

    def _from_ndjson(self, data: bytes, source: str, first_seq: Optional[int] = None) -> EventBatch:
        started = time.perf_counter_ns()
        seq = self._seq if first_seq is None else first_seq
        batch = EventBatch.from_ndjson(data, source=source, first_seq=seq, **self._decode_options())
        elapsed = time.perf_counter_ns() - started
        with self._lock:
            self._time_ns["decode"] += elapsed
        return batch

    def _decode(self, data: bytes, source: str, first_line: int) -> EventBatch:
        batch = self._from_ndjson(data, source)
        self._account(batch, first_line)
        return batch

    def _account(self, batch: EventBatch, first_line: int = 1, numbered: bool = False) -> None:
        if not numbered:  # a batch decoded ahead had its ingest numbers given out already
            self._seq += len(batch) + batch.dropped
        with self._lock:
            self._counts["received"] += len(batch) + batch.dropped
            self._counts["malformed"] += batch.dropped
            self._counts["input_errors"] += len(batch.errors)
            room = MAX_PROBLEMS - len(self.problems)
            # Error lines are relative to the chunk; report them against the input.
            self.problems += [
                f"{e.source}:{e.line + first_line - 1}: {e.kind}: {e.message}" for e in batch.errors[: max(room, 0)]
            ]

    def _batches(self, events: Any) -> Iterable[EventBatch]:
        if isinstance(events, EventBatch):
            self._account(events)
            yield events
        elif isinstance(events, (bytes, str)):
            data = _utf8(events) if isinstance(events, str) else events
            for chunk in chunks(io.BytesIO(data), self.config.batch_size, self.config.max_line_bytes):
                yield self._decode(chunk.data, "<events>", chunk.first_line)
        else:
            events = list(events)
            size = self.config.batch_size
            for start in range(0, len(events), size):
                # A dict the core cannot write as JSON (a lone surrogate, a NaN)
                # is that event's located malformed_json record, not an error.
                part = events[start : start + size]
                batch = EventBatch.from_dicts(part, source="<events>", first_seq=self._seq, **self._decode_options())
                self._account(batch, start + 1)
                yield batch

    def _settle(self) -> None:
        """Wait until every submitted batch is evaluated and its alerts written."""
        self._bus.join()
        self._writes.join()

    def _handle(self, batch: EventBatch) -> None:
        if self._halted is not None:
            return  # read before a sink failed; counted as received, not processed
        self._evaluate(batch, write_later=True)

    def _evaluate(
        self, batch: EventBatch, partition: Optional[int] = None, cross_entity: bool = False, write_later: bool = False
    ) -> AlertBlock:
        with self._rules_lock:  # the rule set this batch runs against, even if a reload is waiting
            # Lua rules are event rules: never part of the cross-entity work.
            positions = [] if cross_entity else self._pipeline.external_rules(batch)
            external = [self._external(position, batch) for position in positions]
            data, count = self._pipeline.process(batch, external, partition=partition, cross_entity=cross_entity)
        with self._lock:
            self._counts["processed"] += len(batch)
            self._counts["batches"] += 1
        block = AlertBlock(data, count)
        self._emit(block, later=write_later)
        return block

    def _external(self, position: int, batch: EventBatch) -> Tuple[int, List[Tuple[int, bytes]], int, int, Optional[str], bool]:
        """A Lua rule's matches of `batch`, as the pipeline takes them."""
        evaluator = self._rules[position].evaluator
        assert isinstance(evaluator, LuaEvaluator)
        started = time.perf_counter_ns()
        try:
            hits, error = evaluator.evaluate(batch), None
        except KestrelError as failure:
            hits, error = [], str(failure)
        elapsed = time.perf_counter_ns() - started
        self._time_ns["lua"] += elapsed
        return position, hits, len(batch), elapsed, error, evaluator.quarantined

    def _emit(self, block: AlertBlock, later: bool = False) -> None:
        """Count alerts and write them to the sinks: now, or (`later`) on
        the writer thread when there are workers."""
        if not block.count:
            return
        with self._lock:
            self._counts["alerts"] += block.count
            if self._collector is not None:
                self._collector.append(block)
        if later:
            self._writes.submit(block)
        else:
            self._write(block)

    def _write(self, block: AlertBlock) -> None:
        """Deliver `block` to every sink; a sink that failed for good stops the input."""
        # Sinks may be slow (or block): never while holding the counters' lock.
        with self._sink_lock:
            failures = [failure for sink in self._sinks if (failure := self._deliver(sink, block)) is not None]
        if failures:
            # The other sinks have the block; input stops here.
            self._halted = failures[0]
            raise failures[0]

    def _sink_writer(self) -> ThreadPoolExecutor:
        """The thread sinks write on when writes have a time limit: the engine
        waits for it with a timeout instead of blocking in a write itself."""
        if self._sink_pool is None:
            self._sink_pool = ThreadPoolExecutor(1, thread_name_prefix="kestrel-sink")
        return self._sink_pool

    def _deliver(self, sink: Sink, block: AlertBlock) -> Optional[SinkError]:
        """Write `block` to `sink`, trying again ``sink_retries`` times; then
        count its alerts as failed and return why."""
        record = self._deliveries.setdefault(
            id(sink), {"sink": _sink_name(sink), "delivered": 0, "failed": 0, "last_error": None}
        )
        retries, timeout = self.config.sink_retries, self.config.sink_timeout
        for attempt in range(retries + 1):
            try:
                if timeout is None:
                    sink.write(block)
                else:
                    self._sink_writer().submit(sink.write, block).result(timeout)
            except FutureTimeout:
                # A write that does not finish (a reader that never reads)
                # is not tried again: its thread is still inside it.
                record["last_error"] = f"the write did not finish within {timeout:g} s"
                break
            except Exception as error:  # any sink, any failure: counted and reported below
                record["last_error"] = f"{type(error).__name__}: {error}"
                if attempt < retries:
                    time.sleep(0.05 * (attempt + 1))
                continue
            record["delivered"] += block.count
            return None
        record["failed"] += block.count
        return SinkError(record["sink"], f"{record['last_error']} (after {attempt + 1} attempt(s))", block.count)

    def _worker_failed(self, error: BaseException) -> None:
        with self._lock:
            self._worker_errors.append(f"{type(error).__name__}: {error}")

    def _raise_worker_errors(self) -> None:
        with self._lock:
            errors, self._worker_errors = self._worker_errors, []
        if self._halted is not None:
            raise self._halted
        if errors:
            raise EngineError("a worker failed: " + "; ".join(errors))


def _sink_name(sink: Sink) -> str:
    """A sink as messages and stats name it: its path when it has one."""
    path = getattr(sink, "path", None)
    return f"{type(sink).__name__}({path})" if path else type(sink).__name__


def _utf8(text: str) -> bytes:
    """`text` as UTF-8; a lone surrogate (text decoded with errors="surrogateescape",
    say) cannot be, and is refused with its line and column."""
    try:
        return text.encode()
    except UnicodeEncodeError as error:
        line = text.count("\n", 0, error.start) + 1
        column = error.start - (text.rfind("\n", 0, error.start) + 1) + 1
        char = f"U+{ord(text[error.start]):04X}"
        raise EventInputError(
            "<events>",
            f"line {line}, column {column}: a lone surrogate ({char}) is not Unicode text; "
            "pass the raw bytes instead, or decode them with errors='replace'",
        ) from None


def _schema(value: Any, mapping: Any = None) -> Schema:
    """The engine's schema: `value` (or ECS), with an index mapping's fields on top."""
    if value is None:
        schema = Schema.default()
    elif isinstance(value, (str, os.PathLike)):
        schema = Schema.load(value)
    else:
        schema = value
    if mapping is not None:
        schema = Schema.from_elasticsearch_mapping(mapping, schema)
    return schema


def _load_limits(**given: Optional[int]) -> Dict[str, int]:
    """The limits given to ``Engine.load`` (those not None), checked."""
    limits = {key: value for key, value in given.items() if value is not None}
    for key, value in limits.items():
        problem = limit_problem(key, value)
        if problem is not None:
            raise EngineError(f"Engine.load: {problem}")
    return limits


def _check_ids(report: LoadReport, existing: List[EngineRule]) -> None:
    """A rule id names one rule: a second rule with a taken id fails to load."""
    seen = {rule.id: rule.location for rule in existing}
    kept = []
    for rule in report.rules:
        if rule.id in seen:
            report.failures.append(
                LoadFailure(rule.location, None, None, f"duplicate rule id {rule.id!r} (already loaded from {seen[rule.id]})")
            )
            continue
        seen[rule.id] = rule.location
        kept.append(rule)
    report.rules = kept


def _failure_message(failures: List[LoadFailure]) -> str:
    lines = [str(f) for f in failures[:10]]
    more = f"\n... and {len(failures) - 10} more" if len(failures) > 10 else ""
    return f"{len(failures)} rule(s) failed to load:\n" + "\n".join(lines) + more
