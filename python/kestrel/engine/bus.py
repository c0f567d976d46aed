"""The event bus: partitioned worker threads with bounded queues.

A batch is split by entity key (``host.id`` by default) so each entity's
events always reach the same worker, in order: sequence state stays local to
a partition. Each worker owns a bounded queue. When a queue is full the
producer blocks (backpressure, the default) or, with ``overflow="drop"``, the
sub-batch is dropped and its events counted. The Rust evaluation calls
release the GIL, so workers run rules in parallel.

With ``workers=0`` there are no threads: batches are handled in the caller's
thread, which is the cheapest choice for one core.
"""

from __future__ import annotations

import queue
import threading
import zlib
from typing import Any, Callable, Dict, List, Optional

_STOP = object()


class EventBus:
    def __init__(
        self,
        handler: Callable[[Any, int], None],
        split: Callable[[Any, int], List[Any]],
        *,
        workers: int = 0,
        queue_size: int = 4,
        overflow: str = "block",
        on_error: Optional[Callable[[BaseException], None]] = None,
    ) -> None:
        self.handler = handler
        self.split = split
        self.workers = workers
        self.overflow = overflow
        self.on_error = on_error
        self.dropped = 0
        self._lock = threading.Lock()
        self._queues: List["queue.Queue[Any]"] = [queue.Queue(maxsize=queue_size) for _ in range(workers)]
        self._threads = [
            threading.Thread(target=self._work, args=(q, n), name=f"kestrel-worker-{n}", daemon=True)
            for n, q in enumerate(self._queues)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, batch: Any) -> None:
        """Hand a batch to the workers (or handle it now, without workers)."""
        if not self._queues:
            self.handler(batch, 0)
            return
        parts = [batch] if len(self._queues) == 1 else self.split(batch, len(self._queues))
        for target, part in zip(self._queues, parts):
            if part is None or len(part) == 0:
                continue
            if self.overflow == "drop":
                try:
                    target.put_nowait(part)
                except queue.Full:
                    with self._lock:
                        self.dropped += len(part)
            else:
                target.put(part)

    def pending(self) -> Dict[int, int]:
        """Worker -> batches waiting in its queue."""
        return {n: q.qsize() for n, q in enumerate(self._queues)}

    def join(self) -> None:
        """Wait until every submitted batch has been handled."""
        for target in self._queues:
            target.join()

    def close(self) -> None:
        for target in self._queues:
            target.put(_STOP)
        for thread in self._threads:
            thread.join()
        self._queues, self._threads = [], []

    def _work(self, source: "queue.Queue[Any]", partition: int) -> None:
        while True:
            item = source.get()
            try:
                if item is _STOP:
                    return
                self.handler(item, partition)
            except BaseException as error:  # a worker must survive a failing batch; the engine records it
                if self.on_error is not None:
                    self.on_error(error)
            finally:
                source.task_done()


def partition(key: Optional[str], partitions: int) -> int:
    """A stable partition for an entity key (events without one go to partition 0)."""
    return 0 if key is None else zlib.crc32(key.encode()) % partitions
