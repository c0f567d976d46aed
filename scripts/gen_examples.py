"""Regenerate examples/events.ndjson, the bundled demo events (fixed seed).

5,000 events: the random background of kestrel.synth (process, file,
network, registry, dns) with the attack scenarios of kestrel.synth_scenarios
spread through it, so every bundled event rule fires.
"""

from pathlib import Path

from kestrel.synth import EventGenerator, ndjson
from kestrel.synth_scenarios import scenario_events

OUT = Path(__file__).resolve().parent.parent / "examples" / "events.ndjson"
TOTAL = 5000

if __name__ == "__main__":
    attacks = scenario_events()
    events = list(EventGenerator(seed=2026, hosts=12, entities=300).events(TOTAL - len(attacks)))
    spacing = len(events) // (len(attacks) + 1)
    for n, attack in enumerate(attacks, start=1):
        position = n * spacing + n - 1
        # The attack takes the timestamp of the event it follows, so the stream stays in time order.
        attack["@timestamp"] = events[position - 1]["@timestamp"]
        events.insert(position, {"@timestamp": attack.pop("@timestamp"), **attack})
    OUT.write_bytes(ndjson(iter(events)))
    print(f"wrote {OUT}: {len(events)} events, {len(attacks)} of them attack scenarios")
