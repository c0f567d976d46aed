"""Paths and loaders for the compiler tests' data (the corpus and conformance suites)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

SHARED = Path(__file__).resolve().parents[3] / "shared"
if not SHARED.is_dir():  # a checkout elsewhere: fall back to the machine-wide copy
    SHARED = Path("/work/shared")
CORPUS = SHARED / "corpus"
CONFORMANCE = SHARED / "conformance"
HERE = Path(__file__).parent


def corpus_queries():
    with open(CORPUS / "elastic_eql_rules.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def toml_cases(path: Path, key: str):
    with open(path, "rb") as handle:
        return tomllib.load(handle)[key]
