#!/bin/sh
# Generates configure and the Makefile templates from the sources in git.
set -e
cd "$(dirname "$0")"
# Without pkg-config (its pkg.m4) autoreconf stops with a riddle
# ("possibly undefined macro"), without make configure does: say which
# Debian packages are missing instead.
missing=
for tool in autoreconf:autoconf automake:automake libtoolize:libtool pkg-config:pkg-config make:make; do
	command -v "${tool%%:*}" >/dev/null 2>&1 || missing="$missing ${tool#*:}"
done
if [ -n "$missing" ]; then
	echo "autogen.sh: missing tools; apt-get install$missing" >&2
	exit 1
fi
mkdir -p m4
autoreconf --install --force
