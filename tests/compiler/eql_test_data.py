"""Paths and loaders for the compiler tests' data (the corpus and conformance suites)."""

from __future__ import annotations

import json
from pathlib import Path

import tomllib

from support.shared import CONFORMANCE  # noqa: F401  (re-exported for the compiler tests)
from support.shared import CORPUS_DIR as CORPUS

HERE = Path(__file__).parent


def corpus_queries():
    with open(CORPUS / "elastic_eql_rules.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def toml_cases(path: Path, key: str):
    with open(path, "rb") as handle:
        return tomllib.load(handle)[key]
