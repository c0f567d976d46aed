"""The keyed operator: one virtual shard's batches through Kestrel's engine.

Flink keys batches by shard; this function holds, per Python worker, one
engine with the rules (partitions = shards), and keeps each shard's
sequence state in Flink keyed state, written before every call returns. So
a checkpoint (which Flink takes only between bundles) always holds source
offsets, in-flight windows and shard state that agree, and a restore, a
rescale or a move of the shard to another worker loses nothing.

A shard's windows can reach this operator out of order: the planner may
spread one key's windows over several upstream paths (the cross-entity
window runs on one task and fans out). So a window is held in keyed state
until the watermark passes its end, when every path has delivered it and
all earlier ones, and windows are then evaluated in window order.

The shard ``CROSS_ENTITY`` is the one place that sees every event; it runs
only the sequences not joined on the entity, on an engine of its own.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterator, List, Optional, Tuple

from pyflink.common import Types
from pyflink.datastream import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import MapStateDescriptor, ValueStateDescriptor

from kestrel.engine import Engine

#: The key of the batches that carry every event, for cross-entity sequences.
CROSS_ENTITY = -1
#: Fires once the input ends (a bounded source's final watermark): every
#: shard settles its sequences then.
END_OF_INPUT_MS = (1 << 63) - 2
_TOKEN = 16
_MAX_MS = ((1 << 63) - 1) // 1_000_000


class ShardFunction(KeyedProcessFunction):
    """Input rows are ``(shard, lines, late, last_ms)``: NDJSON events of one
    shard (or of all, for ``CROSS_ENTITY``), and the last millisecond of
    their window (0 for a late record). Output: one string per call that
    raised alerts, their JSON lines joined by newlines."""

    def __init__(self, rules: str, shards: int, options: Optional[Dict[str, Any]] = None) -> None:
        self.rules = rules
        self.shards = shards
        self.options = dict(options or {})

    def open(self, runtime_context: RuntimeContext) -> None:
        self.state = runtime_context.get_state(ValueStateDescriptor("kestrel.partition", Types.PICKLED_BYTE_ARRAY()))
        self.windows = runtime_context.get_map_state(MapStateDescriptor("kestrel.windows", Types.LONG(), Types.STRING()))
        metrics = runtime_context.get_metrics_group()
        self.late = metrics.counter("kestrel_late_events")
        self.alerts = metrics.counter("kestrel_alerts")
        self.batches = metrics.counter("kestrel_batches")
        self.keyed = self._engine(self.shards)
        self._cross: Optional[Engine] = None
        #: Per shard: the token of the state this process's engine holds, and
        #: the shard's state before it saw anything.
        self.held: Dict[int, bytes] = {}
        self.fresh: Dict[int, bytes] = {}

    def _engine(self, workers: int) -> Engine:
        engine = Engine(workers=workers, **self.options)
        for target in self.rules.split(os.pathsep):
            engine.load(target)
        if not engine.load_report.ok:
            failure = engine.load_report.failures[0]
            raise RuntimeError(f"{failure.location}: {failure.reason}")
        return engine

    @property
    def cross(self) -> Engine:
        """The engine of the cross-entity key, made when that key first has work."""
        if self._cross is None:
            self._cross = self._engine(0)
        return self._cross

    def close(self) -> None:
        for engine in (getattr(self, "keyed", None), getattr(self, "_cross", None)):
            if engine is not None:
                engine.close()

    def process_element(self, value: Any, ctx: "KeyedProcessFunction.Context") -> Iterator[str]:
        shard, lines, late, last_ms = value[0], value[1], value[2], value[3]
        if not late:
            # A timer at the window's last millisecond fires once the
            # watermark has passed it on every input. Rows of one window
            # are joined, should the planner ever split a window's rows.
            held = self.windows.get(last_ms)
            self.windows.put(last_ms, lines if held is None else held + "\n" + lines)
            ctx.timer_service().register_event_time_timer(last_ms)
            return
        if shard != CROSS_ENTITY:  # a late record also goes to the cross-entity key: count it once
            self.late.inc(lines.count("\n") + 1)
        engine, p = self._synced(shard)
        yield from self._finish(shard, engine, p, ctx, [self._evaluate(shard, engine, p, lines)])

    def on_timer(self, timestamp: int, ctx: "KeyedProcessFunction.OnTimerContext") -> Iterator[str]:
        shard = ctx.get_current_key()
        engine, p = self._synced(shard)
        # The timer firing is itself proof that event time reached its
        # timestamp, whatever watermark the context reports.
        watermark = max(ctx.timer_service().current_watermark(), timestamp)
        ready = sorted(last for last in self.windows.keys() if last <= watermark)
        blocks = []
        for last in ready:
            blocks.append(self._evaluate(shard, engine, p, self.windows.get(last)))
            self.windows.remove(last)
        if timestamp >= END_OF_INPUT_MS:
            blocks.append(engine.flush_partition(p, block=True))
        else:
            blocks.append(engine.advance(p, min(watermark, _MAX_MS) * 1_000_000, block=True))
        yield from self._finish(shard, engine, p, ctx, blocks)

    def _evaluate(self, shard: int, engine: Engine, p: int, lines: str) -> Any:
        """One batch of the shard through the engine: one native call."""
        self.batches.inc()
        if shard == CROSS_ENTITY:
            return engine.process_cross_entity(lines.encode(), block=True)
        return engine.process_partition(p, lines.encode(), block=True)

    def _synced(self, shard: int) -> Tuple[Engine, int]:
        """The engine and partition for `shard`, holding the state Flink has
        for it (restored when this process's copy is not that one)."""
        engine, p = (self.cross, 0) if shard == CROSS_ENTITY else (self.keyed, shard)
        if shard not in self.fresh:
            self.fresh[shard] = engine.snapshot_partition(p)
        stored = self.state.value()
        token = stored[:_TOKEN] if stored else None
        if token != self.held.get(shard):
            engine.restore_partition(p, stored[_TOKEN:] if stored else self.fresh[shard])
            self.held[shard] = token  # type: ignore[assignment]
        return engine, p

    def _finish(self, shard: int, engine: Engine, p: int, ctx: Any, blocks: List[Any]) -> Iterator[str]:
        token = os.urandom(_TOKEN)
        self.state.update(token + engine.snapshot_partition(p))
        self.held[shard] = token
        timers = ctx.timer_service()
        watermark = timers.current_watermark()
        if watermark < END_OF_INPUT_MS:  # once the input has ended, nothing waits on time
            deadline = engine.next_deadline(p)
            if deadline is not None:
                # A deadline the watermark has passed fires at once, not never.
                timers.register_event_time_timer(max(-(-deadline // 1_000_000), watermark + 1))
            timers.register_event_time_timer(END_OF_INPUT_MS)
        for block in blocks:
            if block.count:
                self.alerts.inc(block.count)
                yield block.data.decode()[:-1]
