"""Kestrel on Apache Flink: the engine as a keyed operator, partitioned by
entity into virtual shards, with each shard's state in Flink's checkpointed
keyed state; NDJSON events from Kafka or files, alerts to Kafka or files.

Needs the ``flink`` extra (``pip install 'kestrel[flink]'``) and, for
Kafka, Flink's Kafka SQL connector jar; see docs/scale-out.md.
"""

from kestrel.flink.job import JobSpec, build

__all__ = ["JobSpec", "build"]
