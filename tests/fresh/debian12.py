"""Debian 12: scripts/serve, the package and its purge, each in a root
with nothing but git (see fresh.py)."""

import fresh

fresh.main("12")
