"""A rule's result pipes (``| head N``, ``| tail N``) and its ``size`` limit, over a stream.

Elasticsearch applies pipes to the whole, sorted result list of a query. The
engine sees its results arrive batch by batch, so each pipe is a stage the
rule's alerts stream through, in the query's order:

* ``head N`` passes the first N alerts that reach it and drops every later
  one. Once a head stage is full, nothing the rule produces can come out any
  more (later stages only see what passes it): the rule is *exhausted* and the
  engine stops evaluating it.
* ``tail N`` holds the N last alerts that reach it, in Elasticsearch order
  (:attr:`Alert.order <kestrel.engine.alerts.Alert.order>`: timestamp, then
  tiebreaker, then arrival), and releases them, in that order, to the stages
  after it at :meth:`PipeState.flush` -- the engine's ``flush()``, at the end
  of the input.

So ``| tail 5 | head 2`` emits, at the end, the first two of the last five
results, and ``| head 3 | tail 1`` the third result. A rule's ``size``
(Elasticsearch's request ``size``: the most results a query returns) is one
more head stage after the query's own pipes.

"First" for a head stage is the order the engine emits results in: within a
batch a rule's results are put in Elasticsearch order, and batches follow each
other in arrival order. A tail stage is exact over the whole stream, since it
waits for the end. With several workers the stages of a rule are shared and
locked: a head never passes more than N alerts in all, whatever the worker.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple


class _Head:
    op = "head"

    def __init__(self, count: int) -> None:
        self.count = count
        self.passed = 0
        self.dropped = 0

    @property
    def full(self) -> bool:
        return self.passed >= self.count

    def feed(self, alerts: List[Any]) -> List[Any]:
        room = self.count - self.passed
        kept = alerts[:room] if room > 0 else []
        self.passed += len(kept)
        self.dropped += len(alerts) - len(kept)
        return kept

    def release(self) -> List[Any]:
        return []

    def stats(self) -> Dict[str, Any]:
        return {"op": "head", "count": self.count, "passed": self.passed, "dropped": self.dropped}


class _Tail:
    op = "tail"

    def __init__(self, count: int) -> None:
        self.count = count
        # A min-heap of the `count` greatest (order, arrival) keys seen: pushing
        # a newer alert pops the oldest, so memory stays at `count` alerts.
        self._held: List[Tuple[Any, int, Any]] = []
        self._arrivals = itertools.count()
        self.dropped = 0

    def feed(self, alerts: List[Any]) -> List[Any]:
        for alert in alerts:
            item = (alert.order, next(self._arrivals), alert)
            if len(self._held) < self.count:
                heapq.heappush(self._held, item)
            else:
                heapq.heappushpop(self._held, item)
                self.dropped += 1
        return []

    def release(self) -> List[Any]:
        held, self._held = sorted(self._held), []
        return [alert for _, _, alert in held]

    def stats(self) -> Dict[str, Any]:
        return {"op": "tail", "count": self.count, "held": len(self._held), "dropped": self.dropped}


class PipeState:
    """The pipe stages of one engine rule, with their counts and buffers.

    Built by :meth:`of`, which returns None for a rule without pipes or
    size, so such rules pay nothing. Thread-safe: workers evaluating the same
    rule on different partitions go through one lock.
    """

    def __init__(self, stages: Sequence[Tuple[str, int]]) -> None:
        self._stages = [_Head(count) if op == "head" else _Tail(count) for op, count in stages]
        self._lock = threading.Lock()
        #: A tail stage compares alerts across batches: they need an :attr:`Alert.order`.
        self.ordered = any(stage.op == "tail" for stage in self._stages)
        self.emitted = 0
        self.exhausted = self._full()

    @classmethod
    def of(cls, pipes: Iterable[Tuple[str, int]], size: Optional[int] = None) -> Optional["PipeState"]:
        """The state for `pipes` ((op, count) pairs, in query order) then
        `size` as a last head stage; None when there is neither."""
        stages = [(op, int(count)) for op, count in pipes]
        for op, _ in stages:
            if op not in ("head", "tail"):
                raise ValueError(f"unknown pipe {op!r} (head and tail are known)")
        if size is not None:
            stages.append(("head", size))
        return cls(stages) if stages else None

    @property
    def stages(self) -> List[Tuple[str, int]]:
        """(op, count) per stage, in order (``size`` is the last head, when set)."""
        return [(stage.op, stage.count) for stage in self._stages]

    def admit(self, alerts: List[Any]) -> List[Any]:
        """Stream a batch's alerts (in Elasticsearch order) through the stages;
        returns those that come out now."""
        with self._lock:
            out = self._run(0, alerts)
            self.emitted += len(out)
            self.exhausted = self._full()
            return out

    def flush(self) -> List[Any]:
        """End of input: each tail stage, in order, releases what it holds to
        the stages after it; returns what comes out of the last one."""
        with self._lock:
            out: List[Any] = []
            for position, stage in enumerate(self._stages):
                released = stage.release()
                if released:
                    out += self._run(position + 1, released)
            self.emitted += len(out)
            self.exhausted = self._full()
            return out

    def stats(self) -> Dict[str, Any]:
        """Per stage its count and what it passed, holds and dropped; the
        alerts emitted in all; whether a full head ended the rule's output."""
        with self._lock:
            return {
                "stages": [stage.stats() for stage in self._stages],
                "emitted": self.emitted,
                "exhausted": self.exhausted,
            }

    def _run(self, start: int, alerts: List[Any]) -> List[Any]:
        for stage in self._stages[start:]:
            if not alerts:
                return []
            alerts = stage.feed(alerts)
        return alerts

    def _full(self) -> bool:
        # A full head drops everything that reaches it, and whatever the rule
        # produces from now on would have to pass it.
        return any(isinstance(stage, _Head) and stage.full for stage in self._stages)
