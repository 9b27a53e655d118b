#!/bin/sh
# Generates configure and the Makefile templates from the sources in git.
set -e
cd "$(dirname "$0")"
autoreconf --install --force
