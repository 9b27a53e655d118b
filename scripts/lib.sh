# scripts/lib.sh: what scripts/serve and scripts/check share.  Sourced, not run.

# Debian 12 packages: to build, to serve behind lighttpd, to run the tests
# (every web server hookline is proven behind, Redis for the redis plugin,
# clang's libFuzzer for the fuzz targets, mandoc to lint the man pages).
BUILD_DEPS="autoconf automake libtool make gcc libc6-dev pkg-config libfcgi-dev libcjson-dev libssl-dev libhiredis-dev"
SERVE_DEPS="lighttpd curl"
TEST_DEPS="python3 valgrind wrk logrotate systemd cppcheck e2fsprogs apache2 apache2-suexec-pristine acl libapache2-mod-fcgid nginx spawn-fcgi redis-server clang libclang-rt-14-dev mandoc"

# Installs the named packages that are not installed yet.  A web server
# package installed here is not started by its maintainer scripts: hookline
# runs its own instance on 127.0.0.1, and a fresh machine should not start
# answering on port 80 of every interface because of this script.
need_packages() {
	missing=
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "installing:$missing"
	if [ "$(id -u)" != 0 ]; then
		echo "error: run as root, or install these Debian packages first:$missing" >&2
		exit 1
	fi
	policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		policy=1
	fi
	rc=0
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends $missing; } >/tmp/hookline-apt.log 2>&1 || rc=$?
	[ -n "$policy" ] && rm -f /usr/sbin/policy-rc.d
	if [ "$rc" != 0 ]; then
		tail -20 /tmp/hookline-apt.log >&2
		echo "error: apt-get install$missing failed" >&2
		exit 1
	fi
}

# Generates configure when it is missing or older than its sources.
ensure_configure() {
	if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
		./autogen.sh >/dev/null 2>&1 || { ./autogen.sh; exit 1; }
	fi
}
