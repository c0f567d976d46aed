"""Ingest NDJSON files and print what the core made of them.

``python -m kestrel.summary FILE...`` decodes each file into an EventBatch and
reports events, drops with their line numbers, categories, time range and
decode rate. It is the demo job until the engine runs rules.
"""

from __future__ import annotations

import collections
import datetime as dt
import sys
import time
from pathlib import Path

from kestrel import EventBatch, Schema


def _iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc).isoformat(timespec="milliseconds")


def summarize(path: Path, schema: Schema) -> str:
    size = path.stat().st_size
    start = time.perf_counter()
    batch = EventBatch.from_ndjson(path, schema=schema)
    elapsed = time.perf_counter() - start
    cats: collections.Counter[str] = collections.Counter()
    for i in range(len(batch)):
        cats.update(batch.categories(i))
    stamps = [t for t in batch.timestamps() if t is not None]
    lines = [
        f"{path}: {len(batch)} events from {batch.lines_read} lines, {batch.dropped} dropped, {len(batch.errors)} problems",
        f"  decoded {size / 1e6:.2f} MB in {elapsed * 1e3:.1f} ms ({size / elapsed / 1e6:.0f} MB/s)",
    ]
    if stamps:
        lines.append(f"  time range: {_iso(min(stamps))} .. {_iso(max(stamps))}")
    lines.append("  categories: " + ", ".join(f"{c}={n}" for c, n in cats.most_common()))
    hosts = {batch.entity_key(i) for i in range(len(batch))}
    lines.append(f"  entities (host.id): {len(hosts - {None})}")
    for err in batch.errors[:20]:
        lines.append(f"  {err}")
    if len(batch.errors) > 20:
        lines.append(f"  ... and {len(batch.errors) - 20} more")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])]
    if not paths:
        print("usage: python -m kestrel.summary FILE.ndjson...", file=sys.stderr)
        return 2
    schema = Schema.default()
    for p in paths:
        print(summarize(p, schema))
    return 0


if __name__ == "__main__":
    sys.exit(main())
