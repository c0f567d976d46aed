"""The event bus: a worker thread behind a bounded queue.

The engine hands decoded batches to the bus; a worker thread takes them in
order and runs the core's pipeline on each (which splits it by entity over
threads of its own, with the GIL released), while the caller reads and
decodes the next. When the queue is full the producer blocks (backpressure,
the default) or, with ``overflow="drop"``, the batch is dropped and its
events counted.

With ``workers=0`` there are no threads: batches are handled in the caller's
thread, which is the cheapest choice for one core.
"""

from __future__ import annotations

import queue
import threading
import weakref
from typing import Any, Callable, Optional

_STOP = object()


class EventBus:
    """Batches to `handler`: now (`threaded=False`) or in order on a worker
    thread behind a queue of `queue_size` batches."""

    def __init__(
        self,
        handler: Callable[[Any], None],
        *,
        threaded: bool = False,
        queue_size: int = 4,
        overflow: str = "block",
        on_error: Optional[Callable[[BaseException], None]] = None,
    ) -> None:
        self.handler = handler
        self.overflow = overflow
        self.on_error = on_error
        self.dropped = 0
        self._lock = threading.Lock()
        self._queue: Optional["queue.Queue[Any]"] = queue.Queue(maxsize=queue_size) if threaded else None
        self._thread: Optional[threading.Thread] = None
        if self._queue is not None:
            # The thread holds the bus only weakly, so an engine nobody closed
            # can still be collected; collecting it stops the thread.
            self._thread = threading.Thread(
                target=_work, args=(self._queue, weakref.ref(self)), name="kestrel-worker", daemon=True
            )
            self._thread.start()
            weakref.finalize(self, self._queue.put, _STOP)

    def submit(self, batch: Any) -> None:
        """Hand a batch to the worker (or handle it now, without one)."""
        if self._queue is None:
            self.handler(batch)
            return
        if len(batch) == 0:
            return
        if self.overflow == "drop":
            try:
                self._queue.put_nowait(batch)
            except queue.Full:
                with self._lock:
                    self.dropped += len(batch)
        else:
            self._queue.put(batch)

    def pending(self) -> int:
        """Batches waiting in the queue."""
        return 0 if self._queue is None else self._queue.qsize()

    def join(self) -> None:
        """Wait until every submitted batch has been handled."""
        if self._queue is not None:
            self._queue.join()

    def close(self) -> None:
        if self._queue is not None and self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
        self._queue, self._thread = None, None


def _work(source: "queue.Queue[Any]", bus_ref: "weakref.ref[EventBus]") -> None:
    while True:
        item = source.get()
        try:
            if item is _STOP:
                return
            bus = bus_ref()
            if bus is None:
                return
            try:
                bus.handler(item)
            except BaseException as error:  # the worker must survive a failing batch; the engine records it
                if bus.on_error is not None:
                    bus.on_error(error)
            finally:
                del bus
        finally:
            source.task_done()
