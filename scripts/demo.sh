#!/usr/bin/env bash
# Command 1 of the README: set everything up and run the main job on the
# bundled examples: every bundled rule over examples/events.ndjson, alerts
# written to demo-alerts.ndjson, the summary printed.
source "$(dirname "$0")/setup.sh"
"$VPY" -m kestrel.summary examples/events.ndjson
rm -f demo-alerts.ndjson  # the file sink appends
"$VPY" -m kestrel run --rules rules/ --events examples/events.ndjson --alerts demo-alerts.ndjson
echo "alerts written to demo-alerts.ndjson; the first one:"
head -n 1 demo-alerts.ndjson
