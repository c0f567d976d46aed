"""Rule sources: each loader in its own module, a directory may mix them.

* :mod:`.package` -- rule packages (``manifest.json`` + ``rule.wasm`` |
  ``rule.wat`` | ``predicate.lua`` | ``rule.eql``);
* :mod:`.eql` -- bare ``.eql`` files (and EQL text or a ``CompiledRule`` given directly);
* :mod:`.toml` -- Elastic detection-rules ``.toml`` files;
* :mod:`.jsonl` -- rule corpora, one JSON object with a ``query`` per line;
* :mod:`.sigma` -- Sigma ``.yml``/``.yaml`` through pySigma (``kestrel[sigma]``).

:func:`load_target` walks a path and returns a :class:`LoadReport`: the rules
that loaded, the failures (file, line, column, reason) and the rules skipped
on purpose (other query languages, no sequence engine, no pySigma).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

from kestrel.engine.sources.common import LoadContext, LoadFailure, LoadReport, RuleSource, Skipped, existing_path, is_eql_text
from kestrel.engine.sources.eql import load_compiled, load_eql_text
from kestrel.engine.sources.package import load_package
from kestrel.engine.sources.rule_files import READERS, discover, load_rule_file
from kestrel.engine.sources.sigma import SIGMA_SUFFIXES, load_sigma_file
from kestrel.packages.manifest import MANIFEST_FILE

LOADERS = {suffix: load_rule_file for suffix in READERS}
LOADERS.update({suffix: load_sigma_file for suffix in SIGMA_SUFFIXES})

__all__ = [
    "LoadContext",
    "LoadFailure",
    "LoadReport",
    "RuleSource",
    "Skipped",
    "discover",
    "existing_path",
    "is_eql_text",
    "load_target",
    "rule_files",
]


def load_target(target: Any, context: LoadContext, rule_id: "str | None" = None) -> LoadReport:
    """Load a file, a directory (recursively), EQL text or a ``kestrel.CompiledRule``."""
    from kestrel.compiler import CompiledRule

    report = LoadReport()
    if isinstance(target, CompiledRule):
        load_compiled(target, context, report, rule_id=rule_id)
        return report
    path = existing_path(target)
    if path is not None and path.is_dir():
        for item in rule_files(path):
            _load_one(item, context, report)
    elif path is not None:
        _load_one(path, context, report)
    elif is_eql_text(target):
        load_eql_text(target, context, report, rule_id=rule_id)
    else:
        report.failures.append(LoadFailure(str(target), None, None, "no such file or directory"))
    return report


def _load_one(path: Path, context: LoadContext, report: LoadReport) -> None:
    if path.is_dir() or path.name == MANIFEST_FILE:
        load_package(path if path.is_dir() else path.parent, context, report)
        return
    loader = LOADERS.get(path.suffix)
    if loader is None:
        report.failures.append(LoadFailure(str(path), None, None, f"not a rule file (known: {', '.join(sorted(LOADERS))})"))
        return
    loader(path, context, report)


def rule_files(root: Path) -> Iterator[Path]:
    """Package directories and loose rule files under `root`, in sorted order.

    A package directory is yielded whole and not searched further, so its
    ``rule.eql`` and its tests are not mistaken for loose rules.
    """
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        here = Path(directory)
        if MANIFEST_FILE in files:
            dirs.clear()
            yield here
            continue
        for name in sorted(files):
            if Path(name).suffix in LOADERS:
                yield here / name
