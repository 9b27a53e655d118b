"""make check: fuzz-event for a bounded time (see fuzzrun.py)."""
import sys

from fuzzrun import main

sys.exit(main("event"))
