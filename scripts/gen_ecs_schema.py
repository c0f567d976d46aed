"""Generate Kestrel's bundled ECS schema from the ECS field definitions.

Usage: python scripts/gen_ecs_schema.py ../shared/schemas/ecs-9.5.0.json

Writes python/kestrel/data/ecs-9.5.0.json, which the Rust core embeds. The
output maps each dotted path to a Kestrel type name; container types (object,
nested, flattened) and geo_point carry no scalar and are left out, so values
under them are auto-assigned at ingest like any unknown field.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ES_TO_KESTREL = {
    "keyword": "string",
    "wildcard": "string",
    "constant_keyword": "string",
    "match_only_text": "string",
    "text": "string",
    "long": "i64",
    "integer": "i64",
    "short": "i64",
    "byte": "i64",
    "unsigned_long": "u64",
    "float": "f64",
    "double": "f64",
    "half_float": "f64",
    "scaled_float": "f64",
    "boolean": "bool",
    "ip": "ip",
    "binary": "bytes",
    "date": "timestamp",
}
SKIPPED = {"object", "nested", "flattened", "geo_point"}


def convert(source: dict) -> dict:
    fields = {}
    for path, spec in sorted(source["fields"].items()):
        es_type = spec["type"]
        if es_type in SKIPPED:
            continue
        kind = ES_TO_KESTREL[es_type]  # an unmapped type is a generator bug: fail loudly
        fields[path] = f"array<{kind}>" if spec.get("array") else kind
    return {"name": "ecs", "version": source["ecs_version"], "fields": fields}


def main() -> None:
    src = Path(sys.argv[1])
    out = (
        Path(__file__).resolve().parent.parent / "python/kestrel/data" / f"ecs-{json.loads(src.read_text())['ecs_version']}.json"
    )
    schema = convert(json.loads(src.read_text()))
    out.write_text(json.dumps(schema, indent=0, sort_keys=True) + "\n")
    print(f"wrote {out} with {len(schema['fields'])} fields")


if __name__ == "__main__":
    main()
