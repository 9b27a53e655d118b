"""make check: fuzz-request for a bounded time (see fuzzrun.py)."""
import sys

from fuzzrun import main

sys.exit(main("request"))
