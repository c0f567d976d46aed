"""A rule's result pipes (``| head N``, ``| tail N``) and its ``size`` limit.

Elasticsearch applies pipes to the whole, sorted result list of a query.
The engine sees results arrive batch by batch, so each pipe is a stage the
rule's alerts stream through, in query order; the core's pipeline keeps the
stages' state (``rust/kestrel-engine/src/pipes.rs``):

* ``head N`` passes the first N alerts that reach it and drops every later
  one. Once a head is full nothing the rule produces can come out any more:
  the rule is *exhausted* and no longer evaluated.
* ``tail N`` holds the N last alerts that reach it, in Elasticsearch order
  (timestamp, then tiebreaker, then arrival), and releases them, in that
  order, to the stages after it at the engine's ``flush()``.

So ``| tail 5 | head 2`` emits, at the end, the first two of the last five
results, and ``| head 3 | tail 1`` the third result. A rule's ``size``
(Elasticsearch's request ``size``: the most results a query returns) is one
more head stage after the query's own pipes.

"First" for a head stage is the order the engine emits results in: within
a batch a rule's results in Elasticsearch order, batches in arrival order.
A tail stage is exact over the whole stream, since it waits for the end.
With several workers a rule's results of a batch are merged before its
stages: a head never passes more than N alerts in all.
"""

from __future__ import annotations

from typing import Iterable, Optional, Tuple

#: (op, count) per stage, in order.
Stages = Tuple[Tuple[str, int], ...]


def pipe_stages(pipes: Iterable[Tuple[str, int]], size: Optional[int] = None) -> Stages:
    """The stages for `pipes` ((op, count) pairs, in query order) then `size`
    as a last head stage.

    Raises:
        ValueError: a pipe other than ``head`` or ``tail``.
    """
    stages = [(op, int(count)) for op, count in pipes]
    for op, _ in stages:
        if op not in ("head", "tail"):
            raise ValueError(f"unknown pipe {op!r} (head and tail are known)")
    if size is not None:
        stages.append(("head", size))
    return tuple(stages)
