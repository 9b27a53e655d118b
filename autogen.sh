#!/bin/sh
# Generates configure and the Makefile templates from the sources in git.
set -e
cd "$(dirname "$0")"
mkdir -p m4
autoreconf --install --force
