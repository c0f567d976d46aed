"""EQL rule files read into :class:`RuleSource` records: the one reader of each format.

``.eql`` files, Elastic detection-rules ``.toml`` files and ``.jsonl``
corpora are each parsed here and nowhere else. The engine's loaders turn
the records into rules (:func:`load_rule_file`); ``kestrel check`` and
``kestrel bench`` compile the same records (:func:`discover`), so what one
verb reads, every verb reads alike.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator

from kestrel.engine.sources import eql, jsonl, toml
from kestrel.engine.sources.common import LoadContext, LoadReport, RuleSource, Skipped, rule_from_query
from kestrel.errors import RuleFileError
from kestrel.files import read_text


def read_rules(path: Path) -> Iterator[RuleSource]:
    """The rules of one file; a file that cannot be read is one `problem` record."""
    try:
        text = read_text(path)
    except RuleFileError as error:
        yield RuleSource(str(path), "", problem=f"cannot read: {error.reason}", file=str(path))
        return
    yield from READERS[path.suffix](path, text)


def load_rule_file(path: Path, context: LoadContext, report: LoadReport) -> None:
    """Load every rule of an ``.eql``, ``.toml`` or ``.jsonl`` file into `report`."""
    for source in read_rules(path):
        if source.problem is not None:
            report.failures.append(source.failure())
        elif source.skipped is not None:
            report.skipped.append(Skipped(source.location, source.skipped))
        else:
            rule_from_query(
                context,
                report,
                rule_id=source.rule_id,
                name=source.name or source.rule_id,
                query=source.query,
                location=source.location,
                first_line=source.first_line,
                metadata=source.metadata,
                version=source.version,
                source=source.kind,
                limits=source.limits,
            )


def discover(paths: Iterable[str]) -> Iterator[RuleSource]:
    """The rules in `paths`; directories are walked in sorted order."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    if Path(name).suffix in READERS:
                        yield from read_rules(Path(root) / name)
        elif path.exists():
            yield from read_rules(path)
        else:
            yield RuleSource(str(path), "", problem="no such file or directory", file=str(path))


#: suffix -> the reader of that format.
READERS: Dict[str, Callable[[Path, str], Iterator[RuleSource]]] = {".eql": eql.read, ".toml": toml.read, ".jsonl": jsonl.read}
