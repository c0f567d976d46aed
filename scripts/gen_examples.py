"""Regenerate examples/events.ndjson, the bundled demo events (fixed seed)."""

from pathlib import Path

from kestrel.synth import EventGenerator, ndjson

OUT = Path(__file__).resolve().parent.parent / "examples" / "events.ndjson"

if __name__ == "__main__":
    OUT.write_bytes(ndjson(EventGenerator(seed=2026, hosts=12, entities=300).events(5000)))
    print(f"wrote {OUT}")
