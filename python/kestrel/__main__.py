"""`python -m kestrel` runs the command line."""

import sys

from kestrel.cli import main

sys.exit(main())
