#!/usr/bin/env bash
# Command 1 of the README: set everything up and run the main job on the
# bundled examples.
source "$(dirname "$0")/setup.sh"
"$VPY" -m kestrel.summary examples/events.ndjson
